/**
 * @solana/web3.js v2: a SOL transfer signed by a threshold `ed25519` key as the fee payer; the
 * signature is checked by OpenSSL (node:crypto) over the transaction's message bytes.
 * Run: `node examples/dist/solana-transfer.js` with `custody dev` up (see examples/README.md).
 */
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { solanaSigner } from "@custody/sdk/solana";
import {
  AccountRole,
  address,
  appendTransactionMessageInstruction,
  assertTransactionIsFullySigned,
  blockhash,
  createTransactionMessage,
  getAddressEncoder,
  getBase58Decoder,
  getBase64EncodedWireTransaction,
  getSignatureFromTransaction,
  getU32Encoder,
  getU64Encoder,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from "@solana/web3.js";
import { check, connect, keyOf } from "./connect.js";

const client = connect();
const key = await keyOf(client, "ed25519");
const signer = await solanaSigner(client, key.id);
console.log(`key ${key.id}, address ${signer.address}`);

// System program transfer: instruction 2, lamports (u64).
const transfer = {
  programAddress: address("11111111111111111111111111111111"),
  accounts: [
    { address: signer.address, role: AccountRole.WRITABLE_SIGNER, signer },
    { address: address("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"), role: AccountRole.WRITABLE },
  ],
  data: new Uint8Array([...getU32Encoder().encode(2), ...getU64Encoder().encode(1_000_000n)]),
};
// A recent blockhash would come from an RPC node; any 32 bytes make a well-formed message offline.
const recent = {
  blockhash: blockhash(getBase58Decoder().decode(randomBytes(32))),
  lastValidBlockHeight: 1000n,
};
const message = pipe(
  createTransactionMessage({ version: 0 }),
  (m) => setTransactionMessageFeePayerSigner(signer, m),
  (m) => setTransactionMessageLifetimeUsingBlockhash(recent, m),
  (m) => appendTransactionMessageInstruction(transfer, m),
);
const tx = await signTransactionMessageWithSigners(message);
assertTransactionIsFullySigned(tx);
const publicKey = createPublicKey({
  key: {
    kty: "OKP",
    crv: "Ed25519",
    x: Buffer.from(getAddressEncoder().encode(signer.address)).toString("base64url"),
  },
  format: "jwk",
});
check(
  verify(null, Uint8Array.from(tx.messageBytes), publicKey, Uint8Array.from(tx.signatures[signer.address]!)),
  "OpenSSL verifies the fee payer's signature over the message bytes",
);
console.log(`signature ${getSignatureFromTransaction(tx)}\nwire ${getBase64EncodedWireTransaction(tx)}`);
