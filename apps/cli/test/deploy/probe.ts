/**
 * Client side of the deployment test, run inside a host's namespace (`node probe.js ...`):
 *
 * - `ready <api-url> <parties>`: waits until the API answers ready with every party live.
 * - `cross-party <party-bundle> <other-party>`: connects with the bundle's own settings and
 *   credentials (the way its worker does: control account, then the tenant JWT from the registry)
 *   and tries party `<other-party>`'s share bucket, its protocol messages and its work queue. Prints
 *   one JSON object: what its own bucket answered, and the error each attempt on the other got.
 * @module
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { partyConsumer, REQUEST_STREAM, shareBucket } from "@custody/proto";
import { connectNats, partyInbox, publicKeyOfCredentials, readCreds, TenantRegistry } from "@custody/runtime";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { brokerTlsOf, Settings } from "../../src/commands/config.js";

async function ready(url: string, parties: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/readyz`);
      const body = (await r.json()) as { liveParties?: number[] };
      if (
        r.ok &&
        Array.from({ length: parties }, (_, i) => i + 1).every((p) => body.liveParties?.includes(p))
      )
        return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready in time`);
    await sleep(250);
  }
}

const outcome = async (attempt: () => Promise<unknown>): Promise<string> => {
  try {
    await attempt();
    return "allowed";
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};

async function crossParty(bundle: string, other: number): Promise<void> {
  const s = Settings.resolve("worker", { config: join(bundle, "worker.json") });
  const party = s.int("party");
  const credentials = readCreds(s.str("creds"));
  const base = {
    servers: s.list("nats")!,
    tls: brokerTlsOf(s),
    inboxPrefix: partyInbox(party),
    timeoutMs: 10_000,
  };
  const control = await connectNats({ ...base, credentials, name: "probe-control" });
  const entry = await (await TenantRegistry.open(control)).get("default");
  await control.close();
  const jwt = entry?.users[publicKeyOfCredentials(credentials)];
  if (!jwt) throw new Error("no tenant JWT for this identity");
  const nc: NatsConnection = await connectNats({
    ...base,
    credentials: { jwt, seed: credentials.seed },
    name: "probe",
  });
  const request = (subject: string, data = "") =>
    nc.request(subject, new TextEncoder().encode(data), { timeout: 5000 });
  const own = await outcome(async () => (await new Kvm(nc).open(shareBucket(party))).get("probe"));
  const bucket = shareBucket(other);
  const attempts = {
    openBucket: await outcome(async () => (await new Kvm(nc).open(bucket)).get("probe")),
    readShare: await outcome(() => request(`$JS.API.DIRECT.GET.KV_${bucket}.$KV.${bucket}.probe`)),
    writeShare: await outcome(() => request(`$KV.${bucket}.probe`, "overwritten")),
    pullWork: await outcome(() =>
      request(`$JS.API.CONSUMER.MSG.NEXT.${REQUEST_STREAM}.${partyConsumer(other)}`, '{"batch":1}'),
    ),
    hearMessages: await outcome(async () => {
      const sub = nc.subscribe(`custody.s.*.m.${other}.*`);
      await nc.flush();
      await sleep(300);
      if (sub.isClosed()) throw new Error(`subscription refused: ${String((await sub.closed) ?? "")}`);
    }),
  };
  await nc.close();
  console.log(JSON.stringify({ party, own, attempts }));
}

const [cmd, a, b] = process.argv.slice(2);
const run =
  cmd === "ready" ? ready(a!, Number(b)) : cmd === "cross-party" ? crossParty(a!, Number(b)) : undefined;
if (!run) {
  console.error("usage: probe.js ready <url> <parties> | cross-party <bundle> <other-party>");
  process.exit(2);
}
run.then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(String(e));
    process.exit(1);
  },
);
