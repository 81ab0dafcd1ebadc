/**
 * The file KEK provider (development only): the party's 32-byte KEK from its hex file, wrapping
 * DEKs in software with XChaCha20-Poly1305. Anyone who reads the file (or the process memory) opens
 * every record; production parties keep the KEK in an HSM ({@link Pkcs11Kek}).
 * Wrapped DEK: `nonce(24) || ciphertext(32) || tag(16)`.
 * @module
 */
import { transcriptHash } from "@custody/core";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "@noble/ciphers/utils.js";
import { readKek } from "./kek.js";
import type { KekProvider, WrappedDek } from "./kek-provider.js";
import { SealError } from "./seal-error.js";

const NONCE_BYTES = 24;
const WRAPPED_BYTES = NONCE_BYTES + 32 + 16;

/** A software KEK held in memory. */
export class FileKek implements KekProvider {
  /** `file:` and the first 8 bytes (hex) of a domain-separated hash of the KEK. */
  readonly id: string;
  readonly #kek: Uint8Array;

  private constructor(kek: Uint8Array) {
    if (kek.length !== 32) throw new SealError("KEK must be 32 bytes");
    this.#kek = Uint8Array.from(kek);
    const fingerprint = transcriptHash("custody/kek-id/file/v1", [this.#kek]).subarray(0, 8);
    this.id = `file:${Buffer.from(fingerprint).toString("hex")}`;
  }

  /** A provider for a KEK already in memory (a copy is kept). Throws SealError unless it is 32 bytes. */
  static fromKey(kek: Uint8Array): FileKek {
    return new FileKek(kek);
  }

  /** A provider for the KEK in `file` (64 hex characters, see `readKek`). */
  static fromFile(file: string): FileKek {
    return new FileKek(readKek(file));
  }

  /** Wraps `dek` under the KEK, bound to `aad`. */
  async wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedDek> {
    const nonce = randomBytes(NONCE_BYTES);
    const ct = xchacha20poly1305(this.#kek, nonce, aad).encrypt(dek);
    const bytes = new Uint8Array(NONCE_BYTES + ct.length);
    bytes.set(nonce);
    bytes.set(ct, NONCE_BYTES);
    return { kek: this.id, bytes };
  }

  /** Unwraps a DEK this KEK wrapped for `aad`. */
  async unwrap(wrapped: WrappedDek, aad: Uint8Array): Promise<Uint8Array> {
    if (wrapped.kek !== this.id)
      throw new SealError(`sealed under KEK ${wrapped.kek}, which this party does not hold`);
    if (wrapped.bytes.length !== WRAPPED_BYTES) throw new SealError("has a malformed wrapped data key");
    return decrypt(
      this.#kek,
      aad,
      wrapped.bytes.subarray(0, NONCE_BYTES),
      wrapped.bytes.subarray(NONCE_BYTES),
    );
  }

  /** Opens a version-1 record body sealed directly under this KEK. */
  openDirect(ad: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    return decrypt(this.#kek, ad, nonce, ciphertext);
  }
}

function decrypt(key: Uint8Array, ad: Uint8Array, nonce: Uint8Array, ct: Uint8Array): Uint8Array {
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(ct);
  } catch {
    throw new SealError("failed authentication");
  }
}
