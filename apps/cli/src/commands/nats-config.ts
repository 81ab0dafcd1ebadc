/**
 * `custody nats-config`: renders one NATS node's nats-server configuration from its bundle
 * (`nats.json` from `custody init`): JetStream, mTLS on the client port (the broker CA) and on routes
 * (the route CA, which must differ: every client certificate chains to the broker CA, and a route
 * is trusted with every account's traffic), the cluster's routes, and operator mode (operator JWT,
 * system account, preloaded accounts, the full resolver).
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { type ConfValue, resolverConfig, toConf } from "@custody/natsd";
import type { Command } from "commander";
import { addSettingFlags, ConfigError, Settings } from "./config.js";
import { SUMMARY } from "./summaries.js";

const MiB = 1024 * 1024;

/** The accounts file of a node: the system account and the account JWTs every node preloads. */
function readAccounts(file: string): { system_account: string; resolver_preload: Record<string, string> } {
  if (!existsSync(file)) throw new ConfigError("missing-file", `no accounts file ${file}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new ConfigError("bad-file", `${file} is not JSON`);
  }
  const a = raw as { system_account?: unknown; resolver_preload?: unknown };
  const preload = a.resolver_preload as Record<string, unknown> | undefined;
  if (
    typeof a.system_account !== "string" ||
    typeof preload !== "object" ||
    preload === null ||
    !Object.values(preload).every((v) => typeof v === "string")
  )
    throw new ConfigError("bad-file", `${file} needs system_account and resolver_preload (account JWTs)`);
  return { system_account: a.system_account, resolver_preload: preload as Record<string, string> };
}

/** The `cluster` block: routes with their own mTLS, refused when it would trust the client CA. */
function clusterConfig(s: Settings, routes: string[]): Record<string, ConfValue | undefined> {
  const [ca, cert, key] = [s.opt("route-ca"), s.opt("route-cert"), s.opt("route-key")];
  if (!ca || !cert || !key)
    throw new ConfigError(
      "missing-setting",
      "routes need route-ca, route-cert and route-key (a route CA of their own, never tls-ca)",
    );
  for (const [k, f] of [
    ["route-ca", ca],
    ["route-cert", cert],
    ["route-key", key],
  ] as const)
    if (!existsSync(f)) throw new ConfigError("missing-file", `no ${k} file ${f}`);
  if (readFileSync(ca, "utf8").trim() === readFileSync(s.str("tls-ca"), "utf8").trim())
    throw new ConfigError(
      "bad-value",
      "route-ca is tls-ca: every client certificate would make its holder a route, past every permission",
    );
  return {
    name: s.str("cluster-name"),
    listen: s.str("cluster-listen"),
    advertise: s.opt("cluster-advertise"),
    tls: { cert_file: cert, key_file: key, ca_file: ca, verify: true, timeout: 2 },
    routes,
  };
}

/** The nats-server configuration text of one node. */
export function renderNatsConfig(s: Settings): string {
  for (const key of ["tls-ca", "tls-cert", "tls-key", "operator-jwt"])
    if (!existsSync(s.str(key))) throw new ConfigError("missing-file", `no ${key} file ${s.str(key)}`);
  const accounts = readAccounts(s.str("accounts"));
  const tls = {
    cert_file: s.str("tls-cert"),
    key_file: s.str("tls-key"),
    ca_file: s.str("tls-ca"),
    verify: true,
    timeout: 2,
  };
  const routes = s.list("routes") ?? [];
  const conf: Record<string, ConfValue | undefined> = {
    server_name: s.str("server-name"),
    listen: s.str("listen"),
    client_advertise: s.opt("client-advertise"),
    http: s.str("http"),
    log_file: s.opt("log-file"),
    max_payload: 2 * MiB,
    max_pending: 16 * MiB,
    write_deadline: "2s",
    ping_interval: "20s",
    ping_max: 3,
    jetstream: {
      store_dir: s.str("store-dir"),
      // Caps the sum of every account's JetStream quota (reserved, not allocated).
      max_memory_store: 1024 * MiB,
      max_file_store: 4 * 1024 * 1024 * MiB,
    },
    tls,
    cluster: routes.length === 0 ? undefined : clusterConfig(s, routes),
    operator: s.str("operator-jwt"),
    system_account: accounts.system_account,
    resolver_preload: accounts.resolver_preload,
    ...resolverConfig(s.str("resolver-dir")),
  };
  return toConf(conf);
}

/** Adds `nats-config` to `program`. */
export function registerNatsConfigCommands(program: Command): void {
  addSettingFlags(program.command("nats-config").description(SUMMARY["nats-config"]), "nats-config").action(
    async (flags: Record<string, unknown>) => {
      const s = Settings.resolve("nats-config", flags);
      const text = renderNatsConfig(s);
      const out = s.opt("out");
      if (out) writeFileSync(out, text, { mode: 0o600 });
      else process.stdout.write(text);
    },
  );
}
