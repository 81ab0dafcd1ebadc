/**
 * The tenant registry and TenantServices against a real nats-server: a process serves every tenant
 * listed with a JWT for its identity, once each, picks up tenants enrolled later, ignores entries
 * without its JWT, and retries a tenant whose first open failed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { newUser, startTrustedServer, type TrustedServer } from "@custody/natsd";
import { TENANTS_BUCKET } from "@custody/proto";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  connectNats,
  provisionControl,
  type TenantEntry,
  TenantRegistry,
  TenantServices,
} from "../src/index.js";

let dir: string;
let broker: TrustedServer;
let nc: NatsConnection;
let registry: TenantRegistry;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "custody-tenants-"));
  broker = await startTrustedServer({ dir, tenants: [] });
  nc = await connectNats({
    servers: [broker.server.url],
    credentials: await newUser(broker.account("control"), "control-admin"),
    name: "control-admin",
  });
  await provisionControl(nc);
  registry = await TenantRegistry.open(nc);
});
after(async () => {
  await nc?.close();
  await broker?.server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ME = `U${"A".repeat(55)}`;
const OTHER = `U${"B".repeat(55)}`;
const entry = (tenant: string, users: Record<string, string>): TenantEntry => ({
  tenant,
  account: `A${"C".repeat(55)}`,
  users,
});

async function until(ok: () => boolean, what: string) {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("each tenant with a JWT for this identity is opened once; later, retried and re-issued ones too", async () => {
  await registry.put(entry("alpha", { [ME]: "jwt-alpha" }));
  await registry.put(entry("beta", { [OTHER]: "jwt-beta" }));
  const opened: string[] = [];
  const stopped: string[] = [];
  let failOnce = true;
  const errors: (string | undefined)[] = [];
  const jwtOf = new Map<string, () => string>();
  const services = new TenantServices(
    ME,
    async (tenant, jwt) => {
      if (tenant === "gamma" && failOnce) {
        failOnce = false;
        throw new Error("broker not ready");
      }
      opened.push(`${tenant}:${jwt()}`);
      jwtOf.set(tenant, jwt);
      return { stop: async () => void stopped.push(tenant) };
    },
    (tenant) => errors.push(tenant),
    50,
  );
  await services.start(registry);
  assert.deepEqual(
    opened,
    ["alpha:jwt-alpha"],
    "current tenants are open when start resolves; beta is not ours",
  );
  await registry.put(entry("alpha", { [ME]: "jwt-alpha-2" }));
  await registry.put(entry("gamma", { [ME]: "jwt-gamma" }));
  await until(() => services.get("gamma") !== undefined, "gamma opened after one failure");
  assert.deepEqual(errors, ["gamma"]);
  assert.deepEqual(opened.sort(), ["alpha:jwt-alpha", "gamma:jwt-gamma"], "alpha is not opened twice");
  await until(() => jwtOf.get("alpha")?.() === "jwt-alpha-2", "a re-issued JWT reaches the open service");
  assert.deepEqual(
    services
      .entries()
      .map(([t]) => t)
      .sort(),
    ["alpha", "gamma"],
  );
  await services.stop();
  assert.deepEqual(stopped.sort(), ["alpha", "gamma"]);
  await registry.put(entry("delta", { [ME]: "jwt-delta" }));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(services.get("delta"), undefined, "nothing opens after stop");
});

test("the registry refuses bad tenant names and skips malformed entries", async () => {
  await assert.rejects(registry.put(entry("no spaces", {})), RangeError);
  assert.equal(await registry.get("../etc"), undefined);
  const kv = await new Kvm(nc).open(TENANTS_BUCKET);
  await kv.put("broken", new TextEncoder().encode("{not json"));
  assert.equal(await registry.get("broken"), undefined);
  assert.ok(!(await registry.list()).some((e) => e.tenant === "broken"));
});
