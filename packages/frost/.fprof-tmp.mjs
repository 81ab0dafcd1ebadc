import { randomBytes } from "node:crypto";
import { runLocal } from "@custody/core";
import { bip340Scheme, ed25519Scheme } from "@custody/frost";
const scheme = process.env.S === "bip340" ? bip340Scheme : ed25519Scheme;
const sid = randomBytes(32);
const shares = runLocal(new Map([1, 2, 3].map((p) => [p, () => scheme.keygen({ sessionId: sid, self: p, parties: [1, 2, 3], threshold: 2 })]))).results;
for (let i = 0; i < 60; i++) { const sessionId = randomBytes(32), message = randomBytes(32);
  const r = runLocal(new Map([1, 2].map((p) => [p, () => scheme.sign({ sessionId, self: p, share: shares.get(p), signers: [1, 2], message })])));
  if (r.errors.size) throw new Error("x"); }
