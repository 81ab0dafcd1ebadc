/**
 * The pair lock against the attack that extracted a key on the old code: a malicious DKLs23
 * co-signer cheats the OT-extension consistency check (a one-bit oracle on Δ) and a hostile broker
 * rolls back or deletes every record that would remember it. The honest party must never run a
 * second session on that pairwise state, must cancel the sessions already running with the
 * culprit, and must stop serving the key when it cannot record the ban durably.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ProtocolError, type ProtocolMessage } from "@custody/core";
import { ecdsaScheme } from "@custody/dkls23";
import { shareBucket } from "@custody/proto";
import { inProcessHost, PermanentFailure, runSession, TransportError } from "@custody/runtime";
import { PartyLedger } from "@custody/store";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { runJob } from "../src/jobs.js";
import { PairGuard } from "../src/pair-guard.js";
import { SCHEMES } from "../src/schemes.js";
import { beginSession } from "../src/session-spec.js";
import { Bench, type Client, ctxOf, hostileHost, installShare, MemoryLog } from "./harness.js";

const SCHEME = "ecdsa-secp256k1";
const KEY = "key_pairlock";
/** Sign round 1 (P2P) carries the OT-extension matrix U after 96 bytes; a flipped bit there trips the consistency check. */
const U_ROW_BYTE = 96 + 80 * 3 + 5;

let bench: Bench;
let client: Client;
let share1: Uint8Array;
let share2: Uint8Array;
const kek1 = randomBytes(32);

before(async () => {
  bench = await Bench.start([1, 2]);
  client = bench.client();
  // A 2-of-2 key made in process once; party 1 is honest, party 2 the attacker.
  const sessionId = randomBytes(32);
  const { runLocal } = await import("@custody/core");
  const run = runLocal(
    new Map(
      [1, 2].map((p) => [p, () => ecdsaScheme.keygen({ sessionId, self: p, parties: [1, 2], threshold: 2 })]),
    ),
  );
  assert.equal(run.errors.size, 0);
  share1 = ecdsaScheme.encodeShare(run.results.get(1)!);
  share2 = ecdsaScheme.encodeShare(run.results.get(2)!);
});
after(async () => bench?.stop());

/** Party 2's side of a signing session, speaking the real protocol, with `edit` on what it sends. */
function attacker(
  operationId: string,
  message: Uint8Array,
  edit: (m: ProtocolMessage) => ProtocolMessage | null,
  onStart?: (out: readonly ProtocolMessage[]) => Promise<readonly ProtocolMessage[]>,
) {
  return (async () => {
    const nc = await connect({ servers: bench.server.url });
    try {
      return await runSession({
        nc,
        operationId,
        self: 2,
        participants: [1, 2],
        workerId: "evil",
        identity: bench.identities.get(2)!,
        directory: bench.directory,
        joinTimeoutMs: 20_000,
        roundTimeoutMs: 60_000,
        host: (sid) => {
          const h = hostileHost(
            inProcessHost(
              2,
              () =>
                beginSession(
                  SCHEMES,
                  { op: "sign", scheme: SCHEME, self: 2, signers: [1, 2], share: share2, message },
                  sid,
                ),
              16,
            ),
            edit,
          );
          return onStart ? { ...h, start: async () => onStart(await h.start()) } : h;
        },
      });
    } finally {
      await nc.close();
    }
  })();
}

const cheatOt = (m: ProtocolMessage) => {
  if (m.round !== 1 || m.to !== 1) return m;
  const payload = Uint8Array.from(m.payload);
  payload[U_ROW_BYTE]! ^= 1;
  return { ...m, payload };
};
const withhold = (m: ProtocolMessage) => (m.round === 1 ? null : m);

const isCode = (code: string) => (e: unknown) => e instanceof PermanentFailure && e.code === code;

describe("pair lock", { timeout: 240_000 }, () => {
  test("one cheated OT check bans the pair for good, even when the broker rolls the ban back", async () => {
    const env = await bench.worker(1, kek1);
    await installShare(env, KEY, SCHEME, share1, [1, 2]);
    const kv = await new Kvm(bench.broker).open(shareBucket(1));
    const before = (await kv.get(`${KEY}.state`))!.value;

    // The probe: the co-signer cheats the OT-extension check.
    const m1 = randomBytes(32);
    const probe = client.sign(KEY, SCHEME, 0, [1, 2], m1);
    const [honest] = await Promise.allSettled([
      runJob(env, ctxOf(probe)),
      attacker(probe.operationId, m1, cheatOt),
    ]);
    assert.equal(honest.status, "rejected");
    const err = (honest as PromiseRejectedResult).reason;
    assert.ok(err instanceof ProtocolError && err.kind === "security", String(err));
    assert.deepEqual([...err.culprits], [2]);
    assert.deepEqual(env.ledger.bannedPeers(env.tenant, KEY, 0), [2], "the ban is in the local ledger");
    assert.deepEqual((await env.store.state({ tenant: env.tenant, keyId: KEY, scheme: SCHEME }))?.bans, [
      { epoch: 0, peer: 2 },
    ]);

    // The broker rolls the key's state back to before the ban (and so erases it).
    await kv.put(`${KEY}.state`, before);
    assert.deepEqual((await env.store.state({ tenant: env.tenant, keyId: KEY, scheme: SCHEME }))?.bans, []);

    // A second probe with a fresh, correctly signed request: refused before any session starts.
    const m2 = randomBytes(32);
    const second = client.sign(KEY, SCHEME, 0, [1, 2], m2);
    await assert.rejects(runJob(env, ctxOf(second)), isCode("pair-locked"));

    // The same worker after a restart (its ledger reopened from disk) still refuses.
    const restarted = { ...env, ledger: PartyLedger.open(env.ledgerFile) };
    const guard = new PairGuard(restarted.ledger, new MemoryLog());
    await assert.rejects(
      runJob({ ...restarted, guard }, ctxOf(client.sign(KEY, SCHEME, 0, [1, 2], m2))),
      isCode("pair-locked"),
    );
    await env.nc.close();
  });

  test("another worker of the party learns the ban from the sealed state", async () => {
    const key = `${KEY}_shared`;
    const w1 = await bench.worker(1, kek1);
    await installShare(w1, key, SCHEME, share1, [1, 2]);
    const m = randomBytes(32);
    const probe = client.sign(key, SCHEME, 0, [1, 2], m);
    await Promise.allSettled([runJob(w1, ctxOf(probe)), attacker(probe.operationId, m, cheatOt)]);
    const w2 = await bench.worker(1, kek1); // its own, empty local ledger
    await assert.rejects(runJob(w2, ctxOf(client.sign(key, SCHEME, 0, [1, 2], m))), isCode("pair-locked"));
    await w1.nc.close();
    await w2.nc.close();
  });

  test("a security abort cancels the sessions of the key already running with the culprit", async () => {
    const key = `${KEY}_inflight`;
    const env = await bench.worker(1, kek1);
    await installShare(env, key, SCHEME, share1, [1, 2]);
    // Session A waits on the attacker, who withholds its round-1 message (the round timeout is 60 s).
    const ma = randomBytes(32);
    const a = client.sign(key, SCHEME, 0, [1, 2], ma);
    const waiting = runJob(env, ctxOf(a)).then(
      () => undefined,
      (e: unknown) => e,
    );
    const stalled = attacker(a.operationId, ma, withhold).catch(() => {});
    // Session B is where the attacker cheats.
    const mb = randomBytes(32);
    const b = client.sign(key, SCHEME, 0, [1, 2], mb);
    const [rb] = await Promise.allSettled([runJob(env, ctxOf(b)), attacker(b.operationId, mb, cheatOt)]);
    assert.equal(rb.status, "rejected");
    // A ends at once, aborted locally, not by its round timeout.
    const ea = await waiting;
    assert.ok(ea instanceof TransportError && ea.code === "aborted", `session A ended with ${String(ea)}`);
    await stalled;
    // Its redelivery is refused.
    await assert.rejects(runJob(env, ctxOf(a)), isCode("pair-locked"));
    await env.nc.close();
  });

  test("a ban that cannot be written durably makes the worker stop serving the key, and say so", async () => {
    const key = `${KEY}_unwritable`;
    const env = await bench.worker(1, kek1);
    await installShare(env, key, SCHEME, share1, [1, 2]);
    const kv = await new Kvm(bench.broker).open(shareBucket(1));
    const before = (await kv.get(`${key}.state`))!.value;
    // The worker's disk fails: its ledger file can no longer be appended to.
    rmSync(env.ledgerFile, { force: true });
    mkdirSync(env.ledgerFile);
    const m = randomBytes(32);
    const probe = client.sign(key, SCHEME, 0, [1, 2], m);
    const [honest] = await Promise.allSettled([
      runJob(env, ctxOf(probe)),
      attacker(probe.operationId, m, cheatOt),
    ]);
    // The abort stays the job's error: the failed lock write does not turn it into a retryable one.
    assert.equal(honest.status, "rejected");
    const err = (honest as PromiseRejectedResult).reason;
    assert.ok(err instanceof ProtocolError && err.kind === "security", String(err));
    assert.ok(
      env.log.lines.some((l) => l.level === "error" && /stops serving the key/.test(l.msg ?? "")),
      "the worker says it stops serving the key",
    );
    // The broker rolls the stored ban back; this worker still serves the key no more.
    await kv.put(`${key}.state`, before);
    await assert.rejects(
      runJob(env, ctxOf(client.sign(key, SCHEME, 0, [1, 2], randomBytes(32)))),
      isCode("key-unservable"),
    );
    await env.nc.close();
  });

  test("many probes released at once still get one failed check: the worker runs a key's steps one at a time", async () => {
    const key = `${KEY}_concurrent`;
    const env = await bench.worker(1, kek1);
    await installShare(env, key, SCHEME, share1, [1, 2]);
    const probes = 4;
    // Every attacker session holds its cheating round-1 message until all are ready, then all go.
    let ready = 0;
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < probes; i++) {
      const m = randomBytes(32);
      const item = client.sign(key, SCHEME, 0, [1, 2], m);
      jobs.push(runJob(env, ctxOf(item)));
      attacker(
        item.operationId,
        m,
        (x) => x,
        async (out) => {
          if (++ready === probes) setTimeout(release, 500); // every honest session is listening by then
          await gate;
          return out.map(cheatOt);
        },
      ).catch(() => {});
    }
    const outcomes = await Promise.allSettled(jobs);
    const failedChecks = outcomes.filter(
      (o) => o.status === "rejected" && o.reason instanceof ProtocolError && o.reason.kind === "security",
    ).length;
    assert.equal(failedChecks, 1, `failed OT-extension checks on one pairwise state: ${failedChecks}`);
    for (const o of outcomes) assert.equal(o.status, "rejected", "no probe signs");
    await env.nc.close();
  });
});
