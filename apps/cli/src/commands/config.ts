/**
 * Settings of the commands that run on a deployment's hosts (`custody api`, `worker`, `provision`,
 * `nats-config`), in one table per command: the table registers the command's flags, names its
 * environment variables and renders the reference table of docs/operations.md (a test compares the
 * two). A setting's value is its flag, else its environment variable (`CUSTODY_<COMMAND>_<KEY>`),
 * else its key in the `--config` file (a JSON object keyed by flag name; relative paths in it are
 * relative to the file), else its default.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";

/** How a setting's value is read: text, a file path, a non-negative integer, a switch, a list of text. */
export type SettingKind = "string" | "path" | "int" | "bool" | "list";

/** One setting of a command. */
export interface Setting {
  /** Flag name without the dashes, and the key in the config file. */
  readonly key: string;
  readonly kind: SettingKind;
  readonly help: string;
  /** Default value (as text; a list's items comma-separated). */
  readonly default?: string;
  /** The command refuses to start without it. */
  readonly required?: boolean;
  /** Environment variable, when it is not `CUSTODY_<COMMAND>_<KEY>` (names older than this table). */
  readonly env?: string;
}

const s = (key: string, kind: SettingKind, help: string, extra: Partial<Setting> = {}): Setting => ({
  key,
  kind,
  help,
  ...extra,
});
const required = { required: true } as const;
const brokerTls = [
  s("tls-ca", "path", "CA of the broker's mTLS (PEM)"),
  s("tls-cert", "path", "client certificate for the broker's mTLS"),
  s("tls-key", "path", "key of --tls-cert"),
];

/** Every setting of every configurable command. */
export const SETTINGS = {
  api: [
    s("nats", "list", "NATS URLs (every node's)", required),
    s("creds", "path", "NATS credentials of the API identity (control account)", required),
    s("authority", "path", "public keys of trusted credential authorities (one per line)", required),
    s("host", "string", "listen address", { default: "127.0.0.1" }),
    s("port", "int", "listen port (0: any free port)", { default: "8080" }),
    s("print-url", "bool", "print CUSTODY_API_URL=<url> once listening"),
    s("webhook-key", "path", "Ed25519 seed (64 hex digits) that signs webhook deliveries"),
    ...brokerTls,
    s("https-cert", "path", "serve HTTPS with this PEM certificate chain (reloaded on SIGHUP)"),
    s("https-key", "path", "the PEM private key of --https-cert"),
    s("https-client-ca", "path", "require client certificates signed by this PEM CA (mutual TLS)"),
    s("metrics", "string", "serve Prometheus metrics at http://host:port/metrics"),
    s("sign-rate", "int", "messages each credential may sign per second (a batch of n costs n)", {
      default: "50",
    }),
    s("sign-burst", "int", "messages a credential may sign at once before the rate applies", {
      default: "100",
    }),
    s("webhook-first-retry-ms", "int", "first webhook retry delay (ms)", {
      env: "CUSTODY_WEBHOOK_FIRST_RETRY_MS",
    }),
    s("webhook-timeout-ms", "int", "timeout of one webhook delivery (ms)", {
      env: "CUSTODY_WEBHOOK_TIMEOUT_MS",
    }),
    s("events-keepalive-ms", "int", "keep-alive interval of the event stream (ms)", {
      env: "CUSTODY_EVENTS_KEEPALIVE_MS",
    }),
  ],
  worker: [
    s("party", "int", "party index (1..255)", required),
    s("worker-id", "string", "worker id, unique within the party", required),
    s("nats", "list", "NATS URLs (every node's)", required),
    s("creds", "path", "NATS credentials of this worker (control account)", required),
    s(
      "ledger",
      "path",
      "this worker's local ledger of bans and active epochs (kept across restarts)",
      required,
    ),
    s("identity", "path", "the party's identity key file (signs protocol messages)", required),
    s("directory", "path", "the party directory (every party's identity public key)", required),
    s("authority", "path", "public keys of trusted credential authorities (one per line)", required),
    s("kek-pkcs11-module", "path", "PKCS#11 module holding the party's KEK (e.g. libsofthsm2.so)"),
    s("kek-token", "string", "label of the PKCS#11 token"),
    s("kek-slot", "int", "slot id of the PKCS#11 token (instead of, or with, kek-token)"),
    s("kek-pin-file", "path", "file holding the token's user PIN"),
    s("kek-pin-env", "string", "environment variable holding the token's user PIN"),
    s("kek-label", "string", "label of the AES-256 KEK in the token", { default: "custody-kek" }),
    s("kek-retired-label", "list", "labels of earlier KEKs in the token whose records still open"),
    s("kek", "path", "a key-encryption key file (development only: needs insecure-file-kek)"),
    s(
      "insecure-file-kek",
      "bool",
      "accept a KEK file (development only; production keeps the KEK in an HSM)",
    ),
    s("kek-retired-file", "path", "the former KEK file while moving to PKCS#11 (needs insecure-file-kek)"),
    ...brokerTls,
    s("metrics", "string", "serve Prometheus metrics at http://host:port/metrics"),
    s("slots", "int", "concurrent sessions", { default: "4" }),
    s("heartbeat-ms", "int", "heartbeat interval", { default: "2000" }),
    s("round-timeout-ms", "int", "session round timeout", { default: "30000" }),
    s("join-timeout-ms", "int", "session join timeout", { default: "20000" }),
    s(
      "job-threads",
      "string",
      "helper threads per ECDSA key-generation or refresh session: a number, or auto (cores − 2)",
      { default: "auto" },
    ),
    s("progress-ms", "int", "interval of in-progress signals (a third of the ack wait)", {
      default: "10000",
    }),
  ],
  provision: [
    s("nats", "list", "NATS URLs (every node's)", required),
    s("trust-dir", "path", "the operator's trust directory (operator, account and admin keys)", required),
    s("identities", "path", "JSON list of the service identities (API and workers) to enrol", required),
    ...brokerTls,
    s("replicas", "int", "replicas of every stream and bucket (the number of NATS nodes, at most 5)", {
      default: "1",
    }),
    s("tenants", "list", "tenants to enrol (accounts created on first use)", { default: "default" }),
    s("ack-wait-ms", "int", "ack wait of work items (ms)", { default: "30000" }),
    s("wait-ms", "int", "how long to wait for the cluster to answer (ms)", { default: "60000" }),
  ],
  "nats-config": [
    s("server-name", "string", "this node's server name (unique in the cluster)", required),
    s("cluster-name", "string", "the cluster's name", { default: "custody" }),
    s("listen", "string", "client listener host:port", { default: "0.0.0.0:4222" }),
    s("http", "string", "monitoring listener host:port (/healthz)", { default: "127.0.0.1:8222" }),
    s("cluster-listen", "string", "route listener host:port (used when routes are given)", {
      default: "0.0.0.0:6222",
    }),
    s("routes", "list", "route URLs of the other nodes (nats-route://host:6222)"),
    s("store-dir", "path", "JetStream store directory", { default: "/var/lib/custody/nats/jetstream" }),
    s("resolver-dir", "path", "account JWT store directory (full resolver)", {
      default: "/var/lib/custody/nats/jwt",
    }),
    s("client-advertise", "string", "host:port clients are told to reconnect to (the name in tls-cert)"),
    s("cluster-advertise", "string", "host:port peers are told to route to (the name in route-cert)"),
    s("tls-ca", "path", "CA that client certificates must chain to", required),
    s("tls-cert", "path", "this node's server certificate on the client port", required),
    s("tls-key", "path", "key of tls-cert", required),
    s("route-ca", "path", "CA that route certificates must chain to (not tls-ca; needed with routes)"),
    s("route-cert", "path", "this node's route certificate (server and client auth)"),
    s("route-key", "path", "key of route-cert"),
    s("operator-jwt", "path", "the operator JWT", required),
    s("accounts", "path", "system account and the account JWTs to preload (JSON)", required),
    s("log-file", "path", "log file (none: stderr)"),
    s("out", "path", "write the config here (mode 0600) instead of printing it"),
  ],
} as const satisfies Record<string, readonly Setting[]>;

/** A command whose settings are in {@link SETTINGS}. */
export type ConfigurableCommand = keyof typeof SETTINGS;

/** Why a configuration was refused. */
export type ConfigErrorCode = "unknown-key" | "bad-value" | "missing-file" | "bad-file" | "missing-setting";

/** A configuration the command cannot run with: unknown key, bad value, unreadable file, missing setting. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly code: ConfigErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The environment variable of a setting. */
export function envName(command: ConfigurableCommand, setting: Setting): string {
  return setting.env ?? `CUSTODY_${command}_${setting.key}`.toUpperCase().replaceAll("-", "_");
}

/** Environment variable naming a command's config file. */
export const configEnvName = (command: ConfigurableCommand) =>
  `CUSTODY_${command.toUpperCase().replaceAll("-", "_")}_CONFIG`;

const camel = (key: string) => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const settingsOf = (command: ConfigurableCommand): readonly Setting[] => SETTINGS[command];

/** Adds `--config` and a flag for every setting of `command` to `cmd` (no defaults: they are applied later). */
export function addSettingFlags(cmd: Command, command: ConfigurableCommand): Command {
  cmd.option("--config <file>", `JSON settings file (env ${configEnvName(command)})`);
  for (const st of settingsOf(command)) {
    const more = [`env ${envName(command, st)}`, st.default === undefined ? "" : `default ${st.default}`];
    const help = `${st.help} (${more.filter(Boolean).join("; ")})${st.required ? " [required]" : ""}`;
    const arg = st.kind === "list" ? " <items...>" : st.kind === "bool" ? "" : ` <${st.kind}>`;
    cmd.option(`--${st.key}${arg}`, help);
  }
  return cmd;
}

/** One resolved value. */
export type SettingValue = string | number | boolean | string[];

/** Where a value came from (for error messages). */
type Origin = "flag" | "env" | "file" | "default";

function describe(command: ConfigurableCommand, st: Setting, origin: Origin, file?: string): string {
  if (origin === "flag") return `--${st.key}`;
  if (origin === "env") return envName(command, st);
  if (origin === "file") return `"${st.key}" in ${file}`;
  return `the default of ${st.key}`;
}

/** Parses one raw value of `st`; relative paths resolve against `base`. */
function parse(st: Setting, raw: unknown, base: string, where: string): SettingValue {
  const bad = (why: string) => new ConfigError("bad-value", `${where}: ${why}`);
  switch (st.kind) {
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1" || raw === "yes") return true;
      if (raw === "false" || raw === "0" || raw === "no" || raw === "") return false;
      throw bad("expected true or false");
    case "int": {
      const n =
        typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw bad("expected a non-negative integer");
      return n;
    }
    case "list": {
      const items = Array.isArray(raw) ? raw : [raw];
      if (!items.every((i): i is string => typeof i === "string"))
        throw bad("expected text or a list of text");
      const out = items.flatMap((i) => i.split(",")).map((i) => i.trim());
      if (out.some((i) => i === "")) throw bad("empty item");
      return out;
    }
    default:
      if (typeof raw !== "string" || raw === "") throw bad("expected non-empty text");
      return st.kind === "path" ? resolve(base, raw) : raw;
  }
}

/**
 * Where JSON.parse stopped, as " (line L, column C)", or "" when it does not say. Never its message:
 * that quotes the input, and a file given by mistake (a PIN, a seed) must not reach a log.
 */
export function jsonErrorPlace(text: string, e: unknown): string {
  const m = e instanceof Error ? /\bposition (\d+)\b/.exec(e.message) : null;
  if (!m) return "";
  const before = text.slice(0, Number(m[1]));
  const line = before.split("\n").length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf("\n")})`;
}

/** Reads and checks a config file: a JSON object whose keys are all settings of `command`. */
function readConfigFile(command: ConfigurableCommand, file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new ConfigError("missing-file", `no config file ${file}`);
  const text = readFileSync(file, "utf8");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("bad-file", `${file} is not JSON${jsonErrorPlace(text, e)}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ConfigError("bad-file", `${file} must hold one JSON object`);
  const known = new Set(settingsOf(command).map((st) => st.key));
  for (const key of Object.keys(raw))
    if (!known.has(key))
      throw new ConfigError("unknown-key", `${file}: "${key}" is no setting of custody ${command}`);
  return raw as Record<string, unknown>;
}

/** The settings of one run, after flag > environment > config file > default. */
export class Settings {
  private constructor(
    readonly command: ConfigurableCommand,
    private readonly values: ReadonlyMap<string, SettingValue>,
  ) {}

  /**
   * Resolves every setting of `command` from commander's parsed `flags`, the environment and the
   * config file (`flags.config`, else its environment variable). Throws {@link ConfigError}.
   */
  static resolve(
    command: ConfigurableCommand,
    flags: Record<string, unknown>,
    env: NodeJS.ProcessEnv = process.env,
    cwd = process.cwd(),
  ): Settings {
    const configFlag = flags.config ?? env[configEnvName(command)];
    const file = typeof configFlag === "string" && configFlag !== "" ? resolve(cwd, configFlag) : undefined;
    const fromFile = file ? readConfigFile(command, file) : {};
    const values = new Map<string, SettingValue>();
    for (const st of settingsOf(command)) {
      const candidates: [Origin, unknown, string][] = [
        ["flag", flags[camel(st.key)], cwd],
        ["env", env[envName(command, st)], cwd],
        ["file", fromFile[st.key], file ? dirname(file) : cwd],
        ["default", st.default, cwd],
      ];
      // An empty environment variable counts as unset.
      const hit = candidates.find(([origin, v]) => v !== undefined && !(origin === "env" && v === ""));
      if (hit) values.set(st.key, parse(st, hit[1], hit[2], describe(command, st, hit[0], file)));
    }
    const missing = settingsOf(command).find((st) => st.required && !values.has(st.key));
    if (missing)
      throw new ConfigError(
        "missing-setting",
        `custody ${command} needs ${missing.key}: --${missing.key}, ${envName(command, missing)} or "${missing.key}" in --config`,
      );
    return new Settings(command, values);
  }

  private get(key: string, kind: SettingKind): SettingValue | undefined {
    const st = settingsOf(this.command).find((x) => x.key === key);
    if (!st || st.kind !== kind) throw new Error(`no ${kind} setting ${key} of ${this.command}`);
    return this.values.get(key);
  }

  /** A text or path setting, undefined when unset. */
  opt(key: string): string | undefined {
    const st = settingsOf(this.command).find((x) => x.key === key);
    return this.get(key, st?.kind === "path" ? "path" : "string") as string | undefined;
  }

  /** A text or path setting that is required or has a default. */
  str(key: string): string {
    const v = this.opt(key);
    if (v === undefined) throw new Error(`setting ${key} of ${this.command} has no value`);
    return v;
  }

  /** An integer setting, undefined when unset. */
  optInt(key: string): number | undefined {
    return this.get(key, "int") as number | undefined;
  }

  /** An integer setting that is required or has a default. */
  int(key: string): number {
    const v = this.optInt(key);
    if (v === undefined) throw new Error(`setting ${key} of ${this.command} has no value`);
    return v;
  }

  /** A switch (false when unset). */
  bool(key: string): boolean {
    return this.get(key, "bool") === true;
  }

  /** A list setting, undefined when unset. */
  list(key: string): string[] | undefined {
    return this.get(key, "list") as string[] | undefined;
  }
}

/** mTLS client settings of the broker connection when all three files are given. */
export function brokerTlsOf(s: Settings) {
  const [caFile, certFile, keyFile] = [s.opt("tls-ca"), s.opt("tls-cert"), s.opt("tls-key")];
  if (!caFile && !certFile && !keyFile) return undefined;
  if (!caFile || !certFile || !keyFile)
    throw new ConfigError("missing-setting", "tls-ca, tls-cert and tls-key go together");
  return { caFile, certFile, keyFile };
}

/** The reference table of every setting (markdown), as docs/operations.md carries it. */
export function settingsTable(): string {
  const rows = [
    "| command | setting (flag, config key) | environment | default | meaning |",
    "|---|---|---|---|---|",
  ];
  for (const command of Object.keys(SETTINGS) as ConfigurableCommand[]) {
    rows.push(`| ${command} | \`--config\` | \`${configEnvName(command)}\` | | the JSON settings file |`);
    for (const st of settingsOf(command)) {
      const def = st.required ? "required" : st.default === undefined ? "" : `\`${st.default}\``;
      rows.push(
        `| ${command} | \`${st.key}\` (${st.kind}) | \`${envName(command, st)}\` | ${def} | ${st.help} |`,
      );
    }
  }
  return `${rows.join("\n")}\n`;
}
