/**
 * `@custody/sdk/viem`: a viem `LocalAccount` whose key is an `ecdsa-secp256k1` Custody key (or a
 * key derived from it by a BIP32 path). It signs transactions (every type viem serializes:
 * EIP-1559, legacy with EIP-155, EIP-2930, ...), EIP-191 messages, EIP-712 typed data and raw
 * hashes; the API signs the 32-byte digest and every returned signature is checked (it must recover
 * this account's key) before viem sees it.
 * @module
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  type Hex,
  hashMessage,
  hashTypedData,
  keccak256,
  type SerializeTransactionFn,
  serializeSignature,
  serializeTransaction,
  type TransactionSerializable,
  type Signature as ViemSignature,
} from "viem";
import { type LocalAccount, publicKeyToAddress, toAccount } from "viem/accounts";
import { checkEcdsa, hexBytes, secp256k1PublicKey, suitableKey, toHex } from "./checks.js";
import type { CustodyClient } from "./client.js";

/** Options of {@link custodyAccount}. */
export interface CustodyAccountOptions {
  /** BIP32 non-hardened path of the account's key, e.g. `m/44/60/0/0/0` (default: the root key). */
  path?: string;
  /** How long one signature may take. Default 120 000. */
  timeoutMs?: number;
}

/** A viem local account backed by a Custody key. */
export type CustodyAccount = LocalAccount<"custody">;

/**
 * A viem account for the `ecdsa-secp256k1` key `keyId`.
 * @throws SignerError `unsuitable-key` for another scheme or an inactive key
 */
export async function custodyAccount(
  client: CustodyClient,
  keyId: string,
  o: CustodyAccountOptions = {},
): Promise<CustodyAccount> {
  const key = suitableKey(await client.getKey(keyId), "ecdsa-secp256k1");
  const publicKey = secp256k1PublicKey(key, o.path);
  const uncompressed = `0x${secp256k1.Point.fromBytes(publicKey).toHex(false)}` as Hex;

  const signHash = async (hash: Hex): Promise<ViemSignature> => {
    const digest = hexBytes(hash.slice(2), 32, "hash", "unsupported");
    const sig = await client.signAndWait(
      keyId,
      { message: toHex(digest), ...(o.path !== undefined ? { path: o.path } : {}) },
      { timeoutMs: o.timeoutMs },
    );
    const { r, s, recovery } = checkEcdsa(sig, digest, publicKey);
    const hex = (n: bigint) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
    return { r: hex(r), s: hex(s), v: 27n + BigInt(recovery), yParity: recovery };
  };

  const account = toAccount({
    address: publicKeyToAddress(uncompressed),
    async sign({ hash }) {
      return serializeSignature(await signHash(hash));
    },
    async signMessage({ message }) {
      return serializeSignature(await signHash(hashMessage(message)));
    },
    async signTypedData(typedData) {
      return serializeSignature(await signHash(hashTypedData(typedData)));
    },
    async signTransaction(transaction, options) {
      const serializer = (options?.serializer ??
        serializeTransaction) as SerializeTransactionFn<TransactionSerializable>;
      // EIP-4844: the signature covers the payload without the blob sidecars.
      const signable = transaction.type === "eip4844" ? { ...transaction, sidecars: false } : transaction;
      const signature = await signHash(keccak256(await serializer(signable)));
      return serializer(transaction, signature);
    },
  });
  return { ...account, publicKey: uncompressed, source: "custody" };
}
