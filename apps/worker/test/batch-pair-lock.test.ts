/**
 * A DKLs23 `security` abort inside one item of a signing batch bans the pair exactly as in a
 * single signing: the honest party runs the batch in a worker thread (the default for ECDSA
 * batches), the co-signer cheats the OT-extension consistency check of one instance only, and the
 * thread's abort reaches the job with its kind and culprit, so the pair is banned and the next
 * request is refused before any session.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { ProtocolError, type ProtocolMessage, runLocal } from "@custody/core";
import { ecdsaScheme } from "@custody/dkls23";
import type { WorkItem } from "@custody/proto";
import { inProcessHost, PermanentFailure, runSession } from "@custody/runtime";
import { connect } from "@nats-io/transport-node";
import { defaultInThread, runJob } from "../src/jobs.js";
import { SCHEMES } from "../src/schemes.js";
import { beginSession } from "../src/session-spec.js";
import { Bench, type Client, ctxOf, hostileHost, installShare } from "./harness.js";

const SCHEME = "ecdsa-secp256k1";
const KEY = "key_batchlock";
/** In a DKLs23 sign round-1 P2P part, the OT-extension matrix U starts after 96 bytes. */
const U_ROW_BYTE = 96 + 80 * 3 + 5;

let bench: Bench;
let client: Client;
let share1: Uint8Array;
let share2: Uint8Array;

before(async () => {
  bench = await Bench.start([1, 2]);
  client = bench.client();
  const sessionId = randomBytes(32);
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

const _hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The batch work item an honest API publishes for a signed request of `messages`. */
function batchItem(messages: Uint8Array[]): WorkItem {
  return client.signBatch(
    KEY,
    SCHEME,
    0,
    [1, 2],
    messages.map((message) => ({ message })),
  );
}

/**
 * Party 2's side of the batch session, speaking the real protocol, with one bit of instance
 * `cheat`'s round-1 message to party 1 flipped. A batch message is `u32 k ‖ (u32 len ‖ part) × k`.
 */
async function attacker(operationId: string, messages: Uint8Array[], cheat: number) {
  const edit = (m: ProtocolMessage): ProtocolMessage => {
    if (m.round !== 1 || m.to !== 1) return m;
    const payload = Uint8Array.from(m.payload);
    const view = new DataView(payload.buffer);
    let at = 4;
    for (let i = 0; i < cheat; i++) at += 4 + view.getUint32(at);
    payload[at + 4 + U_ROW_BYTE]! ^= 1;
    return { ...m, payload };
  };
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
      host: (sid) =>
        hostileHost(
          inProcessHost(
            2,
            () =>
              beginSession(
                SCHEMES,
                {
                  op: "sign-batch",
                  scheme: SCHEME,
                  self: 2,
                  signers: [1, 2],
                  share: share2,
                  items: messages.map((message) => ({ message })),
                },
                sid,
              ),
            16,
          ),
          edit,
        ),
    });
  } finally {
    await nc.close();
  }
}

test("a cheated OT check in one batch item, in the worker thread, bans the pair", {
  timeout: 120_000,
}, async () => {
  // The bench's workers run sessions in process; this one keeps the worker's default.
  const env = { ...(await bench.worker(1, randomBytes(32))), inThread: defaultInThread };
  await installShare(env, KEY, SCHEME, share1, [1, 2]);
  const messages = [randomBytes(32), randomBytes(32)];
  const item = batchItem(messages);
  const work = item.op.value as { batch: unknown[] };
  assert.equal(work.batch.length, 2);
  assert.ok(
    defaultInThread({ op: "sign-batch", scheme: SCHEME, self: 1, signers: [1, 2], share: share1, items: [] }),
    "an ECDSA batch runs in a worker thread",
  );
  let threads = 0;
  const counting = {
    ...env,
    inThread: (spec: Parameters<typeof defaultInThread>[0]) => {
      const t = defaultInThread(spec);
      if (t) threads++;
      return t;
    },
  };
  const [honest] = await Promise.allSettled([
    runJob(counting, ctxOf(item)),
    attacker(item.operationId, messages, 1),
  ]);
  assert.equal(threads, 1, "the honest batch session ran in a worker thread");
  assert.equal(honest.status, "rejected");
  const err = (honest as PromiseRejectedResult).reason;
  assert.ok(err instanceof ProtocolError && err.kind === "security", String(err));
  assert.deepEqual([...err.culprits], [2]);
  assert.deepEqual(env.ledger.bannedPeers(env.tenant, KEY, 0), [2], "the ban is in the local ledger");
  assert.deepEqual((await env.store.state({ tenant: env.tenant, keyId: KEY, scheme: SCHEME }))?.bans, [
    { epoch: 0, peer: 2 },
  ]);
  // The next request with this co-signer, batch or single, is refused before any session.
  await assert.rejects(
    runJob(env, ctxOf(batchItem([randomBytes(32)]))),
    (e) => e instanceof PermanentFailure && e.code === "pair-locked",
  );
  await assert.rejects(
    runJob(env, ctxOf(client.sign(KEY, SCHEME, 0, [1, 2], randomBytes(32)))),
    (e) => e instanceof PermanentFailure && e.code === "pair-locked",
  );
  await env.nc.close();
});
