/**
 * A 2-of-3 DKG where party 3 withholds its round-2 messages: party 1's round 2 cannot finish, and
 * settling it checks what party 2 sent (its base-OT OR-proofs and its Feldman share) without
 * tripping over what party 3 did not send: a bad message from 2 names 2, nothing names nobody.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProtocolError, type ProtocolMessage, type Round, type Step } from "@custody/core";
import { randomBytes } from "@noble/hashes/utils.js";
import { mulG, pointToBytes } from "../src/group.js";
import { ecdsaScheme } from "../src/index.js";
import type { EcdsaShare } from "../src/share.js";
import { type Edit, flip, put } from "./tamper.js";

type R = Round<EcdsaShare>;
const roundOf = (s: Step<EcdsaShare>): R => {
  assert.equal(s.kind, "next");
  return (s as { round: R }).round;
};
const sessionId = randomBytes(32);
const parties = [1, 2, 3];
const firsts = new Map(
  parties.map((p) => [p, ecdsaScheme.keygen({ sessionId, self: p, parties, threshold: 2 })]),
);
const toward = (s: Step<EcdsaShare>, to: number) => s.outgoing.filter((m) => m.to === "all" || m.to === to);

/** Round 2 of `self` after every round-1 message, and its round-2 step. */
function round2(self: number): { round: R; step: Step<EcdsaShare> } {
  const r1 = roundOf(firsts.get(self)!);
  for (const [p, s] of firsts) if (p !== self) for (const m of toward(s, self)) r1.receive(m);
  const step = r1.finalize();
  return { round: roundOf(step), step };
}

const edited = (m: ProtocolMessage, edit: Edit): ProtocolMessage => ({ ...m, payload: edit(m.payload) });
const blames2 = (e: unknown) =>
  e instanceof ProtocolError && e.kind === "bad-message" && e.culprits.join() === "2";
// Round 2 P2P: share 32 ‖ seed 32 ‖ seed salt 32 ‖ seed_R 32 ‖ instances (u first).
const OT = 128;

test("settling round 2 checks the replies that are in and skips the party that withholds", {
  timeout: 120_000,
}, () => {
  const v = round2(1).round;
  const from2 = round2(2).step;
  const bc = from2.outgoing.find((m) => m.to === "all")!;
  const pp = from2.outgoing.find((m) => m.to === 1)!;
  v.receive(bc);
  // A reply whose OR-proof fails (u replaced by another valid point).
  v.receive(edited(pp, put(OT, pointToBytes(mulG(12345n)))));
  assert.throws(() => v.settle!(), blames2);
  // A share that fails the Feldman check (its base OTs are fine).
  v.receive(edited(pp, flip(31)));
  assert.throws(() => v.settle!(), blames2);
  // Party 2's genuine messages: nothing to blame, and party 3's absence is no error.
  v.receive(pp);
  v.settle!();
});
