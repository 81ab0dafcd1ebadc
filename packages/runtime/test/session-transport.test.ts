/**
 * The session transport against a real nats-server: sessions complete, and recorded or forged
 * envelopes are refused (another session, another round, another sender, bad ciphertext).
 * Every wait has a deadline and fails with a message naming what did not happen; only transport
 * requests are retried (while the receiver has not subscribed yet), never an assertion.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeWith, done, next, type PartyId, ProtocolError, type Round, Writer } from "@custody/core";
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

/** Toy protocol: one broadcast round; result = sum of everybody's byte. */
function toy(self: PartyId, parties: readonly PartyId[], value: number) {
  const peers = parties.filter((p) => p !== self);
  const got = new Map<PartyId, number>();
  const r1: Round<number> = {
    number: 1,
    expects: { from: peers, broadcast: true, p2p: true },
    receive(m) {
      const v = decodeWith(m.payload, (r) => r.u8());
      if (m.to === "all") got.set(m.from, v);
    },
    finalize: () => done(value + [...got.values()].reduce((a, b) => a + b, 0)),
  };
  return () =>
    next(r1, [
      { round: 1, from: self, to: "all" as const, payload: new Writer().u8(value).finish() },
      ...peers.map((to) => ({ round: 1, from: self, to, payload: new Writer().u8(0).finish() })),
    ]);
}

/** How long the harness waits for a peer to join or to answer before the test fails. */
const WAIT_MS = 10_000;
/** Per-test bound, so a hang fails instead of stalling the run. */
const TEST_TIMEOUT = { timeout: 120_000 };

/**
 * Sends `data` from the harness connection and returns the reply. Retries only while nobody answers
 * (the receiving party may not have subscribed yet); fails once `withinMs` passed.
 */
async function requestWithin(subject: string, data: Uint8Array, withinMs = WAIT_MS): Promise<Msg> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await conns[3]!.request(subject, data, { timeout: 1000 });
    } catch (e) {
      if (!unanswered(e)) throw e;
      if (Date.now() >= deadline)
        throw new Error(`nobody answered on ${subject} within ${withinMs} ms`, { cause: e });
      await sleep(50);
    }
  }
}

/** The error text of the ack to an envelope sent to `subject` ("" when accepted). */
const ackError = async (subject: string, data: Uint8Array) =>
  fromBinary(EnvelopeAckSchema, (await requestWithin(subject, data)).data).error;

/** Plays party 3's inbox: acks whatever arrives. */
function ackAll(nc: NatsConnection, sidHex: string) {
  return nc.subscribe(`custody.s.${sidHex}.m.3.*`, {
    callback: (_e, m) => {
      m.respond(toBinary(EnvelopeAckSchema, create(EnvelopeAckSchema, {})));
    },
  });
}

/** What the harness knows after joining a session as party 3. */
interface HarnessJoin {
  readonly sid: Uint8Array;
  readonly sidHex: string;
  readonly joins: Map<number, JoinInfo>;
  readonly eph: { secretKey: Uint8Array; publicKey: Uint8Array };
  readonly join: ReturnType<typeof create<typeof JoinSchema>>;
}

/**
 * Plays party 3 in the join barrier of `operationId` (the sessions of `peers` must be started):
 * announces a signed join until every peer's join was seen (peers re-announce every 250 ms), then
 * once more, and derives the session id exactly as the peers do. `noise` runs before announcing.
 */
async function joinAsParty3(
  operationId: string,
  peers: number[],
  noise?: (join: HarnessJoin["join"]) => void,
): Promise<HarnessJoin> {
  const sniffer = conns[3]!;
  const joins = new Map<number, JoinInfo>();
  const tap = sniffer.subscribe(joinWildcard(operationId), {
    callback: (_e, m) => {
      try {
        const j = fromBinary(JoinSchema, m.data);
        if (peers.includes(j.party)) joins.set(j.party, { nonce: j.nonce, kxPublic: j.kxPublic });
      } catch {
        // noise
      }
    },
  });
  const eph = ephemeralKeyPair();
  const nonce = randomBytes(32);
  const join = create(JoinSchema, {
    operationId,
    party: 3,
    nonce,
    workerId: "harness",
    kxPublic: eph.publicKey,
    signature: signAs(ids.get(3)!, joinSigningBytes(operationId, 3, nonce, eph.publicKey)),
  });
  noise?.(join);
  const deadline = Date.now() + WAIT_MS;
  try {
    while (joins.size < peers.length) {
      if (Date.now() >= deadline) {
        const missing = peers.filter((p) => !joins.has(p));
        throw new Error(`parties ${missing.join(", ")} did not join ${operationId} within ${WAIT_MS} ms`);
      }
      sniffer.publish(joinSubject(operationId, 3), toBinary(JoinSchema, join));
      await sleep(50);
    }
  } finally {
    tap.unsubscribe();
  }
  sniffer.publish(joinSubject(operationId, 3), toBinary(JoinSchema, join));
  joins.set(3, { nonce, kxPublic: eph.publicKey });
  const sid = deriveSessionId(operationId, joins);
  return { sid, sidHex: bytesToHex(sid), joins, eph, join };
}

/** A round-1 envelope from party 3 (the harness), signed with party 3's identity. */
const fromParty3 = (sid: Uint8Array, to: number, payload: Uint8Array, encrypted: boolean) =>
  signedEnvelope(ids.get(3)!, sid, to, payload, encrypted);

let server: NatsServer;
let dir: string;
const conns: NatsConnection[] = [];
const ids = new Map<number, PartyIdentity>();
let directory: Map<number, Uint8Array>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-transport-"));
  const broker = await startTrustedServer({ dir, tenants: ["t"] });
  server = broker.server;
  const user = await newUser(broker.account("t"), "tester");
  for (const p of [1, 2, 3]) ids.set(p, createPartyIdentity(p, join(dir, `p${p}.id`)));
  directory = new Map([...ids].map(([p, id]) => [p, id.publicKey]));
  for (let i = 0; i < 4; i++)
    conns.push(await connectNats({ servers: [server.url], credentials: user, name: `t${i}` }));
});
after(async () => {
  for (const c of conns) await c.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const run = (
  nc: NatsConnection,
  operationId: string,
  self: number,
  parties: number[],
  roundTimeoutMs = 5000,
) =>
  runSession<number>({
    nc,
    operationId,
    self,
    participants: parties,
    workerId: `w${self}`,
    identity: ids.get(self)!,
    directory,
    roundTimeoutMs,
    joinTimeoutMs: 5000,
    host: () => inProcessHost(self, toy(self, parties, self), 4),
  });

test("three parties complete a session with signed, encrypted messages", TEST_TIMEOUT, async () => {
  const outs = await Promise.all([1, 2, 3].map((p) => run(conns[p - 1]!, "op_ok", p, [1, 2, 3])));
  assert.deepEqual(
    outs.map((o) => o.result),
    [6, 6, 6],
  );
  assert.equal(new Set(outs.map((o) => bytesToHex(o.sessionId))).size, 1);
});

test(
  "recorded, moved or forged envelopes are refused and the session still completes",
  TEST_TIMEOUT,
  async () => {
    const sniffer = conns[3]!;
    // Session A between parties 1 and 2: record an envelope 1 -> 2.
    const recorded: Uint8Array[] = [];
    const tap = sniffer.subscribe("custody.s.*.m.2.1", {
      callback: (_e, m) => {
        recorded.push(m.data);
      },
    });
    await sniffer.flush();
    await Promise.all([run(conns[0]!, "op_a", 1, [1, 2]), run(conns[1]!, "op_a", 2, [1, 2])]);
    tap.unsubscribe();
    const old = fromBinary(EnvelopeSchema, recorded.find((d) => fromBinary(EnvelopeSchema, d).to === 2)!);
    assert.equal(old.encrypted, true, "point-to-point payloads travel encrypted");

    // Session B among 1, 2 and 3, where the test plays party 3 by hand.
    const p1 = run(conns[0]!, "op_b", 1, [1, 2, 3]);
    const p2 = run(conns[1]!, "op_b", 2, [1, 2, 3]);
    const { sid, sidHex, joins, eph } = await joinAsParty3("op_b", [1, 2]);
    const cipher = new SessionCipher(
      3,
      eph.secretKey,
      new Map([1, 2].map((p) => [p, joins.get(p)!.kxPublic])),
      sid,
    );
    const inbox = ackAll(sniffer, sidHex);

    const ask = (subject: string, env: ReturnType<typeof fromBinary<typeof EnvelopeSchema>>) =>
      ackError(subject, toBinary(EnvelopeSchema, env));
    // (a) replayed as is into session B
    assert.match(await ask(messageSubject(sidHex, 2, 1), old), /does not belong/);
    // (b) replayed with session B's id
    assert.match(
      await ask(messageSubject(sidHex, 2, 1), create(EnvelopeSchema, { ...old, sessionId: sid })),
      /signature/,
    );
    // A genuine party-3 broadcast, then the same with another round or another sender.
    const payload = new Writer().u8(3).finish();
    const genuine = fromParty3(sid, 0, payload, false);
    assert.match(await ask(messageSubject(sidHex, 1, 3), { ...genuine, round: 2 }), /signature/);
    assert.match(await ask(messageSubject(sidHex, 1, 2), { ...genuine, from: 2 }), /signature/);
    assert.match(await ask(messageSubject(sidHex, 1, 3), { ...genuine, to: 1 }), /encrypted|signature/);
    // Now behave: broadcast, plus encrypted point-to-point messages.
    for (const to of [1, 2]) {
      assert.equal(await ask(messageSubject(sidHex, to, 3), genuine), "");
      const ct = cipher.seal(to, 1, new Writer().u8(0).finish());
      assert.equal(await ask(messageSubject(sidHex, to, 3), fromParty3(sid, to, ct, true)), "");
    }
    const [r1, r2] = await Promise.all([p1, p2]);
    inbox.unsubscribe();
    assert.equal(r1.result, 6);
    assert.equal(r2.result, 6);
  },
);

test(
  "a tampered ciphertext with a valid signature aborts the receiver, blaming the sender",
  TEST_TIMEOUT,
  async () => {
    const sniffer = conns[3]!;
    const p1 = run(conns[0]!, "op_c", 1, [1, 3]);
    p1.catch(() => {});
    const { sid } = await joinAsParty3("op_c", [1]);
    const inbox = ackAll(sniffer, bytesToHex(sid));
    const garbage = randomBytes(17);
    const env = fromParty3(sid, 1, garbage, true);
    await requestWithin(messageSubject(bytesToHex(sid), 1, 3), toBinary(EnvelopeSchema, env));
    await assert.rejects(
      p1,
      (e: { culprits?: number[]; kind?: string }) => e.kind === "bad-message" && e.culprits?.[0] === 3,
    );
    inbox.unsubscribe();
  },
);

test("thousands of fuzzed envelopes are refused without disturbing the session", TEST_TIMEOUT, async () => {
  const sniffer = conns[3]!;
  const p1 = run(conns[0]!, "op_fuzz", 1, [1, 3], 60_000);
  // Forged joins (bad signature, wrong party, garbage) must be ignored.
  const { sid, sidHex, joins, eph } = await joinAsParty3("op_fuzz", [1], (join3) => {
    for (let i = 0; i < 200; i++) {
      const bad =
        i % 2 === 0 ? randomBytes(i % 97) : toBinary(JoinSchema, { ...join3, nonce: randomBytes(32) });
      sniffer.publish(joinSubject("op_fuzz", 3), bad);
    }
  });
  const inbox = ackAll(sniffer, sidHex);
  const payload = new Writer().u8(3).finish();
  const genuine = fromParty3(sid, 0, payload, false);
  const bytes = toBinary(EnvelopeSchema, genuine);
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let refused = 0;
  let acceptedDifferent = 0;
  for (let i = 0; i < 2000; i++) {
    let data: Uint8Array;
    if (i % 4 === 0) data = randomBytes(rand(300));
    else if (i % 4 === 1) {
      data = Uint8Array.from(bytes);
      data[rand(data.length)]! ^= 1 << rand(8);
    } else if (i % 4 === 2) data = bytes.subarray(0, rand(bytes.length));
    else data = toBinary(EnvelopeSchema, { ...genuine, round: rand(40), payload: randomBytes(rand(64)) });
    const r = await requestWithin(messageSubject(sidHex, 1, 3), data);
    let err = "";
    try {
      err = fromBinary(EnvelopeAckSchema, r.data).error;
    } catch {
      err = "unreadable ack";
    }
    if (err !== "") refused++;
    else if (!sameEnvelope(data, genuine)) acceptedDifferent++;
  }
  // Some bit flips decode to exactly the genuine envelope (protobuf slack): accepting those is
  // harmless. Everything that differs in any field was refused.
  assert.equal(acceptedDifferent, 0);
  assert.ok(refused > 1900, `refused ${refused} of 2000`);
  assert.equal(await ackError(messageSubject(sidHex, 1, 3), bytes), "", "the genuine broadcast");
  const ct = SessionCipherFor(eph.secretKey, joins, sid).seal(1, 1, new Writer().u8(0).finish());
  const p2p = fromParty3(sid, 1, ct, true);
  assert.equal(
    await ackError(messageSubject(sidHex, 1, 3), toBinary(EnvelopeSchema, p2p)),
    "",
    "the genuine point-to-point message",
  );
  assert.equal((await p1).result, 4);
  inbox.unsubscribe();
});

function sameEnvelope(data: Uint8Array, genuine: ReturnType<typeof create<typeof EnvelopeSchema>>): boolean {
  try {
    const e = fromBinary(EnvelopeSchema, data);
    const eq = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    return (
      eq(e.sessionId, genuine.sessionId) &&
      e.round === genuine.round &&
      e.from === genuine.from &&
      e.to === genuine.to &&
      e.encrypted === genuine.encrypted &&
      eq(e.payload, genuine.payload) &&
      eq(e.signature, genuine.signature)
    );
  } catch {
    return false;
  }
}

function SessionCipherFor(secret: Uint8Array, joins: Map<number, JoinInfo>, sid: Uint8Array) {
  return new SessionCipher(3, secret, new Map([[1, joins.get(1)!.kxPublic]]), sid);
}

test(
  "a silent peer makes the round time out without blaming anyone; the message says whom it waited for",
  TEST_TIMEOUT,
  async () => {
    const p1 = run(conns[0]!, "op_silent", 1, [1, 3], 1500);
    p1.catch(() => {});
    const { sidHex } = await joinAsParty3("op_silent", [1]);
    const inbox = ackAll(conns[3]!, sidHex); // party 3 listens but never sends its round-1 message
    await assert.rejects(p1, (e: unknown) => {
      assert.ok(e instanceof ProtocolError, String(e));
      assert.equal(e.kind, "timeout");
      assert.deepEqual([...e.culprits], [], "slowness is not an identifiable abort");
      assert.match(e.message, /waiting for 3/);
      return true;
    });
    inbox.unsubscribe();
  },
);

/** Toy round that checks messages only in `finalize` or `settle`: a broadcast byte 0xff is invalid. */
function deferring(self: PartyId, parties: readonly PartyId[], value: number) {
  const peers = parties.filter((p) => p !== self);
  const got = new Map<PartyId, number>();
  const checkAll = () => {
    for (const [from, v] of got)
      if (v === 0xff) throw new ProtocolError("bad-message", "invalid value", [from]);
  };
  const r1: Round<number> = {
    number: 1,
    expects: { from: peers, broadcast: true, p2p: false },
    receive: (m) => {
      got.set(
        m.from,
        decodeWith(m.payload, (r) => r.u8()),
      );
    },
    settle: checkAll,
    finalize: () => {
      checkAll();
      return done(value);
    },
  };
  return () =>
    next(r1, [{ round: 1, from: self, to: "all" as const, payload: new Writer().u8(value).finish() }]);
}

test(
  "a round that times out still names a party whose message failed the checks the round deferred",
  TEST_TIMEOUT,
  async () => {
    // Party 2 waits far longer, so party 1's watchdog always fires first (party 2 then ends on
    // party 1's abort notice).
    const session = (self: number, value: number) =>
      runSession<number>({
        nc: conns[self - 1]!,
        operationId: "op_deferred",
        self,
        participants: [1, 2, 3],
        workerId: `w${self}`,
        identity: ids.get(self)!,
        directory,
        roundTimeoutMs: self === 1 ? 1500 : 60_000,
        joinTimeoutMs: 5000,
        host: () => inProcessHost(self, deferring(self, [1, 2, 3], value), 4),
      });
    const p1 = session(1, 1);
    const p2 = session(2, 0xff); // party 2's message is invalid
    p1.catch(() => {});
    p2.catch(() => {});
    const { sidHex } = await joinAsParty3("op_deferred", [1, 2]);
    const inbox = ackAll(conns[3]!, sidHex); // party 3 stays silent, so the round cannot finish
    await assert.rejects(p1, (e: unknown) => {
      assert.ok(e instanceof ProtocolError, String(e));
      assert.equal(e.kind, "bad-message");
      assert.deepEqual([...e.culprits], [2]);
      return true;
    });
    await assert.rejects(p2);
    inbox.unsubscribe();
  },
);

test("a participant that never joins times out the join without blaming it", TEST_TIMEOUT, async () => {
  await assert.rejects(run(conns[0]!, "op_nojoin", 1, [1, 2]), (e: unknown) => {
    assert.ok(e instanceof TransportError, String(e));
    assert.equal(e.code, "join-timeout");
    assert.deepEqual([...e.culprits], []);
    assert.match(e.message, /waiting for 2/);
    return true;
  });
});

test("a party's own long step never counts as a peer's silence", TEST_TIMEOUT, async () => {
  // Each party spends longer computing a step than the round timeout allows for silence, and party
  // 2 three times as long as party 1, so party 1 also waits longer than the round timeout for it.
  const slow = (self: number) =>
    runSession<number>({
      nc: conns[self - 1]!,
      operationId: "op_slowstep",
      self,
      participants: [1, 2],
      workerId: `w${self}`,
      identity: ids.get(self)!,
      directory,
      roundTimeoutMs: 600,
      joinTimeoutMs: 5000,
      host: () => {
        const inner = inProcessHost(self, toy(self, [1, 2], self), 4);
        const pause = () => new Promise((r) => setTimeout(r, self === 1 ? 500 : 1500));
        return {
          ...inner,
          start: async () => {
            await pause();
            return inner.start();
          },
          deliver: async (m) => {
            await pause();
            return inner.deliver(m);
          },
        };
      },
    });
  const outs = await Promise.all([slow(1), slow(2)]);
  assert.deepEqual(
    outs.map((o) => o.result),
    [3, 3],
  );
});

test("a join that fails any one check is ignored: the session never starts on it", TEST_TIMEOUT, async () => {
  // Each forged join is wrong in exactly one respect; accepted, it would complete the join barrier
  // (parties 1 and 2 would then start rounds and time out in round 1, not at the join).
  const signed = (op: string, party: number, by: number, nonce: Uint8Array, kx: Uint8Array) =>
    create(JoinSchema, {
      operationId: op,
      party,
      nonce,
      workerId: "forger",
      kxPublic: kx,
      signature: signAs(ids.get(by)!, joinSigningBytes(op, party, nonce, kx)),
    });
  const cases: Record<string, (op: string) => { subjectParty: number; join: ReturnType<typeof signed> }> = {
    "another party's subject": (op) => ({
      subjectParty: 2,
      join: signed(op, 3, 3, randomBytes(32), randomBytes(32)),
    }),
    "signed by another party": (op) => ({
      subjectParty: 3,
      join: signed(op, 3, 2, randomBytes(32), randomBytes(32)),
    }),
    "short nonce": (op) => ({ subjectParty: 3, join: signed(op, 3, 3, randomBytes(31), randomBytes(32)) }),
    "short exchange key": (op) => ({
      subjectParty: 3,
      join: signed(op, 3, 3, randomBytes(32), randomBytes(31)),
    }),
    "another operation": (op) => ({
      subjectParty: 3,
      join: signed(`${op}x`, 3, 3, randomBytes(32), randomBytes(32)),
    }),
  };
  for (const [name, make] of Object.entries(cases)) {
    const op = `op_forged_${name.replace(/[^a-z]/g, "")}`;
    const run2 = (self: number) =>
      runSession<number>({
        nc: conns[self - 1]!,
        operationId: op,
        self,
        participants: [1, 2, 3],
        workerId: `w${self}`,
        identity: ids.get(self)!,
        directory,
        roundTimeoutMs: 5000,
        joinTimeoutMs: 1500,
        host: () => inProcessHost(self, toy(self, [1, 2, 3], self), 4),
      });
    const sessions = [run2(1), run2(2)];
    const { subjectParty, join } = make(op);
    const forger = setInterval(
      () => conns[3]!.publish(joinSubject(op, subjectParty), toBinary(JoinSchema, join)),
      50,
    );
    try {
      for (const s of sessions)
        await assert.rejects(s, (e: unknown) => {
          assert.ok(e instanceof TransportError && e.code === "join-timeout", `${name}: ${String(e)}`);
          return true;
        });
    } finally {
      clearInterval(forger);
    }
  }
});

test(
  "another party's identity is refused; a caller's abort ends the session and its peers hear of it at once",
  TEST_TIMEOUT,
  async () => {
    await assert.rejects(
      runSession<number>({
        nc: conns[0]!,
        operationId: "op_wrongid",
        self: 1,
        participants: [1, 2],
        workerId: "w1",
        identity: ids.get(2)!,
        directory,
        host: () => inProcessHost(1, toy(1, [1, 2], 1), 4),
      }),
      (e: unknown) => e instanceof TransportError && e.code === "aborted" && /another party/.test(e.message),
    );
    // Party 1 aborts (its caller's signal) while party 2 waits in round 1: party 2 learns it from
    // party 1's abort notice, long before its 60 s round timeout.
    const controller = new AbortController();
    const slowHost = (self: number) => {
      const inner = inProcessHost(self, toy(self, [1, 2], self), 4);
      return self === 1 ? { ...inner, start: () => new Promise<never>(() => {}) } : inner;
    };
    const session = (self: number, signal?: AbortSignal) =>
      runSession<number>({
        nc: conns[self - 1]!,
        operationId: "op_aborted",
        self,
        participants: [1, 2],
        workerId: `w${self}`,
        identity: ids.get(self)!,
        directory,
        roundTimeoutMs: 60_000,
        joinTimeoutMs: 5000,
        signal,
        host: () => slowHost(self),
      });
    const p1 = session(1, controller.signal);
    const p2 = session(2);
    setTimeout(() => controller.abort(), 1000);
    await assert.rejects(p1, (e: unknown) => e instanceof TransportError && e.code === "aborted");
    await assert.rejects(p2, (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.equal(e.code, "peer-aborted");
      assert.deepEqual([...e.culprits], [1]);
      return true;
    });
  },
);
