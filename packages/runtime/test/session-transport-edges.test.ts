/**
 * The session transport's edge cases against a real nats-server, each aimed at one check the
 * mutation run found untested: joins under this party's own id or from a non-participant, a peer
 * that rejoins mid-session, an unreachable or refusing receiver, envelopes to another party's inbox
 * or point-to-point in plaintext (validly signed), party ids of two digits, a party that has its
 * result but still owes its last messages, and a broker that denies the session's subscriptions.
 * The test plays party 3 by hand where it needs to misbehave; every wait has a deadline.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeWith, done, next, type PartyId, type Round, Writer } from "@custody/core";
import { type NatsServer, newUser, startTrustedServer } from "@custody/natsd";
import {
  create,
  EnvelopeAckSchema,
  EnvelopeSchema,
  fromBinary,
  JoinSchema,
  joinSubject,
  joinWildcard,
  messageSubject,
  toBinary,
} from "@custody/proto";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import {
  connectNats,
  createPartyIdentity,
  deriveSessionId,
  ephemeralKeyPair,
  inProcessHost,
  type JoinInfo,
  joinSigningBytes,
  type PartyIdentity,
  runSession,
  SessionCipher,
  signAs,
  TransportError,
} from "../src/index.js";
import { signedEnvelope, sleep, unanswered } from "./transport-harness.js";

/**
 * One round: a broadcast of `self` and a point-to-point `10·self + to` to each peer `to`. The
 * result is `self + Σ broadcasts + Σ point-to-point values`, so a point-to-point message taken for
 * a broadcast (or the reverse) changes it or never completes the round, and one delivered to the
 * wrong peer conflicts with that peer's own.
 */
function toy(self: PartyId, parties: readonly PartyId[]) {
  const peers = parties.filter((p) => p !== self);
  const broadcast = new Map<PartyId, number>();
  const direct = new Map<PartyId, number>();
  const r1: Round<number> = {
    number: 1,
    expects: { from: peers, broadcast: true, p2p: true },
    receive(m) {
      const v = decodeWith(m.payload, (r) => r.u32());
      (m.to === "all" ? broadcast : direct).set(m.from, v);
    },
    finalize: () => done(self + [...broadcast.values(), ...direct.values()].reduce((a, b) => a + b, 0)),
  };
  return () =>
    next(r1, [
      { round: 1, from: self, to: "all" as const, payload: new Writer().u32(self).finish() },
      ...peers.map((to) => ({
        round: 1,
        from: self,
        to,
        payload: new Writer().u32(10 * self + to).finish(),
      })),
    ]);
}

const WAIT_MS = 10_000;
const TEST_TIMEOUT = { timeout: 120_000 };

let server: NatsServer;
let dir: string;
let account: Parameters<typeof newUser>[0];
const conns = new Map<string, NatsConnection>();
const ids = new Map<number, PartyIdentity>();
let directory: Map<number, Uint8Array>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-transport-edges-"));
  const broker = await startTrustedServer({ dir, tenants: ["t"] });
  server = broker.server;
  account = broker.account("t");
  const user = await newUser(account, "tester");
  for (const p of [1, 2, 3, 12]) ids.set(p, createPartyIdentity(p, join(dir, `p${p}.id`)));
  directory = new Map([...ids].map(([p, id]) => [p, id.publicKey]));
  for (const name of ["p1", "p2", "p12", "harness"])
    conns.set(name, await connectNats({ servers: [server.url], credentials: user, name }));
});
after(async () => {
  for (const c of conns.values()) await c.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const nc = (name: string) => conns.get(name)!;
const harness = () => nc("harness");

const run = (
  self: number,
  operationId: string,
  parties: number[],
  roundTimeoutMs = 5000,
  conn?: NatsConnection,
) =>
  runSession<number>({
    nc: conn ?? nc(`p${self}`),
    operationId,
    self,
    participants: parties,
    workerId: `w${self}`,
    identity: ids.get(self)!,
    directory,
    roundTimeoutMs,
    joinTimeoutMs: 5000,
    host: () => inProcessHost(self, toy(self, parties), 4),
  });

/** A join of `party` for `operationId`, signed by `party`'s identity, with a fresh nonce and key. */
function signedJoin(operationId: string, party: number, eph = ephemeralKeyPair(), nonce = randomBytes(32)) {
  return {
    eph,
    nonce,
    bytes: toBinary(
      JoinSchema,
      create(JoinSchema, {
        operationId,
        party,
        nonce,
        workerId: "harness",
        kxPublic: eph.publicKey,
        signature: signAs(ids.get(party)!, joinSigningBytes(operationId, party, nonce, eph.publicKey)),
      }),
    ),
  };
}

/** What the harness (party 3) knows once it joined. */
interface Joined {
  readonly sid: Uint8Array;
  readonly sidHex: string;
  readonly cipher: SessionCipher;
}

/** Plays party 3 in the join barrier until it heard `peers`, then derives the session id as they do. */
async function joinAsParty3(operationId: string, peers: number[]): Promise<Joined> {
  const joins = new Map<number, JoinInfo>();
  const tap = harness().subscribe(joinWildcard(operationId), {
    callback: (_e, m) => {
      const j = fromBinary(JoinSchema, m.data);
      if (peers.includes(j.party)) joins.set(j.party, { nonce: j.nonce, kxPublic: j.kxPublic });
    },
  });
  const mine = signedJoin(operationId, 3);
  const deadline = Date.now() + WAIT_MS;
  try {
    while (joins.size < peers.length) {
      if (Date.now() >= deadline) throw new Error(`peers did not join ${operationId} within ${WAIT_MS} ms`);
      harness().publish(joinSubject(operationId, 3), mine.bytes);
      await sleep(50);
    }
  } finally {
    tap.unsubscribe();
  }
  harness().publish(joinSubject(operationId, 3), mine.bytes);
  joins.set(3, { nonce: mine.nonce, kxPublic: mine.eph.publicKey });
  const sid = deriveSessionId(operationId, joins);
  const cipher = new SessionCipher(
    3,
    mine.eph.secretKey,
    new Map(peers.map((p) => [p, joins.get(p)!.kxPublic])),
    sid,
  );
  return { sid, sidHex: bytesToHex(sid), cipher };
}

/** A round-1 envelope from party 3, validly signed over exactly these fields. */
const fromParty3 = (sid: Uint8Array, to: number, payload: Uint8Array, encrypted: boolean) =>
  toBinary(EnvelopeSchema, signedEnvelope(ids.get(3)!, sid, to, payload, encrypted));

/** Party 3's honest round-1 messages to `to`: the broadcast and the sealed point-to-point value. */
const honestTo = (j: Joined, to: number) => [
  fromParty3(j.sid, 0, new Writer().u32(3).finish(), false),
  fromParty3(j.sid, to, j.cipher.seal(to, 1, new Writer().u32(30).finish()), true),
];

/** Sends from the harness and returns the ack's error text ("" accepted); retries only while nobody listens. */
async function ackError(subject: string, data: Uint8Array): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return fromBinary(EnvelopeAckSchema, (await harness().request(subject, data, { timeout: 1000 })).data)
        .error;
    } catch (e) {
      if (!unanswered(e) || Date.now() >= deadline) throw e;
      await sleep(50);
    }
  }
}

/** Party 3's inbox: answers every envelope with `error` ("" accepts) and records what arrived. */
function inbox3(sidHex: string, error = "") {
  const got: { at: number; to: number; encrypted: boolean }[] = [];
  const sub = harness().subscribe(`custody.s.${sidHex}.m.3.*`, {
    callback: (_e, m: Msg) => {
      const env = fromBinary(EnvelopeSchema, m.data);
      got.push({ at: Date.now(), to: env.to, encrypted: env.encrypted });
      m.respond(toBinary(EnvelopeAckSchema, create(EnvelopeAckSchema, { error })));
    },
  });
  return { got, sub };
}

async function until(what: string, cond: () => boolean, withinMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!cond()) {
    if (Date.now() >= deadline) throw new Error(`${what} did not happen within ${withinMs} ms`);
    await sleep(20);
  }
}

test(
  "joins under the party's own id or from a non-participant never enter the session id",
  TEST_TIMEOUT,
  async () => {
    // The harness plays party 2 of a 1-and-2 session. Right before its own first join it
    // publishes, on the same connection (so party 1 receives them in this order), a valid join of
    // a non-participant (party 3) or one under party 1's own id with another nonce (a second
    // worker of party 1 on the same operation looks exactly like this). Taken in, the first would
    // complete party 1's barrier without party 2, the second would replace party 1's own nonce:
    // either way party 1's round-1 envelope would carry another session id than the genuine one.
    for (const [name, forged] of [
      ["non-participant", (op: string) => ({ subject: joinSubject(op, 3), bytes: signedJoin(op, 3).bytes })],
      ["own id", (op: string) => ({ subject: joinSubject(op, 1), bytes: signedJoin(op, 1).bytes })],
    ] as const) {
      const op = `op_edge_joins_${name.replace(/[^a-z]/g, "")}`;
      const genuine = new Map<number, JoinInfo>();
      const tap = harness().subscribe(joinWildcard(op), {
        callback: (_e, m) => {
          const j = fromBinary(JoinSchema, m.data);
          if (j.party === 1 && j.workerId === "w1") genuine.set(1, { nonce: j.nonce, kxPublic: j.kxPublic });
        },
      });
      const envelopes: Uint8Array[] = [];
      const inbox2 = harness().subscribe("custody.s.*.m.2.1", {
        callback: (_e, m: Msg) => {
          envelopes.push(fromBinary(EnvelopeSchema, m.data).sessionId);
          m.respond(toBinary(EnvelopeAckSchema, create(EnvelopeAckSchema, {})));
        },
      });
      const p1 = run(1, op, [1, 2], 30_000);
      p1.catch(() => {});
      try {
        await until(`${name}: party 1's join`, () => genuine.has(1));
        const mine = signedJoin(op, 2);
        genuine.set(2, { nonce: mine.nonce, kxPublic: mine.eph.publicKey });
        const f = forged(op);
        harness().publish(f.subject, f.bytes);
        if (name === "non-participant") {
          await harness().flush();
          await sleep(200);
        }
        harness().publish(joinSubject(op, 2), mine.bytes);
        await until(`${name}: party 1's round-1 envelope`, () => envelopes.length > 0);
        assert.equal(
          bytesToHex(envelopes[0]!),
          bytesToHex(deriveSessionId(op, genuine)),
          `${name}: the session id is that of the genuine joins`,
        );
      } finally {
        tap.unsubscribe();
        inbox2.unsubscribe();
      }
    }
  },
);

test(
  "a peer that rejoins with a new nonce once the session runs aborts it, naming the peer",
  TEST_TIMEOUT,
  async () => {
    const op = "op_edge_rejoin";
    const p1 = run(1, op, [1, 3], 30_000);
    p1.catch(() => {});
    const j = await joinAsParty3(op, [1]);
    const box = inbox3(j.sidHex);
    try {
      // Party 1's first envelope proves it derived the session id; only then is a new nonce a restart.
      await until("party 1's round-1 envelope", () => box.got.length > 0);
      harness().publish(joinSubject(op, 3), signedJoin(op, 3).bytes);
      await assert.rejects(p1, (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal(e.code, "peer-restarted");
        assert.deepEqual([...e.culprits], [3]);
        return true;
      });
    } finally {
      box.sub.unsubscribe();
    }
  },
);

test(
  "a receiver that never listens fails the send naming it; one that refuses names nobody",
  TEST_TIMEOUT,
  async () => {
    // Unreachable: party 3 sends its messages but never subscribes to its inbox. Party 1 has its
    // result and waits for its own deliveries, which give up at the round deadline (before the
    // silence watchdog, which counts from party 3's later messages).
    const unreachable = run(1, "op_edge_unreachable", [1, 3], 8000);
    unreachable.catch(() => {});
    const a = await joinAsParty3("op_edge_unreachable", [1]);
    await sleep(1500);
    for (const env of honestTo(a, 1)) assert.equal(await ackError(messageSubject(a.sidHex, 1, 3), env), "");
    await assert.rejects(unreachable, (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.equal(e.code, "send-failed");
      assert.deepEqual([...e.culprits], [3]);
      assert.match(e.message, /unreachable/);
      return true;
    });

    // Refusing: party 3 acks every envelope of party 1 with an error.
    const refused = run(1, "op_edge_refused", [1, 3], 10_000);
    refused.catch(() => {});
    const b = await joinAsParty3("op_edge_refused", [1]);
    const box = inbox3(b.sidHex, "refused by the test");
    try {
      for (const env of honestTo(b, 1)) await ackError(messageSubject(b.sidHex, 1, 3), env);
      await assert.rejects(refused, (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal(e.code, "send-failed");
        assert.deepEqual([...e.culprits], [], "a refusal is the receiver's word, not proof");
        assert.match(e.message, /rejected an envelope: refused by the test/);
        return true;
      });
    } finally {
      box.sub.unsubscribe();
    }
  },
);

test(
  "signed envelopes for another party's inbox, or point-to-point in plaintext, are refused",
  TEST_TIMEOUT,
  async () => {
    const op = "op_edge_inbox";
    const p1 = run(1, op, [1, 2, 3]);
    const p2 = run(2, op, [1, 2, 3]);
    const j = await joinAsParty3(op, [1, 2]);
    const box = inbox3(j.sidHex);
    try {
      const to1 = messageSubject(j.sidHex, 1, 3);
      const value = new Writer().u32(30).finish();
      // Sealed for party 2, signed as such, but delivered to party 1's inbox.
      assert.match(
        await ackError(to1, fromParty3(j.sid, 2, j.cipher.seal(2, 1, value), true)),
        /addressed to another party/,
      );
      // Point-to-point for party 1 in the clear, and a broadcast marked encrypted: both signed.
      assert.match(await ackError(to1, fromParty3(j.sid, 1, value, false)), /must be encrypted/);
      assert.match(
        await ackError(to1, fromParty3(j.sid, 0, new Writer().u32(3).finish(), true)),
        /must be encrypted/,
      );
      for (const to of [1, 2])
        for (const env of honestTo(j, to))
          assert.equal(await ackError(messageSubject(j.sidHex, to, 3), env), "");
      const [o1, o2] = await Promise.all([p1, p2]);
      assert.equal(o1.result, 1 + 2 + 3 + 21 + 30);
      assert.equal(o2.result, 2 + 1 + 3 + 12 + 30);
    } finally {
      box.sub.unsubscribe();
    }
  },
);

test(
  "parties with two-digit ids keep broadcast and point-to-point messages apart",
  TEST_TIMEOUT,
  async () => {
    const [o2, o12] = await Promise.all([run(2, "op_edge_ids", [2, 12]), run(12, "op_edge_ids", [2, 12])]);
    assert.equal(o2.result, 2 + 12 + 122);
    assert.equal(o12.result, 12 + 2 + 32);
  },
);

test(
  "a party that has its result still delivers its last messages before it returns",
  TEST_TIMEOUT,
  async () => {
    const op = "op_edge_finish";
    let finishedAt = 0;
    const p1 = run(1, op, [1, 3], 10_000).then((o) => {
      finishedAt = Date.now();
      return o;
    });
    const j = await joinAsParty3(op, [1]);
    // Party 3 sends first and listens only later: party 1 computes its result at once, but its own
    // round-1 messages to party 3 are still undelivered.
    for (const env of honestTo(j, 1)) assert.equal(await ackError(messageSubject(j.sidHex, 1, 3), env), "");
    await sleep(1500);
    assert.equal(finishedAt, 0, "party 1 returned before party 3 had its messages");
    const box = inbox3(j.sidHex);
    try {
      const out = await p1;
      assert.equal(out.result, 1 + 3 + 30);
      assert.deepEqual(box.got.map((g) => [g.to, g.encrypted]).sort(), [
        [0, false],
        [3, true],
      ]);
      assert.ok(Math.max(...box.got.map((g) => g.at)) <= finishedAt, "delivered before the session returned");
    } finally {
      box.sub.unsubscribe();
    }
  },
);

test(
  "a broker that denies the join or inbox subscription ends the session as disconnected",
  TEST_TIMEOUT,
  async () => {
    const limited = async (name: string, sub: string[]) =>
      connectNats({
        servers: [server.url],
        credentials: await newUser(account, name, { pub: { allow: [">"] }, sub: { allow: sub } }),
        name,
      });
    const noJoin = await limited("no-join", ["_INBOX.>"]);
    const noInbox = await limited("no-inbox", ["_INBOX.>", "custody.s.*.join.*"]);
    try {
      await assert.rejects(run(1, "op_edge_nojoin", [1, 2], 5000, noJoin), (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal(e.code, "disconnected");
        assert.deepEqual([...e.culprits], [], "a refused subscription is nobody's fault");
        assert.match(e.message, /join subscription/);
        return true;
      });
      const p2 = run(2, "op_edge_noinbox", [1, 2]);
      p2.catch(() => {});
      await assert.rejects(run(1, "op_edge_noinbox", [1, 2], 5000, noInbox), (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal(e.code, "disconnected");
        assert.deepEqual([...e.culprits], [], "a refused subscription is nobody's fault");
        assert.match(e.message, /inbox subscription/);
        return true;
      });
      // Party 1 still tells party 2, which therefore aborts at once instead of timing out.
      await assert.rejects(p2, (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal(e.code, "peer-aborted");
        assert.deepEqual([...e.culprits], [1]);
        return true;
      });
    } finally {
      await noJoin.close();
      await noInbox.close();
    }
  },
);

test(
  "a connection that closes during the join ends the session as disconnected, not with a crash",
  TEST_TIMEOUT,
  async () => {
    const user = await newUser(account, "closing");
    const closing = await connectNats({ servers: [server.url], credentials: user, name: "closing" });
    const session = run(1, "op_edge_closed", [1, 2], 5000, closing);
    session.catch(() => {});
    await sleep(300);
    await closing.close();
    await assert.rejects(session, (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.equal(e.code, "disconnected");
      assert.deepEqual([...e.culprits], [], "a refused subscription is nobody's fault");
      return true;
    });
  },
);

test(
  "a peer whose nonce changes before the session starts (a restart during the join) is simply taken at its new one",
  TEST_TIMEOUT,
  async () => {
    const op = "op_edge_early_restart";
    const genuine = new Map<number, JoinInfo>();
    const tap = harness().subscribe(joinWildcard(op), {
      callback: (_e, m) => {
        const j = fromBinary(JoinSchema, m.data);
        if (j.workerId === `w${j.party}`) genuine.set(j.party, { nonce: j.nonce, kxPublic: j.kxPublic });
      },
    });
    const envelopes: Uint8Array[] = [];
    const inbox = harness().subscribe("custody.s.*.m.3.1", {
      callback: (_e, m: Msg) => {
        envelopes.push(fromBinary(EnvelopeSchema, m.data).sessionId);
        m.respond(toBinary(EnvelopeAckSchema, create(EnvelopeAckSchema, {})));
      },
    });
    const p1 = run(1, op, [1, 2, 3], 30_000);
    p1.catch(() => {});
    let p2: Promise<unknown> | undefined;
    try {
      await until("party 1's join", () => genuine.has(1));
      // Party 3 joins, "restarts" with a new nonce while party 2 is still missing, then party 2 comes.
      harness().publish(joinSubject(op, 3), signedJoin(op, 3).bytes);
      const restarted = signedJoin(op, 3);
      await harness().flush();
      await sleep(200);
      harness().publish(joinSubject(op, 3), restarted.bytes);
      await harness().flush();
      await sleep(200);
      p2 = run(2, op, [1, 2, 3], 30_000);
      p2.catch(() => {});
      await until("party 1's round-1 envelope to party 3", () => envelopes.length > 0);
      genuine.set(3, { nonce: restarted.nonce, kxPublic: restarted.eph.publicKey });
      assert.equal(bytesToHex(envelopes[0]!), bytesToHex(deriveSessionId(op, genuine)));
    } finally {
      tap.unsubscribe();
      inbox.unsubscribe();
    }
  },
);
