/**
 * The review's attacks through the whole stack, run as the attacker would: a compromised API that
 * publishes work items with its own NATS identity (replaying a create-key request onto an existing
 * key, re-signing a served request, signing at a retired epoch), and a malicious party that
 * publishes a forged signature result. Each must change nothing a client relies on.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { operationIdOf } from "@custody/core";
import { signRequest } from "@custody/credentials";
import {
  AUDIT_STREAM,
  ClientRequestSchema,
  create,
  fromBinary,
  REQUEST_STREAM,
  RESULT_STREAM,
  requestSubject,
  resultSubject,
  SignatureResultSchema,
  SignWorkSchema,
  toBinary,
  type WorkItem,
  WorkItemSchema,
  WorkResultSchema,
} from "@custody/proto";
import { type AuditRecord, connectNats, partyInbox, readCreds } from "@custody/runtime";
import { CustodyClient } from "@custody/sdk";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Stack } from "../src/index.js";
import { adminConnection, apiConnection, storedEpochs } from "./broker.js";
import { startTestStack, stopTestStack, verifyEd25519, workerName } from "./helpers.js";

const TIMEOUT = { timeout: 240_000 };
let stack: Stack | undefined;
let client: CustodyClient;
let api: NatsConnection;
let admin: NatsConnection;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  client = new CustodyClient(stack.apiUrl, stack.admin);
  api = await apiConnection(stack!);
  admin = await adminConnection(stack);
}, TIMEOUT);
after(async () => {
  await api?.close();
  await admin?.close();
  await stopTestStack(stack);
});

/** The work item the API published for operation `id` (read as the API may: a message get by subject). */
async function publishedItem(kind: "dkg" | "sign" | "refresh", id: string): Promise<WorkItem> {
  const jsm = await jetstreamManager(api, { checkAPI: false });
  const m = await jsm.streams.getMessage(REQUEST_STREAM, { last_by_subj: requestSubject(kind, id) });
  assert.ok(m, `work item of ${id}`);
  return fromBinary(WorkItemSchema, m.data);
}

/** Every party's result for operation `id`, waiting until each answered. */
async function resultsOf(id: string, parties: number[]) {
  const js: JetStreamClient = jetstream(admin);
  const stream = await js.streams.get(RESULT_STREAM);
  const out = new Map<number, ReturnType<typeof fromBinary<typeof WorkResultSchema>>>();
  const deadline = Date.now() + 60_000;
  while (out.size < parties.length) {
    assert.ok(Date.now() < deadline, `every party answered ${id} (got ${[...out.keys()]})`);
    for (const p of parties) {
      if (out.has(p)) continue;
      const m = await stream.getMessage({ last_by_subj: resultSubject(id, p) }).catch(() => null);
      if (m) out.set(p, fromBinary(WorkResultSchema, m.data));
    }
    if (out.size < parties.length) await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

const failureCode = (r: { outcome: { case?: string; value?: unknown } }) => {
  assert.equal(r.outcome.case, "failure", JSON.stringify(r.outcome.case));
  return (r.outcome.value as { code: string }).code;
};

async function newKey() {
  const op = await client.wait(
    await client.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }),
    120_000,
  );
  assert.equal(op.status, "succeeded", JSON.stringify(op.error));
  const key = await client.getKey(op.keyId);
  return { op, key };
}

test("a create-key request replayed by the API onto an existing key changes nothing", TIMEOUT, async () => {
  const { op, key } = await newKey();
  const item = await publishedItem("dkg", op.id);
  const js = jetstream(api);
  // The same item under a fresh message id (past the stream's de-duplication), and the same
  // request under another operation id: parties return their first outcome or refuse.
  await js.publish(requestSubject("dkg", op.id), toBinary(WorkItemSchema, item), { msgID: `${op.id}-again` });
  const otherId = `op_${randomBytes(16).toString("hex")}`;
  const moved = create(WorkItemSchema, { ...item, operationId: otherId });
  await js.publish(requestSubject("dkg", otherId), toBinary(WorkItemSchema, moved), { msgID: otherId });
  for (const [party, r] of await resultsOf(otherId, [1, 2, 3]))
    assert.equal(failureCode(r), "unauthorized-request", `party ${party}`);
  // The key is unchanged: it still signs under its public key.
  const message = randomBytes(16);
  const signed = await client.wait(await client.sign(key.id, { message: message.toString("hex") }), 60_000);
  assert.equal(signed.status, "succeeded", JSON.stringify(signed.error));
  assert.equal(signed.signature?.publicKey, key.publicKey);
  assert.ok(verifyEd25519(key.publicKey!, message, signed.signature!.signature));
});

test("a served sign request is not signed again, and a retired epoch never signs", TIMEOUT, async () => {
  const { key } = await newKey();
  const first = await client.wait(await client.sign(key.id, { message: "aa".repeat(8) }), 60_000);
  assert.equal(first.status, "succeeded");
  const item = await publishedItem("sign", first.id);
  const js = jetstream(api);
  const otherId = `op_${randomBytes(16).toString("hex")}`;
  await js.publish(
    requestSubject("sign", otherId),
    toBinary(WorkItemSchema, create(WorkItemSchema, { ...item, operationId: otherId })),
    {
      msgID: otherId,
    },
  );
  const signers = first.participants;
  for (const [party, r] of await resultsOf(otherId, signers))
    assert.equal(failureCode(r), "unauthorized-request", `party ${party}`);

  // Refresh: the old epoch is purged everywhere.
  const refreshed = await client.wait(await client.refresh(key.id), 120_000);
  assert.equal(refreshed.status, "succeeded", JSON.stringify(refreshed.error));
  for (const party of [1, 2, 3])
    assert.deepEqual(await storedEpochs(admin, party, key.id), [1], `party ${party}`);
  // A genuine client request to sign, turned by the API into a work item at the retired epoch 0.
  const path = `/v1/keys/${key.id}/sign`;
  const body = { message: "bb".repeat(8) };
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const h = signRequest(stack!.admin.seed, stack!.admin.credential, "POST", path, bytes);
  const request = create(ClientRequestSchema, {
    credential: h["custody-credential"],
    method: "POST",
    path,
    body: bytes,
    timestampMs: BigInt(h["custody-timestamp"]!),
    nonce: h["custody-nonce"],
    signature: h["custody-signature"],
  });
  const id = operationIdOf({ tenant: "default", credential: request.credential, nonce: request.nonce });
  const stale = create(WorkItemSchema, {
    operationId: id,
    keyId: key.id,
    scheme: "ed25519",
    tenant: "default",
    createdAtMs: BigInt(Date.now()),
    client: request,
    op: {
      case: "sign",
      value: create(SignWorkSchema, { epoch: 0, signers: [1, 2], message: Buffer.from(body.message, "hex") }),
    },
  });
  await js.publish(requestSubject("sign", id), toBinary(WorkItemSchema, stale), { msgID: id });
  for (const [party, r] of await resultsOf(id, [1, 2]))
    assert.equal(failureCode(r), "stale-epoch", `party ${party}`);
});

test(
  "a forged signature result from a party is refused by the API and audited; the real one wins",
  TIMEOUT,
  async () => {
    const { key } = await newKey();
    // Crash every worker (the API still counts them live for a few heartbeats), so the operation
    // stays pending while the forger speaks first; they come back once the forgery was judged.
    for (const p of [1, 2, 3]) await stack!.kill(workerName(p, 1));
    let opId: string;
    try {
      const op = await client.sign(key.id, { message: "cc".repeat(8) });
      opId = op.id;
      // The party the API did not pick as a signer publishes, with its own worker identity, a
      // signature result that does not verify. (A signer that forged its own result would only
      // withhold its share: its worker finds the result published and does not run again.)
      const forger = [1, 2, 3].find((p) => !op.participants.includes(p))!;
      const evil = await connectNats({
        servers: stack!.natsUrls,
        credentials: await stack!.serviceCredentials(workerName(forger, 1)),
        tls: stack!.pki.client(workerName(forger, 1)),
        name: "evil-party",
        inboxPrefix: partyInbox(forger),
      });
      const forged = create(WorkResultSchema, {
        operationId: op.id,
        party: forger,
        outcome: {
          case: "signature",
          value: create(SignatureResultSchema, {
            signature: randomBytes(64),
            publicKey: Buffer.from(key.publicKey!, "hex"),
            epoch: 0,
          }),
        },
      });
      await jetstream(evil).publish(resultSubject(op.id, forger), toBinary(WorkResultSchema, forged), {
        msgID: `${op.id}:${forger}`,
      });
      await evil.close();
      const deadline = Date.now() + 30_000;
      let cur = await client.operation(op.id);
      const report = () => (cur.reports as Record<string, string>)[String(forger)];
      while (!report()?.startsWith("rejected:")) {
        assert.ok(
          Date.now() < deadline,
          `the API refused the forged result (${JSON.stringify(cur.reports)})`,
        );
        assert.equal(cur.status, "pending", "the forged result did not end the operation");
        await new Promise((r) => setTimeout(r, 100));
        cur = await client.operation(op.id);
      }
      assert.equal(report(), "rejected:bad-result-signer");
      // The refusal is in the audit trail.
      const control = await connectNats({
        servers: stack!.natsUrls,
        credentials: readCreds(stack!.operator.controlCreds),
        tls: stack!.pki.client("admin"),
        name: "operator-control",
      });
      const audit = await jetstream(control).streams.get(AUDIT_STREAM);
      const info = await audit.info();
      const entries: AuditRecord[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await audit.getMessage({ seq });
        if (m) entries.push(JSON.parse(new TextDecoder().decode(m.data)) as AuditRecord);
      }
      await control.close();
      assert.ok(
        entries.some(
          (e) =>
            e.entry.kind === "rejected-result" &&
            e.entry.operationId === op.id &&
            e.entry.reason === "bad-result-signer" &&
            e.entry.result === `party ${forger}`,
        ),
        "the refused result is audited",
      );
    } finally {
      for (const p of [1, 2, 3]) stack!.startWorker(p, 1);
    }
    const done = await client.wait(opId, 60_000);
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    assert.ok(verifyEd25519(key.publicKey!, Buffer.from("cc".repeat(8), "hex"), done.signature!.signature));
  },
);
