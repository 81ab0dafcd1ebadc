/**
 * `@custody/sdk/solana`: a @solana/web3.js (v2) signer backed by an `ed25519` Custody key. It is a
 * `TransactionPartialSigner` (it signs each transaction's message bytes) and a
 * `MessagePartialSigner`; every signature the API returns is checked (RFC 8032) under the key
 * before the library sees it.
 * @module
 */
import {
  type Address,
  getAddressDecoder,
  type MessagePartialSigner,
  type SignatureBytes,
  type SignatureDictionary,
  type TransactionPartialSigner,
} from "@solana/web3.js";
import { checkEd25519, hexBytes, suitableKey, toHex } from "./checks.js";
import type { CustodyClient } from "./client.js";

/** Options of {@link solanaSigner}. */
export interface SolanaSignerOptions {
  /** How long one signature may take. Default 120 000. */
  timeoutMs?: number;
}

/** A Solana signer for one Custody key. */
export type CustodySolanaSigner = TransactionPartialSigner & MessagePartialSigner;

/** A Solana signer for the `ed25519` key `keyId`. @throws SignerError `unsuitable-key` */
export async function solanaSigner(
  client: CustodyClient,
  keyId: string,
  o: SolanaSignerOptions = {},
): Promise<CustodySolanaSigner> {
  const key = suitableKey(await client.getKey(keyId), "ed25519");
  const publicKey = hexBytes(key.publicKey, 32, "public key", "unsuitable-key");
  const address: Address = getAddressDecoder().decode(publicKey);
  const signBytes = async (readonlyBytes: ArrayLike<number>): Promise<SignatureDictionary> => {
    const bytes = Uint8Array.from(readonlyBytes);
    const sig = await client.signAndWait(keyId, { message: toHex(bytes) }, { timeoutMs: o.timeoutMs });
    return { [address]: checkEd25519(sig, bytes, publicKey) as SignatureBytes };
  };
  return {
    address,
    signTransactions: (transactions) => Promise.all(transactions.map((t) => signBytes(t.messageBytes))),
    signMessages: (messages) => Promise.all(messages.map((m) => signBytes(m.content))),
  };
}
