/**
 * The PKCS#11 KEK provider: the KEK is an AES-256 key inside a token (an HSM, or SoftHSM2 for
 * development), generated there, sensitive and never extractable, usable only to encrypt and
 * decrypt. DEKs are wrapped with `CKM_AES_GCM` encryption inside the token, with the record's
 * associated data as GCM's AAD, so the token itself refuses to unwrap a DEK for another slot.
 * (`CKM_AES_KEY_WRAP_PAD` takes no associated data: the binding would have to be rebuilt in
 * software, and the token would unwrap any record's DEK for whoever holds a session.)
 * Wrapped DEK: `iv(12) || ciphertext(32) || tag(16)`, a random 96-bit IV per wrap (GCM's limit
 * for random IVs, 2^32 wraps per key, is far above a party's record count; rotate long before).
 * KEK id: `pkcs11:<key label>`.
 * @module
 */
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import {
  checkKekId,
  KekConfigError,
  type KekProvider,
  KekUnavailableError,
  type WrappedDek,
} from "./kek-provider.js";
import { ckr, Pkcs11Token, type Pkcs11TokenConfig, type TokenContext } from "./pkcs11-token.js";
import { SealError } from "./seal-error.js";

/** A party's PKCS#11 KEK: the token, the PIN, the key's label and the labels of retired KEKs. */
export interface Pkcs11KekConfig extends Pkcs11TokenConfig {
  /** Label of the AES-256 KEK new records are wrapped under. */
  readonly keyLabel: string;
  /** Labels of earlier KEKs in the same token whose records still open (rotation). */
  readonly retiredKeyLabels?: readonly string[];
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const DEK_BYTES = 32;
/** Decrypt failures that mean "not this AAD, key or ciphertext" (SoftHSM2 reports CKR_GENERAL_ERROR). */
const NOT_AUTHENTIC = new Set([
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
  pkcs11js.CKR_GENERAL_ERROR,
  pkcs11js.CKR_FUNCTION_FAILED,
]);

/** The attributes a KEK is generated with (and must have; `CKA_MODIFIABLE` aside). */
const GENERATED: readonly [name: string, type: number, value: boolean][] = [
  ["CKA_TOKEN", pkcs11js.CKA_TOKEN, true],
  ["CKA_PRIVATE", pkcs11js.CKA_PRIVATE, true],
  ["CKA_SENSITIVE", pkcs11js.CKA_SENSITIVE, true],
  ["CKA_EXTRACTABLE", pkcs11js.CKA_EXTRACTABLE, false],
  ["CKA_ENCRYPT", pkcs11js.CKA_ENCRYPT, true],
  ["CKA_DECRYPT", pkcs11js.CKA_DECRYPT, true],
  ["CKA_WRAP", pkcs11js.CKA_WRAP, false],
  ["CKA_UNWRAP", pkcs11js.CKA_UNWRAP, false],
  ["CKA_SIGN", pkcs11js.CKA_SIGN, false],
  ["CKA_VERIFY", pkcs11js.CKA_VERIFY, false],
  ["CKA_DERIVE", pkcs11js.CKA_DERIVE, false],
];
/** What a KEK must have: also never have been extractable or visible (generated in the token). */
const REQUIRED: typeof GENERATED = [
  ...GENERATED,
  ["CKA_ALWAYS_SENSITIVE", pkcs11js.CKA_ALWAYS_SENSITIVE, true],
  ["CKA_NEVER_EXTRACTABLE", pkcs11js.CKA_NEVER_EXTRACTABLE, true],
];

const idOf = (label: string) => checkKekId(`pkcs11:${label}`);
const gcm = (iv: Buffer, aad: Uint8Array) => ({
  mechanism: pkcs11js.CKM_AES_GCM,
  parameter: {
    type: pkcs11js.CK_PARAMS_AES_GCM,
    iv,
    ivBits: IV_BYTES * 8,
    aad: Buffer.from(aad),
    tagBits: TAG_BYTES * 8,
  },
});

/** A KEK in a PKCS#11 token. */
export class Pkcs11Kek implements KekProvider {
  /** `pkcs11:` and the key label. */
  readonly id: string;
  readonly #labels: ReadonlyMap<string, string>;

  private constructor(
    private readonly token: Pkcs11Token,
    config: Pkcs11KekConfig,
  ) {
    this.id = idOf(config.keyLabel);
    const labels = [config.keyLabel, ...(config.retiredKeyLabels ?? [])];
    this.#labels = new Map(labels.map((l) => [idOf(l), l]));
  }

  /**
   * Connects to the token, logs in and checks the KEK (it exists once, with the attributes above).
   * Throws KekUnavailableError when the module, the token, the PIN or the key is not usable.
   */
  static async open(config: Pkcs11KekConfig): Promise<Pkcs11Kek> {
    checkConfig(config);
    const token = Pkcs11Token.connect(config, checkKey);
    const kek = new Pkcs11Kek(token, config);
    try {
      token.run((ctx) => ctx.key(config.keyLabel));
    } catch (e) {
      token.close();
      throw e;
    }
    return kek;
  }

  /** Encrypts `dek` with AES-GCM in the token, `aad` as the associated data. */
  async wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedDek> {
    if (dek.length !== DEK_BYTES) throw new SealError("a data key is 32 bytes");
    const iv = randomBytes(IV_BYTES);
    const label = this.#labels.get(this.id)!;
    const ct = this.token.run((ctx) => {
      ctx.p11.C_EncryptInit(ctx.session, gcm(iv, aad), ctx.key(label));
      return ctx.p11.C_Encrypt(ctx.session, Buffer.from(dek), Buffer.alloc(DEK_BYTES + TAG_BYTES));
    });
    const bytes = new Uint8Array(IV_BYTES + ct.length);
    bytes.set(iv);
    bytes.set(ct, IV_BYTES);
    return { kek: this.id, bytes };
  }

  /** Decrypts a wrapped DEK in the token; a wrong AAD, key or any tampering is a SealError. */
  async unwrap(wrapped: WrappedDek, aad: Uint8Array): Promise<Uint8Array> {
    const label = this.#labels.get(wrapped.kek);
    if (label === undefined)
      throw new SealError(`sealed under KEK ${wrapped.kek}, which this party does not hold`);
    if (wrapped.bytes.length !== IV_BYTES + DEK_BYTES + TAG_BYTES)
      throw new SealError("has a malformed wrapped data key");
    const iv = Buffer.from(wrapped.bytes.subarray(0, IV_BYTES));
    const ct = Buffer.from(wrapped.bytes.subarray(IV_BYTES));
    const dek = this.token.run((ctx) => {
      ctx.p11.C_DecryptInit(ctx.session, gcm(iv, aad), ctx.key(label));
      try {
        return ctx.p11.C_Decrypt(ctx.session, ct, Buffer.alloc(ct.length));
      } catch (e) {
        const code = ckr(e);
        if (code !== undefined && NOT_AUTHENTIC.has(code)) throw new SealError("failed authentication");
        throw e;
      }
    });
    const out = Uint8Array.from(dek);
    dek.fill(0);
    return out;
  }

  /** Closes the session. */
  close(): void {
    this.token.close();
  }
}

/**
 * Generates the KEK in the token: AES-256, a token object, private, sensitive, never extractable,
 * encrypt/decrypt only and not modifiable. Refuses (KekConfigError) when the token already holds a
 * key with this label. The PIN comes from the file or variable the config names.
 * @returns the KEK id records will name
 */
export async function createPkcs11Kek(config: Pkcs11KekConfig): Promise<string> {
  checkConfig(config);
  const token = Pkcs11Token.connect(config, () => {}, true);
  try {
    return token.run((ctx) => {
      let exists = true;
      try {
        ctx.key(config.keyLabel);
      } catch (e) {
        if (!(e instanceof KekUnavailableError && e.reason === "key-missing")) throw e;
        exists = false;
      }
      if (exists)
        throw new KekConfigError("invalid", `the token already holds a key labelled "${config.keyLabel}"`);
      ctx.p11.C_GenerateKey(ctx.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: DEK_BYTES },
        { type: pkcs11js.CKA_LABEL, value: config.keyLabel },
        ...GENERATED.map(([, type, value]) => ({ type, value })),
        { type: pkcs11js.CKA_MODIFIABLE, value: false },
      ]);
      return idOf(config.keyLabel);
    });
  } finally {
    token.close();
  }
}

function checkKey(p11: TokenContext["p11"], session: Buffer, label: string, key: Buffer): void {
  const attrs = p11.C_GetAttributeValue(session, key, [
    ...REQUIRED.map(([, type]) => ({ type })),
    { type: pkcs11js.CKA_VALUE_LEN },
  ]);
  for (const [i, [name, , want]] of REQUIRED.entries()) {
    const got = attrs[i]?.value[0] === 1;
    if (got !== want)
      throw new KekUnavailableError("key-unsuitable", `KEK "${label}" has ${name} ${got}, needs ${want}`);
  }
  const len = attrs[REQUIRED.length]?.value;
  if (!len || len.readUInt32LE(0) !== DEK_BYTES)
    throw new KekUnavailableError("key-unsuitable", `KEK "${label}" is not an AES-256 key`);
}

function checkConfig(config: Pkcs11KekConfig): void {
  if (config.token === undefined && config.slot === undefined)
    throw new KekConfigError("invalid", "a PKCS#11 KEK needs a token label or a slot id");
  if ((config.pinFile === undefined) === (config.pinEnv === undefined))
    throw new KekConfigError("invalid", "a PKCS#11 KEK needs exactly one of a PIN file and a PIN variable");
  for (const label of [config.keyLabel, ...(config.retiredKeyLabels ?? [])]) idOf(label);
}
