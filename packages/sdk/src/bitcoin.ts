/**
 * `@custody/sdk/bitcoin`: bitcoinjs-lib PSBT signers (`SignerAsync`) backed by Custody keys.
 * - {@link p2wpkhSigner}: an `ecdsa-secp256k1` key for P2WPKH (and other ECDSA) inputs; it returns
 *   r‖s and bitcoinjs adds the DER encoding and the sighash byte.
 * - {@link taprootSigner}: a `bip340` key for Taproot key-path spends. It signs for the output key
 *   Q = P + H_TapTweak(P‖merkleRoot)·G (BIP86 when no script tree), which is its `publicKey`.
 *   It needs bitcoinjs' ECC library (`initEccLib`) to compute Q, like any Taproot payment does.
 * Every signature the API returns is checked under the expected key before bitcoinjs sees it.
 * @module
 */
import { payments, type SignerAsync } from "bitcoinjs-lib";
import { checkEcdsa, checkSchnorr, hexBytes, secp256k1PublicKey, suitableKey, toHex } from "./checks.js";
import type { CustodyClient } from "./client.js";
import { SignerError } from "./errors.js";

/** Options of the Bitcoin signers. */
export interface BitcoinSignerOptions {
  /** BIP32 non-hardened path of the signing key (default: the root key). */
  path?: string;
  /** How long one signature may take. Default 120 000. */
  timeoutMs?: number;
}

/** Options of {@link taprootSigner}. */
export interface TaprootSignerOptions extends BitcoinSignerOptions {
  /** Root of the output's script tree (hex, 32 bytes); none for BIP86 (key path only). */
  merkleRoot?: string;
}

const pathOf = (o: BitcoinSignerOptions) => (o.path !== undefined ? { path: o.path } : {});

/**
 * A signer of ECDSA inputs (P2WPKH, P2PKH, ...) for the `ecdsa-secp256k1` key `keyId`.
 * @throws SignerError `unsuitable-key`
 */
export async function p2wpkhSigner(
  client: CustodyClient,
  keyId: string,
  o: BitcoinSignerOptions = {},
): Promise<SignerAsync> {
  const key = suitableKey(await client.getKey(keyId), "ecdsa-secp256k1");
  const publicKey = secp256k1PublicKey(key, o.path);
  return {
    publicKey,
    async sign(hash) {
      const digest = hexBytes(toHex(hash), 32, "sighash", "unsupported");
      const sig = await client.signAndWait(
        keyId,
        { message: toHex(digest), ...pathOf(o) },
        { timeoutMs: o.timeoutMs },
      );
      return checkEcdsa(sig, digest, publicKey).compact;
    },
  };
}

/**
 * A signer of Taproot key-path inputs for the `bip340` key `keyId`; its `publicKey` is the x-only
 * output key. @throws SignerError `unsuitable-key`, or `unsupported` without an ECC library
 */
export async function taprootSigner(
  client: CustodyClient,
  keyId: string,
  o: TaprootSignerOptions = {},
): Promise<SignerAsync> {
  const key = suitableKey(await client.getKey(keyId), "bip340");
  const internalPubkey = secp256k1PublicKey(key, o.path).subarray(1);
  const merkleRoot =
    o.merkleRoot === undefined ? undefined : hexBytes(o.merkleRoot, 32, "merkle root", "unsupported");
  let outputKey: Uint8Array | undefined;
  try {
    outputKey = payments.p2tr({ internalPubkey, ...(merkleRoot ? { hash: merkleRoot } : {}) }).pubkey;
  } catch (e) {
    throw new SignerError(
      "unsupported",
      `cannot compute the output key: ${e instanceof Error ? e.message : e}`,
    );
  }
  if (!outputKey) throw new SignerError("unsupported", "cannot compute the output key");
  const expected = outputKey;
  return {
    publicKey: expected,
    async sign() {
      throw new SignerError("unsupported", "a Taproot signer makes BIP340 signatures only");
    },
    async signSchnorr(hash) {
      const message = hexBytes(toHex(hash), 32, "sighash", "unsupported");
      const sig = await client.signAndWait(
        keyId,
        {
          message: toHex(message),
          ...pathOf(o),
          taproot: o.merkleRoot !== undefined ? { merkleRoot: o.merkleRoot } : {},
        },
        { timeoutMs: o.timeoutMs },
      );
      return checkSchnorr(sig, message, expected);
    },
  };
}
