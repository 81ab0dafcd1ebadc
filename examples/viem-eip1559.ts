/**
 * viem: an EIP-1559 and a legacy (EIP-155) transaction, an EIP-191 message and EIP-712 typed data,
 * signed by a threshold `ecdsa-secp256k1` key at m/44/60/0/0/0 and verified by viem.
 * Run: `node examples/dist/viem-eip1559.js` with `custody dev` up (see examples/README.md).
 */
import { custodyAccount } from "@custody/sdk/viem";
import {
  parseEther,
  parseGwei,
  parseTransaction,
  recoverTransactionAddress,
  type TransactionSerialized,
  verifyMessage,
  verifyTypedData,
} from "viem";
import { check, connect, keyOf } from "./connect.js";

const client = connect();
const key = await keyOf(client, "ecdsa-secp256k1");
const account = await custodyAccount(client, key.id, { path: "m/44/60/0/0/0" });
console.log(`key ${key.id}, account ${account.address}`);

const tx = {
  type: "eip1559",
  chainId: 11_155_111,
  nonce: 0,
  to: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  value: parseEther("0.01"),
  gas: 21_000n,
  maxFeePerGas: parseGwei("20"),
  maxPriorityFeePerGas: parseGwei("1"),
} as const;
const signed = (await account.signTransaction(tx)) as TransactionSerialized;
check(
  (await recoverTransactionAddress({ serializedTransaction: signed })) === account.address,
  "EIP-1559 transaction recovers to the account",
);
check(parseTransaction(signed).value === tx.value, "the signed transaction carries what was built");
console.log(`raw ${signed}`);

const legacy = {
  type: "legacy",
  chainId: 1,
  nonce: 1,
  to: tx.to,
  value: 1n,
  gas: 21_000n,
  gasPrice: parseGwei("10"),
} as const;
const signedLegacy = (await account.signTransaction(legacy)) as TransactionSerialized;
check(
  (await recoverTransactionAddress({ serializedTransaction: signedLegacy })) === account.address,
  "legacy EIP-155 transaction recovers to the account",
);

const message = "Custody signs this without any party holding the key";
check(
  await verifyMessage({
    address: account.address,
    message,
    signature: await account.signMessage({ message }),
  }),
  "EIP-191 message verifies",
);

const typedData = {
  domain: { name: "Custody example", version: "1", chainId: 1 },
  types: {
    Transfer: [
      { name: "to", type: "address" },
      { name: "amount", type: "uint256" },
    ],
  },
  primaryType: "Transfer",
  message: { to: tx.to, amount: 5n },
} as const;
check(
  await verifyTypedData({
    address: account.address,
    ...typedData,
    signature: await account.signTypedData(typedData),
  }),
  "EIP-712 typed data verifies",
);
