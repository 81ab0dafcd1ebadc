/**
 * The operator console in a real headless Chromium against the real stack: the data routes it
 * reads refuse unsigned and signer callers; an auditor who loads a credential and seed into the
 * page sees the tenant's live parties and workers, a key made here, an operation that failed with
 * its typed reason (in the operations and in the dead letters), the audit chain verified intact;
 * a key created after the page loaded appears without a reload; every data call the page makes is
 * signed, nothing is stored in the browser, and the page raises no error (a CSP violation would).
 * The screenshot goes to `reports/console.png` at the repository root (gitignored).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { signRequest } from "@custody/credentials";
import { requestSubject } from "@custody/proto";
import { CustodyClient } from "@custody/sdk";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { chromium } from "playwright-core";
import { issueClient, type LoadedClient, type Stack } from "../src/index.js";
import { adminConnection, putOperationRecord } from "./broker.js";
import { startTestStack, stopTestStack } from "./helpers.js";

const TEST_TIMEOUT = { timeout: 120_000 };
const SCREENSHOT = fileURLToPath(new URL("../../../../reports/console.png", import.meta.url));
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let stack: Stack | undefined;
let admin: NatsConnection | undefined;
let api: CustodyClient;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
  admin = await adminConnection(stack);
}, TEST_TIMEOUT);
after(async () => {
  await admin?.close();
  await stopTestStack(stack);
});

/** A client of the default tenant with `role`, issued by the stack's authority. */
function client(role: "signer" | "auditor"): LoadedClient {
  const dir = stack!.options.dir;
  return issueClient(
    dir,
    {
      seedFile: join(dir, "creds", `console-${role}.nk`),
      credentialFile: join(dir, "creds", `console-${role}.cred`),
    },
    { name: `console-${role}`, role, tenant: "default" },
  );
}

/** A signed GET as `as`, or an unsigned one. */
async function read(path: string, as?: LoadedClient) {
  const headers = as ? signRequest(as.seed, as.credential, "GET", path, new Uint8Array()) : {};
  const res = await fetch(`${stack!.apiUrl}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as { type?: string } };
}

/** A sign operation whose work item is garbage: the parties terminate it, and it fails typed. */
async function poisonedOperation(keyId: string): Promise<string> {
  const id = `op_poison${randomBytes(6).toString("hex")}`;
  const t = new Date().toISOString();
  await putOperationRecord(admin!, {
    id,
    type: "sign",
    status: "pending",
    keyId,
    tenant: "default",
    participants: [1, 2],
    reports: {},
    createdAt: t,
    updatedAt: t,
  } as { id: string });
  await jetstream(admin!).publish(requestSubject("sign", id), randomBytes(64), { msgID: id });
  return id;
}

test("the console's data routes refuse unsigned and signer callers", TEST_TIMEOUT, async () => {
  const signer = client("signer");
  for (const path of ["/v1/status", "/v1/dead-letters"]) {
    const unsigned = await read(path);
    assert.equal(unsigned.status, 401, path);
    assert.equal(unsigned.body.type, "urn:custody:problem:unauthorized");
    const refused = await read(path, signer);
    assert.equal(refused.status, 403, path);
    assert.equal(refused.body.type, "urn:custody:problem:forbidden");
  }
});

test(
  "an auditor sees keys, typed failures, liveness and the audit chain in Chromium, live",
  TEST_TIMEOUT,
  async () => {
    const made = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
    assert.equal(made.status, "succeeded", JSON.stringify(made.error));
    const failedId = await poisonedOperation(made.keyId);
    const failed = await api.wait(failedId, 30_000);
    assert.equal(failed.status, "failed");
    assert.equal(failed.error?.code, "terminated");
    const auditor = client("auditor");

    const profile = mkdtempSync(join(tmpdir(), "custody-console-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("response", (r) => {
        if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
      });
      const requests: { url: string; signed: boolean }[] = [];
      page.on("request", (r) => requests.push({ url: r.url(), signed: "custody-signature" in r.headers() }));

      const res = await page.goto(`${stack!.apiUrl}/console`);
      assert.equal(res?.status(), 200);
      assert.match(res!.headers()["content-security-policy"] ?? "", /frame-ancestors 'none'/);
      await page.fill("#credential", auditor.credential);
      await page.fill("#seed", auditor.seed);
      await page.click("#signin-button");

      const row = (table: string, id: string) => page.locator(`#${table} tr[data-id="${id}"]`);
      const cells = (table: string, id: string) => row(table, id).locator("td").allTextContents();
      const wait = { timeout: 20_000 };
      await row("keys", made.keyId).waitFor(wait);
      assert.deepEqual((await cells("keys", made.keyId)).slice(0, 4), [
        made.keyId,
        "ed25519",
        "2 of 3",
        "active",
      ]);
      await row("dead-letters", failedId).waitFor(wait);
      const dead = await cells("dead-letters", failedId);
      assert.deepEqual([dead[1], dead[3]], ["sign", "terminated"]);
      const op = await cells("operations", failedId);
      assert.deepEqual([op[3], op[5]], ["failed", "terminated"]);
      await page.locator("#audit[data-status='intact']").waitFor(wait);
      await page.locator("#parties tr").nth(2).waitFor(wait);
      const parties = page.locator("#parties tr");
      assert.equal(await parties.count(), 3);
      for (let i = 0; i < 3; i++)
        assert.deepEqual((await parties.nth(i).locator("td").allTextContents()).slice(0, 2), [
          String(i + 1),
          "live",
        ]);
      const worker = page.locator("#workers tr").first().locator("td");
      assert.deepEqual((await worker.allTextContents()).slice(0, 3), ["1", "w1", "live"]);
      assert.match((await page.textContent("#who")) ?? "", /console-auditor · auditor · tenant default/);
      await page.locator("#live.ok").waitFor(wait);

      // Live: a key made after the page loaded shows up, with its DKG, without a reload.
      const next = await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3, label: "made-later" });
      await row("operations", next.id).waitFor(wait);
      const done = await api.wait(next, 60_000);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      await page.locator(`#keys tr[data-id="${done.keyId}"] td.ok`).waitFor(wait);
      assert.equal((await cells("keys", done.keyId))[5], "made-later");

      // Nothing kept: the seed field is cleared, no storage or cookie holds anything.
      assert.equal(await page.inputValue("#seed"), "");
      assert.deepEqual(await page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]"), [
        0,
        0,
        "",
      ]);
      const origin = new URL(stack!.apiUrl).origin;
      assert.ok(
        requests.every((r) => new URL(r.url).origin === origin),
        "the page talks to its own origin only",
      );
      const data = requests.filter((r) => new URL(r.url).pathname.startsWith("/v1/"));
      assert.ok(data.length >= 5, `the page read the API (${data.length} requests)`);
      assert.ok(
        data.every((r) => r.signed),
        "every data call is signed",
      );
      assert.deepEqual(problems, []);
      // The audit watch resumes where its last check stopped, and the chain still links.
      type Audit = { audit: { status: string; verified: number } };
      const first = (await read("/v1/status", auditor)).body as unknown as Audit;
      await new Promise((r) => setTimeout(r, 2100));
      const later = (await read("/v1/status", auditor)).body as unknown as Audit;
      assert.equal(later.audit.status, "intact");
      assert.ok(later.audit.verified > first.audit.verified, "entries appended since were checked");
      mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  },
);
