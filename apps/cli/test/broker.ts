/**
 * Admin access to a test stack's broker, for assertions the HTTP API does not expose: which node
 * leads a stream or consumer, every result parties published, raw records for fault injection.
 * @module
 */
import {
  fromBinary,
  OPERATIONS_BUCKET,
  RESULT_STREAM,
  shareBucket,
  type WorkResult,
  WorkResultSchema,
} from "@custody/proto";
import { API_INBOX, connectNats, readCreds } from "@custody/runtime";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Stack } from "../src/index.js";

/** Connects as a tenant's admin user (full rights in the tenant's account). */
export function adminConnection(stack: Stack, tenant = "default"): Promise<NatsConnection> {
  return connectNats({
    servers: stack.natsUrls,
    credentials: readCreds(stack.tenantAdminCreds(tenant)),
    tls: stack.pki.client("admin"),
    name: "test-admin",
  });
}

/** Connects with the API's own identity (control account), as a compromised API would. */
export async function apiConnection(stack: Stack): Promise<NatsConnection> {
  return connectNats({
    servers: stack.natsUrls,
    credentials: await stack.serviceCredentials("api"),
    tls: stack.pki.client("api"),
    name: "evil-api",
    inboxPrefix: API_INBOX,
  });
}

/** Server name of the node leading a stream, or of a consumer when `consumer` is given. */
export async function leaderOf(nc: NatsConnection, stream: string, consumer?: string): Promise<string> {
  const jsm = await jetstreamManager(nc);
  const info = consumer ? await jsm.consumers.info(stream, consumer) : await jsm.streams.info(stream);
  const leader = info.cluster?.leader;
  if (!leader) throw new Error(`${stream}${consumer ? `/${consumer}` : ""} has no leader`);
  return leader;
}

/** Every result message in the result stream, grouped by operation id (stream order). */
export async function publishedResults(nc: NatsConnection): Promise<Map<string, WorkResult[]>> {
  const js = jetstream(nc, { timeout: 10_000 });
  const out = new Map<string, WorkResult[]>();
  const info = await (await jetstreamManager(nc)).streams.info(RESULT_STREAM);
  if (info.state.messages === 0) return out;
  const consumer = await js.consumers.get(RESULT_STREAM);
  const iter = await consumer.consume({ max_messages: 1000 });
  for await (const m of iter) {
    const r = fromBinary(WorkResultSchema, m.data);
    // Progress reports are not results: a party sends one per session attempt.
    if (r.outcome.case !== "progress") out.set(r.operationId, [...(out.get(r.operationId) ?? []), r]);
    if (m.info.pending === 0 && m.seq >= info.state.last_seq) break;
  }
  await iter.close().catch(() => {});
  return out;
}

/** Writes a raw operation record (JSON) into the operations bucket. */
export async function putOperationRecord(nc: NatsConnection, record: { id: string }): Promise<void> {
  const kv = await new Kvm(nc).open(OPERATIONS_BUCKET);
  await kv.put(record.id, new TextEncoder().encode(JSON.stringify(record)));
}

/** Epochs of `keyId` that party `party` holds a share of (ascending; shares live at `<key>.<epoch>.<session>`). */
export async function storedEpochs(nc: NatsConnection, party: number, keyId: string): Promise<number[]> {
  const kv = await new Kvm(nc).open(shareBucket(party));
  const epochs = new Set<number>();
  for await (const k of await kv.keys(`${keyId}.*.*`)) epochs.add(Number(k.split(".")[1]));
  return [...epochs].sort((a, b) => a - b);
}
