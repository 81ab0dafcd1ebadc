/**
 * bitcoinjs-lib: a P2WPKH spend (regtest) signed by a threshold `ecdsa-secp256k1` key at
 * m/84/1/0/0/0; bitcoinjs validates the signature, finalizes and extracts the transaction.
 * Run: `node examples/dist/bitcoin-p2wpkh.js` with `custody dev` up (see examples/README.md).
 */
import { p2wpkhSigner } from "@custody/sdk/bitcoin";
import { networks, Psbt, payments, Transaction } from "bitcoinjs-lib";
import * as ecc from "tiny-secp256k1";
import { check, connect, keyOf } from "./connect.js";

const network = networks.regtest;
const client = connect();
const key = await keyOf(client, "ecdsa-secp256k1");
const signer = await p2wpkhSigner(client, key.id, { path: "m/84/1/0/0/0" });
const wallet = payments.p2wpkh({ pubkey: signer.publicKey, network });
console.log(`key ${key.id}, address ${wallet.address}`);

// A coin to spend: an output paying the address (a stand-in for a funding transaction).
const funding = new Transaction();
funding.addInput(new Uint8Array(32).fill(1), 0);
funding.addOutput(wallet.output!, 100_000n);

const psbt = new Psbt({ network })
  .addInput({ hash: funding.getId(), index: 0, witnessUtxo: { script: wallet.output!, value: 100_000n } })
  .addOutput({ address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", value: 90_000n });
await psbt.signAllInputsAsync(signer);
check(
  psbt.validateSignaturesOfAllInputs((pubkey, hash, signature) => ecc.verify(hash, pubkey, signature)),
  "bitcoinjs validates the input's signature",
);
psbt.finalizeAllInputs();
const tx = psbt.extractTransaction();
check(tx.ins[0]!.witness.length === 2, "the witness is <DER signature + sighash> <public key>");
console.log(`txid ${tx.getId()}\nraw ${tx.toHex()}`);
