/**
 * bitcoinjs-lib: a Taproot key-path spend (BIP86, regtest) signed by a threshold `bip340` key for its
 * tweaked output key; bitcoinjs validates the Schnorr signature, finalizes and extracts the
 * transaction. Run: `node examples/dist/bitcoin-p2tr.js` with `custody dev` up (see examples/README.md).
 */
import { taprootSigner } from "@custody/sdk/bitcoin";
import { initEccLib, networks, Psbt, payments, Transaction } from "bitcoinjs-lib";
import * as ecc from "tiny-secp256k1";
import { check, connect, keyOf } from "./connect.js";

initEccLib(ecc);
const network = networks.regtest;
const client = connect();
const key = await keyOf(client, "bip340");
const signer = await taprootSigner(client, key.id);
const internalPubkey = Buffer.from(key.publicKey!, "hex");
const wallet = payments.p2tr({ internalPubkey, network });
console.log(`key ${key.id}, address ${wallet.address}`);
check(
  payments.p2tr({ internalPubkey }).address === key.taproot?.address,
  "the API's BIP86 address is the one bitcoinjs derives",
);

const funding = new Transaction();
funding.addInput(new Uint8Array(32).fill(2), 0);
funding.addOutput(wallet.output!, 100_000n);

const psbt = new Psbt({ network })
  .addInput({
    hash: funding.getId(),
    index: 0,
    witnessUtxo: { script: wallet.output!, value: 100_000n },
    tapInternalKey: internalPubkey,
  })
  .addOutput({ address: wallet.address!, value: 95_000n });
await psbt.signAllInputsAsync(signer);
check(
  psbt.validateSignaturesOfAllInputs((pubkey, hash, signature) => ecc.verifySchnorr(hash, pubkey, signature)),
  "bitcoinjs validates the key-path signature under the output key",
);
psbt.finalizeAllInputs();
const tx = psbt.extractTransaction();
check(tx.ins[0]!.witness.length === 1, "the witness is the 64-byte Schnorr signature alone");
console.log(`txid ${tx.getId()}\nraw ${tx.toHex()}`);
