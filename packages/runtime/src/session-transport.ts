/**
 * Runs one protocol session between parties over NATS Core.
 *
 * 1. Join barrier: every participant announces `Join{nonce}` on the operation's join subject until it
 *    has heard every other participant. The session id is the hash of the operation id and all
 *    nonces, so a retried or restarted worker always starts a new session (nonces are never
 *    resumed). A changed nonce from a peer aborts the session.
 * 2. Rounds: each message is a request to `custody.s.<sid>.m.<to>.<from>`; the receiver acks receipt.
 *    A receiver that does not listen yet answers "no responders" and the sender retries until the
 *    round deadline, so no round message is lost to a late subscriber.
 * 3. A round that makes no progress in time aborts as a `timeout` that blames nobody: slowness is
 *    not provable misbehaviour, so the parties waited for are named in the message only. Before
 *    that, the round runs the checks it deferred (`settle`), so a party whose message is invalid
 *    is still named while another stays silent. The wait
 *    is sized from measured cost: at least the round timeout, and at least four times the longest
 *    this party itself computed for one step (peers do the same work, possibly on a loaded host).
 *    A failing party tells its peers (round 0 envelope) so they abort at once instead of timing out.
 * @module
 */
import { equalBytes, type PartyId, ProtocolError, type ProtocolMessage, transcriptHash } from "@custody/core";
import {
  create,
  EnvelopeAckSchema,
  EnvelopeSchema,
  fromBinary,
  JoinSchema,
  joinSubject,
  joinWildcard,
  messageInbox,
  messageSubject,
  toBinary,
} from "@custody/proto";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import { TransportError } from "./errors.js";
import type { PartyDirectory, PartyIdentity } from "./party-identity.js";
import {
  envelopeSigningBytes,
  ephemeralKeyPair,
  joinSigningBytes,
  SessionCipher,
  signAs,
  verifyFrom,
} from "./secure-channel.js";
import type { SessionHost } from "./session-host.js";

/** Largest envelope a receiver accepts (bytes). */
export const MAX_ENVELOPE_BYTES = 1024 * 1024;

/** What to run and with whom. */
export interface RunSessionOptions<T> {
  readonly nc: NatsConnection;
  readonly operationId: string;
  readonly self: PartyId;
  /** All parties of the session, including `self`. */
  readonly participants: readonly PartyId[];
  readonly workerId: string;
  /** This party's long-term signing identity. */
  readonly identity: PartyIdentity;
  /** Every party's identity public key. */
  readonly directory: PartyDirectory;
  /** Builds the protocol host once the session id is known. */
  readonly host: (sessionId: Uint8Array) => SessionHost<T>;
  /** How long to wait for every participant to join. Default 20 s. */
  readonly joinTimeoutMs?: number;
  /** How long a round may make no progress. Default 30 s. */
  readonly roundTimeoutMs?: number;
  /** Aborts the session (e.g. on disconnect or shutdown). */
  readonly signal?: AbortSignal;
}

/** A finished session. */
export interface SessionOutcome<T> {
  readonly result: T;
  readonly sessionId: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One participant's signed join: its fresh nonce and ephemeral X25519 key. */
export interface JoinInfo {
  readonly nonce: Uint8Array;
  readonly kxPublic: Uint8Array;
}

/** Derives the session id from the operation id and every participant's join nonce and ephemeral key. */
export function deriveSessionId(operationId: string, joins: ReadonlyMap<PartyId, JoinInfo>): Uint8Array {
  const parts: (string | number | Uint8Array)[] = [operationId];
  for (const p of [...joins.keys()].sort((a, b) => a - b))
    parts.push(p, joins.get(p)!.nonce, joins.get(p)!.kxPublic);
  return transcriptHash("custody/session-id/v1", parts);
}

/** Runs the session to its end; rejects with a ProtocolError or TransportError. */
export async function runSession<T>(o: RunSessionOptions<T>): Promise<SessionOutcome<T>> {
  const { nc, self, operationId } = o;
  const participants = [...o.participants].sort((a, b) => a - b);
  const peers = participants.filter((p) => p !== self);
  const joinTimeoutMs = o.joinTimeoutMs ?? 20_000;
  const roundTimeoutMs = o.roundTimeoutMs ?? 30_000;
  const { identity, directory } = o;
  if (identity.party !== self) throw new TransportError("aborted", "identity belongs to another party");
  const nonce = randomBytes(32);
  const eph = ephemeralKeyPair();
  const nonces = new Map<PartyId, JoinInfo>([[self, { nonce, kxPublic: eph.publicKey }]]);
  let cipher: SessionCipher | undefined;
  let sessionId: Uint8Array | undefined;
  let host: SessionHost<T> | undefined;
  let failed: Error | undefined;
  let rejectFailure: (e: Error) => void = () => {};
  const failure = new Promise<never>((_, reject) => {
    rejectFailure = reject;
  });
  failure.catch(() => {});
  const fail = (e: Error) => {
    if (failed) return;
    failed = e;
    rejectFailure(e);
  };
  const onAbort = () => fail(new TransportError("aborted", "session aborted locally"));
  o.signal?.addEventListener("abort", onAbort);
  if (o.signal?.aborted) onAbort();

  let resolveJoined: () => void = () => {};
  const joined = new Promise<void>((resolve) => {
    resolveJoined = resolve;
  });
  const joinBytes = toBinary(
    JoinSchema,
    create(JoinSchema, {
      operationId,
      party: self,
      nonce,
      workerId: o.workerId,
      kxPublic: eph.publicKey,
      signature: signAs(identity, joinSigningBytes(operationId, self, nonce, eph.publicKey)),
    }),
  );
  // Publishing throws once the connection is closed: the session ends as disconnected, never an
  // exception out of a timer.
  const announce = () => {
    try {
      nc.publish(joinSubject(operationId, self), joinBytes);
    } catch (e) {
      fail(new TransportError("disconnected", "cannot announce the join", [], { cause: e }));
    }
  };
  const joinSub = nc.subscribe(joinWildcard(operationId), {
    callback: (err, m) => {
      if (err)
        return fail(new TransportError("disconnected", "join subscription failed", [], { cause: err }));
      let j: ReturnType<typeof fromBinary<typeof JoinSchema>>;
      try {
        j = fromBinary(JoinSchema, m.data);
      } catch {
        return;
      }
      const from = Number(m.subject.split(".").pop());
      if (j.party !== from || from === self || !participants.includes(from) || j.nonce.length !== 32) return;
      if (j.operationId !== operationId || j.kxPublic.length !== 32) return;
      if (!verifyFrom(directory, from, joinSigningBytes(operationId, from, j.nonce, j.kxPublic), j.signature))
        return;
      const known = nonces.get(from);
      if (known && !equalBytes(known.nonce, j.nonce)) {
        if (sessionId) return fail(new TransportError("peer-restarted", `party ${from} rejoined`, [from]));
      }
      nonces.set(from, { nonce: j.nonce, kxPublic: j.kxPublic });
      // A peer we had not heard yet may have missed our earlier announcements: answer at once.
      if (!known) announce();
      if (!sessionId && nonces.size === participants.length) resolveJoined();
    },
  });
  announce();
  const announcer = setInterval(announce, 250);

  const pending = new Set<Promise<void>>();
  let lastProgress = Date.now();
  /** Longest single protocol step this party computed, in ms (sizes the round wait). */
  let longestStepMs = 0;
  /** Steps this party is computing right now: its own work never counts as a peer's silence. */
  let computing = 0;
  const timed = async <R>(step: () => Promise<R>): Promise<R> => {
    const t0 = Date.now();
    computing++;
    try {
      return await step();
    } finally {
      computing--;
      longestStepMs = Math.max(longestStepMs, Date.now() - t0);
      lastProgress = Date.now();
    }
  };
  let inboxSub: ReturnType<NatsConnection["subscribe"]> | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let resolveResult: (v: T) => void = () => {};
  const resultReady = new Promise<T>((resolve) => {
    resolveResult = resolve;
  });

  const envelope = (to: number, round: number, plain: Uint8Array) => {
    const encrypted = to !== 0;
    const payload = encrypted ? cipher!.seal(to, round, plain) : plain;
    const signature = signAs(identity, envelopeSigningBytes(sessionId!, round, self, to, encrypted, payload));
    return toBinary(
      EnvelopeSchema,
      create(EnvelopeSchema, { sessionId, round, from: self, to, payload, encrypted, signature }),
    );
  };

  const deliverTo = async (to: PartyId, bytes: Uint8Array) => {
    const subject = messageSubject(bytesToHex(sessionId!), to, self);
    const deadline = Date.now() + roundTimeoutMs;
    for (let attempt = 0; !failed; attempt++) {
      try {
        const r = await nc.request(subject, bytes, { timeout: 2000 });
        const ack = fromBinary(EnvelopeAckSchema, r.data);
        if (ack.error)
          fail(new TransportError("send-failed", `party ${to} rejected an envelope: ${ack.error}`));
        return;
      } catch {
        if (Date.now() > deadline) {
          fail(new TransportError("send-failed", `party ${to} unreachable`, [to]));
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 500)));
      }
    }
  };

  const send = (out: readonly ProtocolMessage[]) => {
    for (const m of out) {
      const targets = m.to === "all" ? peers : [m.to];
      const bytes = (to: PartyId) => envelope(m.to === "all" ? 0 : to, m.round, m.payload);
      for (const to of targets) {
        const p = deliverTo(to, bytes(to));
        pending.add(p);
        p.finally(() => pending.delete(p));
      }
    }
  };

  const checkDone = async () => {
    const r = await host!.result();
    if (r) resolveResult(r.value);
  };

  const notifyAbort = (reason: string) => {
    if (!sessionId) return;
    const payload = encoder.encode(reason.slice(0, 200));
    for (const to of peers) {
      nc.request(messageSubject(bytesToHex(sessionId), to, self), envelope(0, 0, payload), {
        timeout: 1000,
      }).catch(() => {});
    }
  };

  try {
    const joinTimer = new Promise<never>((_, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new TransportError(
              "join-timeout",
              `not every participant joined in time (waiting for ${participants.filter((p) => !nonces.has(p)).join(", ")})`,
            ),
          ),
        joinTimeoutMs,
      );
      joined.finally(() => clearTimeout(t));
      failure.catch(() => clearTimeout(t));
    });
    joinTimer.catch(() => {});
    await Promise.race([joined, failure, joinTimer]);
    sessionId = deriveSessionId(operationId, nonces);
    const sid = sessionId;
    cipher = new SessionCipher(
      self,
      eph.secretKey,
      new Map(peers.map((p) => [p, nonces.get(p)!.kxPublic])),
      sid,
    );
    const sessionCipher = cipher;
    host = o.host(sid);
    const h = host;
    let chain: Promise<void> = (async () => {
      try {
        send(await timed(() => h.start()));
        lastProgress = Date.now();
        await checkDone();
      } catch (e) {
        fail(e as Error);
      }
    })();
    inboxSub = nc.subscribe(messageInbox(bytesToHex(sid), self), {
      callback: (err, m: Msg) => {
        if (err)
          return fail(new TransportError("disconnected", "inbox subscription failed", [], { cause: err }));
        const ack = (error = ""): void => {
          m.respond(toBinary(EnvelopeAckSchema, create(EnvelopeAckSchema, { error })));
        };
        if (m.data.length > MAX_ENVELOPE_BYTES) return ack("envelope too large");
        let env: ReturnType<typeof fromBinary<typeof EnvelopeSchema>>;
        try {
          env = fromBinary(EnvelopeSchema, m.data);
        } catch {
          return ack("malformed envelope");
        }
        const from = Number(m.subject.split(".").pop());
        if (env.from !== from || !peers.includes(from) || !equalBytes(env.sessionId, sid))
          return ack("envelope does not belong to this session");
        if (env.to !== 0 && env.to !== self) return ack("envelope addressed to another party");
        if (env.encrypted !== (env.to !== 0)) return ack("point-to-point messages must be encrypted");
        const signed = envelopeSigningBytes(sid, env.round, from, env.to, env.encrypted, env.payload);
        if (!verifyFrom(directory, from, signed, env.signature)) return ack("bad envelope signature");
        ack();
        if (env.round === 0) {
          const why = decoder.decode(env.payload.slice(0, 200));
          return fail(new TransportError("peer-aborted", `party ${from} aborted: ${why}`, [from]));
        }
        let payload: Uint8Array;
        try {
          payload = env.encrypted ? sessionCipher.open(from, env.round, env.payload) : env.payload;
        } catch {
          return fail(new ProtocolError("bad-message", "undecryptable point-to-point message", [from]));
        }
        const msg: ProtocolMessage = { round: env.round, from, to: env.to === 0 ? "all" : self, payload };
        chain = chain.then(async () => {
          if (failed) return;
          try {
            send(await timed(() => h.deliver(msg)));
            lastProgress = Date.now();
            await checkDone();
          } catch (e) {
            fail(e as Error);
          }
        });
      },
    });
    watchdog = setInterval(async () => {
      if (failed || computing > 0 || Date.now() - lastProgress < Math.max(roundTimeoutMs, 4 * longestStepMs))
        return;
      // Checks the round deferred run first: an invalid message is named even while another
      // party stays silent.
      const silentSince = lastProgress;
      computing++;
      try {
        await h.settle();
      } catch (e) {
        return fail(e as Error);
      } finally {
        computing--;
      }
      // A message that arrived meanwhile made progress: the round is no longer silent.
      if (computing > 0 || lastProgress !== silentSince) return;
      const missing = await h.missing().catch(() => []);
      fail(new ProtocolError("timeout", `round timed out (waiting for ${missing.join(", ") || "nobody"})`));
    }, 500);
    const result = await Promise.race([resultReady, failure]);
    while (pending.size > 0) await Promise.race([Promise.all([...pending]), failure]);
    if (failed) throw failed;
    return { result, sessionId: sid };
  } catch (e) {
    fail(e as Error);
    notifyAbort(e instanceof Error ? e.message : "aborted");
    throw failed ?? e;
  } finally {
    clearInterval(announcer);
    if (watchdog) clearInterval(watchdog);
    o.signal?.removeEventListener("abort", onAbort);
    joinSub.unsubscribe();
    inboxSub?.unsubscribe();
    await host?.close();
  }
}
