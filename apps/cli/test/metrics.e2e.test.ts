/**
 * Prometheus metrics of a running stack, scraped as Prometheus would: the API's and a worker's
 * `/metrics` after a DKG and signatures (one refused request among them), with the values those
 * operations must have produced; every metric the shipped dashboard and alert rules use exists;
 * and a worker refuses a KEK file without `--insecure-file-kek` (fail closed).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { signRequest } from "@custody/credentials";
import { CustodyClient } from "@custody/sdk";
import { CLI_MAIN, type Stack } from "../src/index.js";
import { eventually, logRecords, startTestStack, stopTestStack } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
});
after(() => stopTestStack(stack));

/** Samples of a Prometheus text page: `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    // A declared metric with no series yet still counts as exposed (`# TYPE name kind`).
    const declared = /^# TYPE (\S+) /.exec(line);
    if (declared) samples.set(`${declared[1]}#declared`, 0);
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}
/** The sum of every sample of `name` whose labels include all of `labels`. */
const sum = (s: Map<string, number>, name: string, labels: Record<string, string> = {}) =>
  [...s]
    .filter(
      ([k]) =>
        (k === name || k.startsWith(`${name}{`)) &&
        Object.entries(labels).every(([l, v]) => k.includes(`${l}="${v}"`)),
    )
    .reduce((n, [, v]) => n + v, 0);

describe("metrics", { timeout: 240_000 }, () => {
  test("the API and the workers expose what the operations did", async () => {
    const op = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
    assert.equal(op.status, "succeeded");
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await api.wait(await api.sign(op.keyId, { message: `0${i}` }), 30_000)).status,
        "succeeded",
      );
    // A replayed request: refused with its reason.
    const headers = signRequest(
      stack!.admin.seed,
      stack!.admin.credential,
      "GET",
      "/v1/keys",
      new Uint8Array(),
    );
    assert.equal((await fetch(`${stack!.apiUrl}/v1/keys`, { headers })).status, 200);
    assert.equal((await fetch(`${stack!.apiUrl}/v1/keys`, { headers })).status, 401);

    await eventually(
      async () =>
        sum(await scrape(stack!.apiMetricsUrl), "custody_api_operation_duration_seconds_count", {
          type: "sign",
        }) >= 3,
      10_000,
      "three signatures in the API's histogram",
    );
    const a = await scrape(stack!.apiMetricsUrl);
    assert.equal(
      sum(a, "custody_api_operation_duration_seconds_count", {
        type: "dkg",
        scheme: "ed25519",
        outcome: "succeeded",
      }),
      1,
    );
    assert.ok(
      sum(a, "custody_api_operation_duration_seconds_count", {
        type: "sign",
        scheme: "ed25519",
        outcome: "succeeded",
      }) >= 3,
    );
    assert.ok(sum(a, "custody_api_operation_phase_seconds_count", { type: "dkg" }) >= 1, "DKG phases timed");
    assert.equal(
      sum(a, "custody_api_refused_requests_total", { code: "unauthorized", reason: "replayed" }),
      1,
    );
    assert.ok(sum(a, "custody_api_requests_total", { route: "/v1/keys/:id/sign", status: "202" }) >= 3);
    assert.equal(sum(a, "custody_api_live_parties"), 3);
    assert.ok(sum(a, "process_cpu_seconds_total") > 0);

    // Every log line of a request or job names the operation it belongs to.
    const signOps = new Set(
      (await api.listOperations({ keyId: op.keyId, type: "sign" })).operations.map((o) => o.id),
    );
    const answered = logRecords(stack!, "api").filter(
      (r) => r.msg === "request answered" && r.route === "/v1/keys/:id/sign",
    );
    assert.ok(answered.length >= 3);
    for (const r of answered) assert.ok(signOps.has(r.operationId as string), JSON.stringify(r));
    const jobs = logRecords(stack!, "party1-w1").filter((r) => r.msg === "work item done");
    assert.ok(jobs.length > 0 && jobs.every((r) => typeof r.operationId === "string"));
    const ready = logRecords(stack!, "party1-w1").find((r) => r.msg === "worker ready");
    assert.ok(typeof ready?.metrics === "string", "the worker logs its metrics URL");
    const w = await scrape(ready.metrics as string);
    assert.ok(sum(w, "custody_worker_jobs_total", { op: "dkg", scheme: "ed25519", outcome: "done" }) >= 1);
    assert.ok(sum(w, "custody_worker_jobs_total", { op: "activate", outcome: "done" }) >= 1);
    assert.ok(sum(w, "custody_worker_job_duration_seconds_count", { op: "dkg" }) >= 1);
    assert.equal(sum(w, "custody_worker_protocol_aborts_total"), 0, "nothing aborted");
    assert.equal(sum(w, "custody_worker_consumer_pending", { tenant: "default" }), 0);
    assert.ok(w.has('custody_worker_active_jobs{tenant="default"}'));

    // Every metric the dashboard and the alert rules query exists on one of the two pages.
    const docs = join(import.meta.dirname, "../../../../docs");
    const queried = new Set(
      [
        readFileSync(join(docs, "grafana/custody.json"), "utf8"),
        readFileSync(join(docs, "observability.md"), "utf8"),
      ]
        .flatMap((t) => [...t.matchAll(/\b(custody_(?:api|worker)_[a-z_]+)/g)].map((m) => m[1]!))
        .map((n) => n.replace(/_(bucket|count|sum)$/, "")),
    );
    const exposed = new Set(
      [...a.keys(), ...w.keys()].map((k) => k.split(/[{#]/)[0]!.replace(/_(bucket|count|sum)$/, "")),
    );
    for (const name of queried)
      assert.ok(exposed.has(name) || exposed.has(`${name}_total`), `${name} is exposed`);
  });

  test("a worker refuses a KEK file unless told it is a development setup", () => {
    const r = spawnSync(
      process.execPath,
      [
        CLI_MAIN,
        "worker",
        "--party",
        "1",
        "--worker-id",
        "wx",
        "--nats",
        "nats://127.0.0.1:1",
        "--creds",
        join(stack!.options.dir, "creds", "party1-w1.creds"),
        "--kek",
        join(stack!.options.dir, "secrets", "party1.kek"),
        "--ledger",
        join(stack!.options.dir, "state", "wx.ledger"),
        "--identity",
        join(stack!.options.dir, "secrets", "party1.identity"),
        "--directory",
        join(stack!.options.dir, "parties.json"),
        "--authority",
        join(stack!.options.dir, "authority.pub"),
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /insecure-file-kek/);
  });
});
