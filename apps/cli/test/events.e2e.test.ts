/**
 * Operation events against the real stack: the server-sent event stream shows a DKG and a sign
 * from creation through their progress to success and resumes after a Last-Event-ID with nothing
 * missed; webhook receivers (node:http on loopback) get every change once, each signed with the
 * API's Ed25519 key (verified here with node:crypto alone, over bytes framed by hand), a receiver
 * that fails first gets the retry, a redirect is never followed, and the delivery state shows it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { signRequest } from "@custody/credentials";
import { CustodyClient } from "@custody/sdk";
import { CLI_MAIN, issueClient, type LoadedClient, type Stack } from "../src/index.js";
import { eventually, startTestStack, stopTestStack } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;
const servers: Server[] = [];

before(async () => {
  stack = await startTestStack({
    parties: 3,
    env: { CUSTODY_WEBHOOK_FIRST_RETRY_MS: "300", CUSTODY_EVENTS_KEEPALIVE_MS: "500" },
  });
  api = new CustodyClient(stack.apiUrl, stack.admin);
});
after(async () => {
  for (const s of servers) s.close();
  await stopTestStack(stack);
});

/** A signed request to the API as the stack's admin, or as `as`. */
async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  as: LoadedClient = stack!.admin,
) {
  const text = body === undefined ? "" : JSON.stringify(body);
  const auth = signRequest(as.seed, as.credential, method, path, new TextEncoder().encode(text));
  return fetch(`${stack!.apiUrl}${path}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...auth, ...headers },
    body: body === undefined ? undefined : text,
  });
}

interface SseEvent {
  id: number;
  event: string;
  op: {
    id: string;
    status: string;
    type: string;
    progress: { phase: string; attempt: number; stored?: number };
  };
}

/** An open event stream: the events read so far, the comments, and a way to close it. */
async function openEvents(path: string, headers: Record<string, string> = {}) {
  const ctl = new AbortController();
  const res = await call("GET", path, undefined, headers).then(
    (r) => r,
    (e: unknown) => Promise.reject(e),
  );
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const reader = res.body!.getReader();
  ctl.signal.addEventListener("abort", () => void reader.cancel());
  const done = (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for (;;) {
      const { value, done: end } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (end) return;
      buf += dec.decode(value, { stream: true });
      let cut = buf.indexOf("\n\n");
      while (cut >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) comments.push(line);
          else {
            const i = line.indexOf(": ");
            fields[line.slice(0, i)] = line.slice(i + 2);
          }
        }
        if (fields.data !== undefined)
          events.push({ id: Number(fields.id), event: fields.event!, op: JSON.parse(fields.data) });
        cut = buf.indexOf("\n\n");
      }
    }
  })();
  return { events, comments, close: () => ctl.abort(), done };
}

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on a loopback port answering with `status(n)` for the n-th request (0-based). */
async function receiver(status: (n: number) => { code: number; headers?: Record<string, string> }) {
  const got: Delivery[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      const answer = status(got.length);
      got.push({ headers: req.headers, body });
      res.writeHead(answer.code, answer.headers).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

/** The signed bytes, framed by hand: u32 big-endian length before the domain and every field. */
function webhookBytes(webhookId: string, deliveryId: string, timestamp: string, body: string): Buffer {
  const parts = ["custody/webhook/v1", webhookId, deliveryId, timestamp, body].map((p) =>
    Buffer.from(p, "utf8"),
  );
  return Buffer.concat(
    parts.flatMap((p) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      return [len, p];
    }),
  );
}

const phases = (events: SseEvent[], opId: string) =>
  events.filter((e) => e.op.id === opId).map((e) => e.op.progress.phase);

test("events and webhooks follow a DKG and a sign; resume after Last-Event-ID; signed, retried deliveries", async () => {
  // The signing key: the API's answer matches what `custody dev` prints.
  const keyRes = await call("GET", "/v1/webhooks/signing-key");
  assert.equal(keyRes.status, 200);
  const signingKey = (await keyRes.json()) as { algorithm: string; publicKey: string; publicKeyPem: string };
  assert.equal(signingKey.algorithm, "ed25519");
  assert.equal(signingKey.publicKey, stack!.webhookPublicKey);
  const publicKey = createPublicKey(signingKey.publicKeyPem);

  const all = await receiver(() => ({ code: 200 }));
  const flaky = await receiver((n) => ({ code: n === 0 ? 500 : 200 }));
  const redirect = await receiver(() => ({ code: 302, headers: { location: all.url } }));
  const add = async (body: unknown) => {
    const r = await call("POST", "/v1/webhooks", body);
    return { status: r.status, body: (await r.json()) as { id: string; url: string; events?: string[] } };
  };
  const hookAll = await add({ url: all.url });
  assert.equal(hookAll.status, 201);
  const hookFlaky = await add({ url: flaky.url, events: ["succeeded"] });
  const hookRedirect = await add({ url: redirect.url, events: ["succeeded"] });
  assert.deepEqual(hookFlaky.body.events, ["succeeded"]);
  for (const bad of ["ftp://127.0.0.1/x", "not a url", "http://user:pw@127.0.0.1/x"])
    assert.equal((await add({ url: bad })).status, 400, bad);
  assert.equal((await add({ url: all.url, events: ["nope"] })).status, 400);

  const live = await openEvents("/v1/events");
  const dkg = await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 });
  assert.equal((await api.wait(dkg, 60_000)).status, "succeeded");
  const sign = await api.sign(dkg.keyId, { message: "68656c6c6f" });
  assert.equal((await api.wait(sign, 60_000)).status, "succeeded");
  await eventually(
    () => phases(live.events, sign.id).includes("succeeded"),
    15_000,
    "the sign's success event",
  );

  // Created → progress → succeeded, in revision order, for both.
  const ids = live.events.map((e) => e.id);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
  );
  assert.equal(new Set(ids).size, ids.length, "one event per revision");
  assert.ok(live.events.every((e) => e.event === "operation"));
  const dkgPhases = phases(live.events, dkg.id);
  assert.equal(dkgPhases[0], "queued", "the first event is the creation");
  for (const p of ["session", "stored", "activating"])
    assert.ok(dkgPhases.includes(p), `DKG ${p}: ${dkgPhases}`);
  assert.equal(dkgPhases.at(-1), "succeeded");
  const storedCounts = live.events.filter((e) => e.op.id === dkg.id && e.op.progress.phase === "stored");
  assert.deepEqual(
    storedCounts.map((e) => e.op.progress.stored),
    [1, 2, 3].slice(0, storedCounts.length),
  );
  const sessionEvent = live.events.find((e) => e.op.id === dkg.id && e.op.progress.phase === "session");
  assert.equal(sessionEvent?.op.progress.attempt, 1);
  // A single signature's first attempt announces no session: queued, then its end.
  const signPhases = phases(live.events, sign.id);
  assert.deepEqual([signPhases[0], signPhases.at(-1)], ["queued", "succeeded"]);
  assert.ok(!signPhases.includes("session"), `sign: ${signPhases}`);
  // The event body is the operation as GET /v1/operations/{id} returns it.
  const last = live.events.filter((e) => e.op.id === sign.id).at(-1)!;
  assert.deepEqual(last.op, await api.operation(sign.id));

  // Disconnected: another sign runs; the stream resumed after the last event seen misses nothing.
  live.close();
  await live.done;
  const seen = live.events.at(-1)!.id;
  const sign2 = await api.sign(dkg.keyId, { message: "776f726c64" });
  assert.equal((await api.wait(sign2, 60_000)).status, "succeeded");
  const resumed = await openEvents(`/v1/events?keyId=${dkg.keyId}`, { "last-event-id": String(seen) });
  await eventually(() => phases(resumed.events, sign2.id).includes("succeeded"), 15_000, "resumed events");
  assert.ok(
    resumed.events.every((e) => e.id > seen),
    "nothing at or before Last-Event-ID again",
  );
  assert.ok(!resumed.events.some((e) => e.op.id === dkg.id || e.op.id === sign.id), "no old operation again");
  assert.deepEqual((await api.operation(sign2.id)).status, "succeeded");
  // ?after= does the same as the header.
  const fromQuery = await openEvents(`/v1/events?after=${seen}&type=sign`);
  await eventually(() => phases(fromQuery.events, sign2.id).includes("succeeded"), 15_000, "after= events");
  resumed.close();
  fromQuery.close();

  // Webhooks: every change of all three operations reached the catch-all receiver once, signed.
  const ops = [dkg.id, sign.id, sign2.id];
  await eventually(
    () =>
      ops.every((id) =>
        all.got.some((d) => {
          const b = JSON.parse(d.body) as { operation: { id: string; status: string } };
          return b.operation.id === id && b.operation.status === "succeeded";
        }),
      ),
    20_000,
    "webhook deliveries of every success",
  );
  const deliveryIds = new Set<string>();
  for (const d of all.got) {
    const body = JSON.parse(d.body) as { id: string; type: string; operation: { id: string } };
    assert.equal(body.type, "operation");
    assert.equal(d.headers["custody-webhook-id"], hookAll.body.id, "a redirect is never followed here");
    assert.equal(d.headers["custody-webhook-delivery"], body.id);
    assert.equal(d.headers["content-type"], "application/json");
    const ts = String(d.headers["custody-webhook-timestamp"]);
    assert.ok(Math.abs(Date.now() - Number(ts)) < 120_000);
    const sig = Buffer.from(String(d.headers["custody-webhook-signature"]), "base64url");
    assert.ok(verify(null, webhookBytes(hookAll.body.id, body.id, ts, d.body), publicKey, sig), body.id);
    // Any changed byte fails verification.
    assert.ok(!verify(null, webhookBytes(hookAll.body.id, body.id, ts, `${d.body} `), publicKey, sig));
    assert.ok(!verify(null, webhookBytes(hookFlaky.body.id, body.id, ts, d.body), publicKey, sig));
    assert.ok(!deliveryIds.has(body.id), `delivery ${body.id} came twice`);
    deliveryIds.add(body.id);
  }
  const byOp = (id: string) =>
    all.got
      .map((d) => JSON.parse(d.body) as SseEvent["op"] & { operation: SseEvent["op"] })
      .filter((b) => b.operation.id === id);
  assert.equal(byOp(dkg.id)[0]?.operation.progress.phase, "queued", "the creation was delivered");
  assert.ok(byOp(dkg.id).some((b) => b.operation.progress.phase === "session"));

  // The flaky receiver got a 500 first, then the same delivery again; only `succeeded` events.
  await eventually(() => flaky.got.length >= 4, 20_000, "the retry");
  const first = flaky.got[0]!;
  const retried = flaky.got
    .slice(1)
    .find((d) => d.headers["custody-webhook-delivery"] === first.headers["custody-webhook-delivery"]);
  assert.ok(retried, "the delivery answered with 500 came again");
  assert.equal(retried.body, first.body);
  assert.equal(flaky.got.length, 4, "three deliveries, one of them twice");
  assert.ok(
    flaky.got.every(
      (d) =>
        (JSON.parse(d.body) as SseEvent & { operation: SseEvent["op"] }).operation.status === "succeeded",
    ),
  );

  // The delivery state: the flaky one recovered, the redirecting one keeps failing with 302.
  await eventually(
    async () => {
      const r = (await (await call("GET", "/v1/webhooks")).json()) as {
        webhooks: {
          id: string;
          delivery: { consecutiveFailures: number; lastStatus?: number; delivered: number };
        }[];
      };
      const f = r.webhooks.find((w) => w.id === hookFlaky.body.id)?.delivery;
      const rd = r.webhooks.find((w) => w.id === hookRedirect.body.id)?.delivery;
      return (
        f?.delivered === 3 &&
        f.consecutiveFailures === 0 &&
        f.lastStatus === 200 &&
        rd?.lastStatus === 302 &&
        rd.consecutiveFailures >= 3
      );
    },
    20_000,
    "delivery state",
  );
  const list = (await (await call("GET", "/v1/webhooks")).json()) as {
    webhooks: {
      id: string;
      url: string;
      delivery: { nextRetryAt?: string; lastError?: string; delivered: number };
    }[];
  };
  const rd = list.webhooks.find((w) => w.id === hookRedirect.body.id)!;
  assert.equal(rd.delivery.delivered, 0);
  assert.ok(rd.delivery.nextRetryAt && Date.parse(rd.delivery.nextRetryAt) > Date.now() - 1000);
  assert.equal(rd.delivery.lastError, "HTTP 302");
  assert.ok(redirect.got.length >= 3);

  // Removing a subscription stops its deliveries and it leaves the list.
  assert.equal((await call("DELETE", `/v1/webhooks/${hookRedirect.body.id}`)).status, 204);
  assert.equal((await call("DELETE", `/v1/webhooks/${hookRedirect.body.id}`)).status, 404);
  const after = (await (await call("GET", "/v1/webhooks")).json()) as { webhooks: { id: string }[] };
  assert.deepEqual(after.webhooks.map((w) => w.id).sort(), [hookAll.body.id, hookFlaky.body.id].sort());
  const count = redirect.got.length;
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(redirect.got.length <= count + 1, "no deliveries after removal (one may have been in flight)");
});

test("custody events and custody webhooks", async () => {
  const profile = `${stack!.options.dir}/profile.json`;
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI_MAIN, ...args, "--profile", profile], {
      encoding: "utf8",
      timeout: 30_000,
    });
  const hook = await receiver(() => ({ code: 204 }));
  const added = cli("webhooks", "add", hook.url, "--events", "succeeded,failed", "--json");
  assert.equal(added.status, 0, added.stderr);
  const sub = JSON.parse(added.stdout) as { id: string; events: string[] };
  assert.deepEqual(sub.events, ["succeeded", "failed"]);
  const listed = cli("webhooks", "list");
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${sub.id}\\s+${hook.url.replaceAll(".", "\\.")}`));
  const removed = cli("webhooks", "remove", sub.id);
  assert.equal(removed.status, 0, removed.stderr);
  assert.doesNotMatch(cli("webhooks", "list").stdout, new RegExp(sub.id));
  assert.notEqual(cli("webhooks", "remove", sub.id).status, 0);

  // `custody events --json` prints one JSON object per event until stopped.
  const key = (await api.listKeys())[0]!;
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, [
    CLI_MAIN,
    "events",
    "--key",
    key.id,
    "--json",
    "--profile",
    profile,
  ]);
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((r) => setTimeout(r, 1500));
  const op = await api.sign(key.id, { message: "00" });
  await api.wait(op, 60_000);
  await eventually(() => out.includes('"succeeded"'), 15_000, "custody events output");
  child.kill("SIGINT");
  const lines = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { id: number; operation: { id: string } });
  assert.ok(lines.some((l) => l.operation.id === op.id));
  assert.ok(lines.every((l) => Number.isInteger(l.id)));
});

test("an idle stream gets keep-alives; stopping the API ends every stream and the API exits at once", async () => {
  const idle = await openEvents("/v1/events?keyId=nothing_here");
  await eventually(
    () => idle.comments.filter((c) => c === ": keep-alive").length >= 2,
    10_000,
    "keep-alives",
  );
  assert.equal(idle.events.length, 0);
  const api = stack!.processes.get("api")!;
  const t0 = Date.now();
  api.child.kill("SIGTERM");
  const code = await Promise.race([api.exited, new Promise((r) => setTimeout(() => r("hung"), 4000))]);
  assert.equal(code, 0, "the API stopped cleanly with a stream open");
  assert.ok(Date.now() - t0 < 4000);
  await Promise.race([
    idle.done,
    new Promise((_, no) => setTimeout(() => no(new Error("stream still open")), 2000)),
  ]);
  await stack!.startApi();
  await stack!.waitReady();
});

test("roles: admins manage webhooks, auditors read them, every role reads events and the signing key", async () => {
  const dir = stack!.options.dir;
  const as = (role: "signer" | "auditor") =>
    issueClient(
      dir,
      {
        seedFile: join(dir, "creds", `client-ev-${role}.nk`),
        credentialFile: join(dir, "creds", `client-ev-${role}.cred`),
      },
      { name: `ev-${role}`, role, tenant: "default" },
    );
  const signer = as("signer");
  const auditor = as("auditor");
  const body = { url: "http://127.0.0.1:9/never" };
  for (const who of [signer, auditor]) {
    assert.equal((await call("POST", "/v1/webhooks", body, {}, who)).status, 403);
    assert.equal(
      (await call("DELETE", "/v1/webhooks/wh_000000000000000000000000", undefined, {}, who)).status,
      403,
    );
    assert.equal((await call("GET", "/v1/webhooks/signing-key", undefined, {}, who)).status, 200);
    const events = await call("GET", "/v1/events", undefined, {}, who);
    assert.equal(events.status, 200);
    await events.body?.cancel();
  }
  assert.equal((await call("GET", "/v1/webhooks", undefined, {}, signer)).status, 403);
  assert.equal((await call("GET", "/v1/webhooks", undefined, {}, auditor)).status, 200);
  // Unsigned: refused like every /v1 route.
  assert.equal((await fetch(`${stack!.apiUrl}/v1/events`)).status, 401);
  assert.equal((await fetch(`${stack!.apiUrl}/v1/webhooks/signing-key`)).status, 401);
});
