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
import { newUser, startTrustedServer, type TrustedServer, userJwt } from "@custody/natsd";
import { TENANTS_BUCKET } from "@custody/proto";
import { Kvm } from "@nats-io/kv";
import { createAccount, createUser } from "@nats-io/nkeys";
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

const ACCOUNT = createAccount();
const ME = createUser().getPublicKey();
const OTHER = createUser().getPublicKey();
const entry = (tenant: string, users: Record<string, string>): TenantEntry => ({
  tenant,
  account: ACCOUNT.getPublicKey(),
  users,
});
/** Real user JWTs, remembered by a label (the user's name in the JWT). */
const labels = new Map<string, string>();
async function jwt(label: string, user = ME, account = ACCOUNT): Promise<string> {
  const j = await userJwt(account, label, user);
  labels.set(j, label);
  return j;
}

async function until(ok: () => boolean, what: string) {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("each tenant with a JWT for this identity is opened once; later, retried and re-issued ones too", async () => {
  await registry.put(entry("alpha", { [ME]: await jwt("jwt-alpha") }));
  await registry.put(entry("beta", { [OTHER]: await jwt("jwt-beta", OTHER) }));
  // An entry whose JWT was issued by another account than the one it names is refused.
  await registry.put(entry("forged", { [ME]: await jwt("jwt-forged", ME, createAccount()) }));
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
      opened.push(`${tenant}:${labels.get(jwt())}`);
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
  assert.ok(errors.includes("forged"), "the forged entry is reported");
  await registry.put(entry("alpha", { [ME]: await jwt("jwt-alpha-2") }));
  await registry.put(entry("gamma", { [ME]: await jwt("jwt-gamma") }));
  await until(() => services.get("gamma") !== undefined, "gamma opened after one failure");
  assert.ok(errors.includes("gamma"));
  assert.equal(services.get("forged"), undefined);
  assert.deepEqual(opened.sort(), ["alpha:jwt-alpha", "gamma:jwt-gamma"], "alpha is not opened twice");
  await until(
    () => labels.get(jwtOf.get("alpha")?.() ?? "") === "jwt-alpha-2",
    "a re-issued JWT reaches the open service",
  );
  assert.deepEqual(
    services
      .entries()
      .map(([t]) => t)
      .sort(),
    ["alpha", "gamma"],
  );
  await services.stop();
  assert.deepEqual(stopped.sort(), ["alpha", "gamma"]);
  await registry.put(entry("delta", { [ME]: await jwt("jwt-delta") }));
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
