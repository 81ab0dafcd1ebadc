/**
 * A scripted stand-in for the Custody API in the adapter tests: it holds ordinary single-party keys
 * (BIP32 trees for secp256k1, an Ed25519 key) and answers key reads and sign requests like the API,
 * signing with @noble/curves (ECDSA, Ed25519) and libsecp256k1 (BIP340/Taproot, via tiny-secp256k1).
 * A `tamper` hook lets a test corrupt what it returns.
 * @module
 */
import { randomBytes } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { HDKey } from "@scure/bip32";
import { crypto as btcCrypto } from "bitcoinjs-lib";
import * as ecc from "tiny-secp256k1";
import type { Operation, Signature, SignInput } from "../src/index.js";
import { type Peer, problem, startPeer } from "./peer.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** What a test may do to a signature before the fake API returns it. */
export type Tamper = (sig: Signature, input: SignInput) => Signature;

/** The fake API and its keys' secrets. */
export interface FakeApi extends Peer {
  ecdsa: HDKey;
  bip340: HDKey;
  ed25519Secret: Uint8Array;
  tamper: Tamper | undefined;
  /** Sign request bodies received. */
  signed: SignInput[];
}

/** The BIP341 key-path private key for `root` at `path`, tweaked with `merkleRoot` (none: BIP86). */
export function taprootSecret(root: HDKey, path: string | undefined, merkleRoot?: string): Uint8Array {
  const node = path ? root.derive(path) : root;
  let d = node.privateKey!;
  if (node.publicKey![0] === 3) d = ecc.privateNegate(d);
  const p = node.publicKey!.subarray(1);
  const t = btcCrypto.taggedHash(
    "TapTweak",
    merkleRoot ? Buffer.concat([p, Buffer.from(merkleRoot, "hex")]) : p,
  );
  return ecc.privateAdd(d, t)!;
}

function signWith(api: FakeApi, keyId: string, input: SignInput): Signature {
  const message = Buffer.from(input.message, "hex");
  const base = { keyId, epoch: 0, ...(input.path ? { path: input.path } : {}) };
  if (keyId === "key_ecdsa") {
    const node = input.path ? api.ecdsa.derive(input.path) : api.ecdsa;
    const rec = secp256k1.Signature.fromBytes(
      secp256k1.sign(message, node.privateKey!, { prehash: false, format: "recovered" }),
      "recovered",
    );
    return {
      ...base,
      signature: hex(rec.toBytes("compact")),
      recoveryId: rec.recovery!,
      publicKey: hex(node.publicKey!),
    };
  }
  if (keyId === "key_bip340") {
    const node = input.path ? api.bip340.derive(input.path) : api.bip340;
    const d = input.taproot
      ? taprootSecret(api.bip340, input.path, input.taproot.merkleRoot)
      : node.privateKey!;
    const pub = ecc.xOnlyPointFromScalar(d);
    return { ...base, signature: hex(ecc.signSchnorr(message, d)), publicKey: hex(pub) };
  }
  return {
    ...base,
    signature: hex(ed25519.sign(message, api.ed25519Secret)),
    publicKey: hex(ed25519.getPublicKey(api.ed25519Secret)),
  };
}

const keyView = (id: string, scheme: string, publicKey: string, xpub?: string) => ({
  id,
  scheme,
  threshold: 2,
  parties: [1, 2, 3],
  status: "active",
  publicKey,
  ...(xpub ? { xpub } : {}),
  epoch: 0,
  operationId: "op_dkg",
  createdAt: "t",
  updatedAt: "t",
});

/** Starts the fake API. */
export async function startFakeApi(): Promise<FakeApi> {
  const ecdsa = HDKey.fromMasterSeed(randomBytes(32));
  const bip340 = HDKey.fromMasterSeed(randomBytes(32));
  const ed25519Secret = ed25519.utils.randomSecretKey();
  const ops = new Map<string, Operation>();
  const keys = new Map<string, object>([
    ["key_ecdsa", keyView("key_ecdsa", "ecdsa-secp256k1", hex(ecdsa.publicKey!), ecdsa.publicExtendedKey)],
    [
      "key_bip340",
      keyView("key_bip340", "bip340", hex(bip340.publicKey!.subarray(1)), bip340.publicExtendedKey),
    ],
    ["key_ed25519", keyView("key_ed25519", "ed25519", hex(ed25519.getPublicKey(ed25519Secret)))],
  ]);
  let api: FakeApi | undefined;
  const peer = await startPeer((r) => {
    const sign = /^\/v1\/keys\/([a-z0-9_]+)\/sign$/.exec(r.url);
    if (sign && r.method === "POST") {
      const input = JSON.parse(r.body) as SignInput;
      api!.signed.push(input);
      let signature = signWith(api!, sign[1]!, input);
      if (api!.tamper) signature = api!.tamper(signature, input);
      const id = `op_${ops.size}`;
      const op: Operation = {
        id,
        type: "sign",
        status: "succeeded",
        keyId: sign[1]!,
        participants: [1, 2],
        reports: {},
        createdAt: "t",
        updatedAt: "t",
        signature,
      };
      ops.set(id, op);
      return { status: 202, json: op };
    }
    const key = /^\/v1\/keys\/([a-z0-9_]+)$/.exec(r.url);
    if (key && keys.has(key[1]!)) return { status: 200, json: keys.get(key[1]!) };
    const op = /^\/v1\/operations\/([a-z0-9_]+)\?/.exec(r.url);
    if (op && ops.has(op[1]!)) return { status: 200, json: ops.get(op[1]!) };
    return problem(404, "not-found");
  });
  api = Object.assign(peer, { ecdsa, bip340, ed25519Secret, tamper: undefined, signed: [] });
  return api;
}
