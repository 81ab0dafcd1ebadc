/**
 * Signing round 2 checks the shares only once all are in (see sign/round2.ts), so a round that
 * cannot finish because a signer withholds its share is settled: the shares already in are
 * verified one by one, and the signer of an invalid one is named, even with a batch of them.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  batch,
  type PartyId,
  ProtocolError,
  type ProtocolMessage,
  Session,
  type SignatureOutput,
  type Step,
} from "@custody/core";
import { bip340Suite, ed25519Suite } from "../src/ciphersuite.js";
import { bip340Scheme, ed25519Scheme } from "../src/index.js";
import { bumpScalar } from "./bad.js";
import { keygenOk, range } from "./helpers.js";

/**
 * Runs the signers' sessions, delivering every message `edit` lets through (null withholds it),
 * and returns the sessions once nothing more moves.
 */
function drive<T>(
  starts: Map<PartyId, () => Step<T>>,
  edit: (m: ProtocolMessage, to: PartyId) => ProtocolMessage | null,
): Map<PartyId, Session<T>> {
  const sessions = new Map([...starts].map(([p, begin]) => [p, new Session<T>(p, begin)]));
  const queue: { m: ProtocolMessage; to: PartyId }[] = [];
  const route = (out: readonly ProtocolMessage[]) => {
    for (const m of out)
      for (const to of m.to === "all" ? [...sessions.keys()].filter((p) => p !== m.from) : [m.to])
        queue.push({ m, to });
  };
  for (const s of sessions.values()) route(s.start());
  for (let next = queue.shift(); next; next = queue.shift()) {
    const m = edit(next.m, next.to);
    if (m) route(sessions.get(next.to)!.deliver(m));
  }
  return sessions;
}

const SIGN_TIMEOUT = { timeout: 60_000 };
for (const [scheme, suite] of [
  [ed25519Scheme, ed25519Suite],
  [bip340Scheme, bip340Suite],
] as const) {
  const shares = keygenOk(scheme, range(3), 3);
  const signers = range(3);
  const single = () => {
    const sessionId = new Uint8Array(randomBytes(32));
    const message = new Uint8Array(randomBytes(32));
    return new Map(
      signers.map((p) => [
        p,
        () => scheme.sign({ sessionId, self: p, share: shares.get(p)!, signers, message }) as Step<unknown>,
      ]),
    );
  };
  const batched = () => {
    const sessionId = new Uint8Array(randomBytes(32));
    const messages = [0, 1, 2].map(() => new Uint8Array(randomBytes(32)));
    return new Map(
      signers.map((p) => [
        p,
        () =>
          batch(sessionId, 3, (i, sid) =>
            scheme.sign({ sessionId: sid, self: p, share: shares.get(p)!, signers, message: messages[i]! }),
          ) as Step<unknown>,
      ]),
    );
  };
  // Party 3 withholds its share from party 1; party 2 sends party 1 a wrong (canonical) share.
  const withheld = (m: ProtocolMessage, to: PartyId) =>
    m.round === 2 && m.from === 3 && to === 1 ? null : m;
  const wrong = (offset: number) => (m: ProtocolMessage, to: PartyId) => {
    if (m.round === 2 && m.from === 2 && to === 1)
      return { ...m, payload: bumpScalar(suite, m.payload, offset) };
    return withheld(m, to);
  };

  test(
    `${scheme.name}: settling names the signer of a wrong share while another withholds`,
    SIGN_TIMEOUT,
    () => {
      const s1 = drive(single(), wrong(32)).get(1)!;
      assert.equal(s1.done, false);
      assert.throws(
        () => s1.settle(),
        (e) => e instanceof ProtocolError && e.kind === "bad-message" && e.culprits.join() === "2",
      );
    },
  );

  test(
    `${scheme.name}: settling with valid shares blames nobody and the round still finishes`,
    SIGN_TIMEOUT,
    () => {
      let held: ProtocolMessage | undefined;
      const sessions = drive(single(), (m, to) => {
        const kept = withheld(m, to);
        if (!kept) held = m;
        return kept;
      });
      const s1 = sessions.get(1)!;
      s1.settle();
      assert.equal(s1.done, false);
      s1.deliver(held!);
      assert.equal(s1.done, true);
      assert.ok((s1.result as SignatureOutput).signature.length === 64);
    },
  );

  test(
    `${scheme.name}: a batch settles every item, naming the signer of a wrong share in one`,
    SIGN_TIMEOUT,
    () => {
      // The batch payload frames each item's message; bump the share of the last item's frame end.
      const s1 = drive(batched(), (m, to) => {
        if (m.round === 2 && m.from === 2 && to === 1)
          return { ...m, payload: bumpScalar(suite, m.payload, m.payload.length - suite.scalarLength) };
        return withheld(m, to);
      }).get(1)!;
      assert.equal(s1.done, false);
      assert.throws(
        () => s1.settle(),
        (e) =>
          e instanceof ProtocolError &&
          e.kind === "bad-message" &&
          e.culprits.join() === "2" &&
          /^batch item 2: /.test(e.message),
      );
    },
  );
}
