/**
 * The local stack behind `custody dev` and the end-to-end tests: one nats-server with JetStream, or
 * a 3-node JetStream cluster with every stream and bucket replicated three times (own configs and
 * stores), the API and every party's workers, each a separate process with its own NKey identity
 * that is given every server's URL. The servers run in operator mode: the stack's operator signs the
 * control account and one account per tenant (the `default` tenant is enrolled at every start);
 * each process gets a user JWT per account it may use. Identities, operator keys and key-encryption
 * keys are created once and reused on the next start, so stored keys survive restarts.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  accountJwt,
  type ClientTls,
  createDevPki,
  DEFAULT_QUOTA,
  type DevPki,
  loadOrCreateTrust,
  NatsCluster,
  type NatsServer,
  resolverConfig,
  revokedUsers,
  routeTlsConfig,
  serverTlsConfig,
  serverTrustConfig,
  type TrustRoot,
  tenantAccountKey,
  userJwt,
  writeUserCreds,
} from "@custody/natsd";
import {
  connectNats,
  controlApiPermissions,
  controlWorkerPermissions,
  createIdentity,
  createPartyIdentity,
  type ProvisionOptions,
  provisionControl,
  publicKeyOf,
  readCreds,
  readPartyIdentity,
  readSeed,
  TenantRegistry,
  type UserCredentials,
  writeCreds,
  writeDirectory,
} from "@custody/runtime";
import { createKekFile } from "@custody/store";
import {
  authorityPublicPath,
  ensureAuthority,
  issueClient,
  type LoadedClient,
  loadClient,
} from "./dev-authority.js";
import { enrolTenant, type ServiceIdentity } from "./operator/tenants.js";

/** Path of the CLI entry point (children run `node main.js api|worker ...`). */
export const CLI_MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

/** What to start. */
export interface StackOptions {
  /** State directory (config, store, identities, secrets, logs). */
  readonly dir: string;
  /** Parties 1..parties. Default 3. */
  readonly parties?: number;
  /** Workers per party. Default 1. */
  readonly workers?: number;
  /** API port; 0 = free port. Default 0. */
  readonly apiPort?: number;
  /** Worker heartbeat interval (ms). */
  readonly heartbeatMs?: number;
  /** Session round timeout (ms), passed to workers. */
  readonly roundTimeoutMs?: number;
  /** Session join timeout (ms), passed to workers. */
  readonly joinTimeoutMs?: number;
  /** Helper threads per ECDSA key-generation or refresh session, passed to workers. Default: theirs (auto). */
  readonly jobThreads?: number;
  /** Ack wait of work items (ms); workers report progress at a third of it. Default 30 s. */
  readonly ackWaitMs?: number;
  /** Where children's output goes: "inherit" (dev) or log files under dir/logs (tests). */
  readonly output?: "inherit" | "files";
  /** Run a 3-node JetStream cluster with R3 streams and buckets instead of one server. */
  readonly cluster?: boolean;
  /** Extra environment of the API and worker processes (e.g. `CUSTODY_MAX_PENDING_OPS`). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The profile other commands read (`.custody/dev/profile.json`). */
export interface Profile {
  readonly apiUrl: string;
  readonly natsUrls: string[];
  /** NATS credentials files of the service identities in the control account. */
  readonly credentials: Record<string, string>;
  /** mTLS client certificate of the admin NATS identity (for operator commands such as `audit verify`). */
  readonly adminTls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** The operator's files: its keys and the system and control admin credentials. */
  readonly operator: {
    readonly trustDir: string;
    readonly systemCreds: string;
    readonly controlCreds: string;
  };
  /** Every service identity (API, workers) that tenants are enrolled for. */
  readonly identities: ServiceIdentity[];
  /** How tenant data planes are provisioned. */
  readonly provision: ProvisionOptions;
  /** The admin client of the default tenant (its NKey seed file and its credential file). */
  readonly client: { readonly seedFile: string; readonly credentialFile: string };
  readonly parties: number;
  readonly workers: number;
}

/** A started process of the stack. */
export interface StackProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

const credsDir = (dir: string) => join(dir, "creds");
const seedPath = (dir: string, name: string) => join(credsDir(dir), `${name}.nk`);
const credsPath = (dir: string, name: string) => join(credsDir(dir), `${name}.creds`);
const trustDir = (dir: string) => join(dir, "trust");
const operatorFiles = (dir: string) => ({
  trustDir: trustDir(dir),
  systemCreds: join(trustDir(dir), "system-admin.creds"),
  controlCreds: join(trustDir(dir), "control-admin.creds"),
});
/** The NATS credentials file of a tenant's admin user (full rights in the tenant's account). */
export const tenantAdminCredsPath = (dir: string, tenant: string) =>
  join(trustDir(dir), "accounts", `${tenant}-admin.creds`);
const kekPath = (dir: string, party: number) => join(dir, "secrets", `party${party}.kek`);
const identityPath = (dir: string, party: number) => join(dir, "secrets", `party${party}.identity`);
/** The API's webhook signing key: an Ed25519 seed, 64 hex digits. */
const webhookKeyPath = (dir: string) => join(dir, "secrets", "webhook.key");

/** DER of an Ed25519 PKCS#8 private key up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** Creates the webhook signing key once (mode 0600). */
function ensureWebhookKey(dir: string): void {
  const file = webhookKeyPath(dir);
  if (!existsSync(file))
    writeFileSync(file, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
}
/** A worker's local ledger (bans, active epochs): on the worker's own disk, never in the broker. */
export const ledgerPath = (dir: string, party: number, worker: number) =>
  join(dir, "state", `${workerName(party, worker)}.ledger`);
const directoryPath = (dir: string) => join(dir, "parties.json");
/** The broker's CA and certificates (mTLS), under `<dir>/pki`. */
const pkiOf = (dir: string): DevPki => createDevPki(join(dir, "pki"));
const tlsArgs = (t: ClientTls) => ["--tls-ca", t.caFile, "--tls-cert", t.certFile, "--tls-key", t.keyFile];
const adminClientFiles = (dir: string) => ({
  seedFile: join(dir, "creds", "client-admin.nk"),
  credentialFile: join(dir, "creds", "client-admin.cred"),
});

/** Identity of a (party, worker). */
export const workerName = (party: number, worker: number) => `party${party}-w${worker}`;

/** The identity's public key; a missing or revoked key is replaced by a fresh one. */
function ensureIdentity(dir: string, root: TrustRoot, name: string): string {
  const file = seedPath(dir, name);
  if (existsSync(file)) {
    const publicKey = publicKeyOf(file);
    if (!revokedUsers(root).includes(publicKey)) return publicKey;
    renameSync(file, `${file}.revoked-${Date.now()}`);
  }
  return createIdentity(name, file).publicKey;
}

/** Tenants the operator has an account for (file names under `trust/accounts`). */
export function knownTenants(root: TrustRoot): string[] {
  return readdirSync(join(root.dir, "accounts"))
    .filter((f) => f.endsWith(".nk"))
    .map((f) => f.slice(0, -3));
}

/** Writes the control-account credentials of every service identity and the operator's own users. */
async function writeControlCreds(dir: string, root: TrustRoot, identities: readonly ServiceIdentity[]) {
  for (const id of identities) {
    const permissions = id.role === "api" ? controlApiPermissions() : controlWorkerPermissions(id.party);
    writeCreds(
      credsPath(dir, id.name),
      await userJwt(root.control, id.name, id.publicKey, permissions),
      seedPath(dir, id.name),
    );
  }
  const op = operatorFiles(dir);
  if (!existsSync(op.systemCreds)) await writeUserCreds(op.systemCreds, root.system, "system-admin");
  if (!existsSync(op.controlCreds)) await writeUserCreds(op.controlCreds, root.control, "control-admin");
}

/** A running local Custody. */
export class Stack {
  readonly processes = new Map<string, StackProcess>();
  /** The API's Prometheus endpoint (each worker logs its own in its `worker ready` line). */
  apiMetricsUrl = "";
  private constructor(
    readonly options: Required<
      Omit<
        StackOptions,
        "roundTimeoutMs" | "joinTimeoutMs" | "jobThreads" | "heartbeatMs" | "ackWaitMs" | "env"
      >
    > &
      Pick<
        StackOptions,
        "roundTimeoutMs" | "joinTimeoutMs" | "jobThreads" | "heartbeatMs" | "ackWaitMs" | "env"
      >,
    /** The nats-server processes (one, or the three nodes of the cluster). */
    readonly broker: NatsCluster,
    public apiUrl: string,
  ) {}

  /** The first nats-server (the only one without `cluster`). */
  get nats(): NatsServer {
    return this.broker.servers[0]!;
  }

  /** Client URLs of every nats-server. */
  get natsUrls(): string[] {
    return this.broker.urls;
  }

  /** The dev PKI (CA and per-identity client certificates for mTLS at the broker). */
  get pki(): DevPki {
    return pkiOf(this.options.dir);
  }

  /** The public key (raw, base64url) that verifies the API's webhook deliveries. */
  get webhookPublicKey(): string {
    const seed = Buffer.from(readFileSync(webhookKeyPath(this.options.dir), "utf8").trim(), "hex");
    const key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
      format: "der",
      type: "pkcs8",
    });
    return String(createPublicKey(key).export({ format: "jwk" }).x);
  }

  /** The admin client of the default tenant (signs API requests). */
  get admin(): LoadedClient {
    return loadClient(adminClientFiles(this.options.dir));
  }

  /** NKey seed file of a service identity of this stack (`api`, `party1-w1`, ...). */
  seedFile(name: string): string {
    return seedPath(this.options.dir, name);
  }

  /** Control-account credentials file of a service identity (`api`, `party1-w1`, ...). */
  credsFile(name: string): string {
    return credsPath(this.options.dir, name);
  }

  /** The operator's credentials files (system and control account admins) and its keys' directory. */
  get operator(): { trustDir: string; systemCreds: string; controlCreds: string } {
    return operatorFiles(this.options.dir);
  }

  /** A service identity's credentials in a tenant's account (its JWT from the tenant registry). */
  async serviceCredentials(name: string, tenant = "default"): Promise<UserCredentials> {
    const nc = await connectNats({
      servers: this.natsUrls,
      credentials: readCreds(this.operator.controlCreds),
      name: "registry-read",
      tls: this.pki.client("admin"),
    });
    try {
      const entry = await (await TenantRegistry.open(nc)).get(tenant);
      const jwt = entry?.users[publicKeyOf(this.seedFile(name))];
      if (!jwt) throw new Error(`${name} has no JWT for tenant ${tenant}`);
      return { jwt, seed: readSeed(this.seedFile(name)) };
    } finally {
      await nc.close();
    }
  }

  /** Credentials file of a tenant's admin user (full rights in the tenant's account). */
  tenantAdminCreds(tenant = "default"): string {
    return tenantAdminCredsPath(this.options.dir, tenant);
  }

  /** Starts everything; resolves when the API is ready and every party has a live worker. */
  static async start(o: StackOptions): Promise<Stack> {
    const options = {
      parties: 3,
      workers: 1,
      apiPort: 0,
      output: "files" as const,
      cluster: false,
      ...o,
      dir: resolve(o.dir),
    };
    const { dir, parties, workers } = options;
    for (const d of [dir, credsDir(dir), join(dir, "secrets"), join(dir, "state"), join(dir, "logs")])
      mkdirSync(d, { recursive: true, mode: 0o700 });
    const partyIds = Array.from({ length: parties }, (_, i) => i + 1);
    const root = loadOrCreateTrust(trustDir(dir));
    const identities: ServiceIdentity[] = [
      { role: "api", name: "api", publicKey: ensureIdentity(dir, root, "api") },
      ...partyIds.flatMap((party) =>
        Array.from({ length: workers }, (_, w) => {
          const name = workerName(party, w + 1);
          return { role: "worker" as const, name, party, publicKey: ensureIdentity(dir, root, name) };
        }),
      ),
    ];
    await writeControlCreds(dir, root, identities);
    for (const p of partyIds) if (!existsSync(kekPath(dir, p))) createKekFile(kekPath(dir, p));
    const directory = new Map(
      partyIds.map((p) => {
        const file = identityPath(dir, p);
        const id = existsSync(file) ? readPartyIdentity(file) : createPartyIdentity(p, file);
        return [p, id.publicKey] as const;
      }),
    );
    writeDirectory(directoryPath(dir), directory);
    ensureAuthority(dir);
    ensureWebhookKey(dir);
    const adminFiles = adminClientFiles(dir);
    if (!existsSync(adminFiles.credentialFile))
      issueClient(dir, adminFiles, { name: "admin", role: "admin", tenant: "default" });
    const pki = pkiOf(dir);
    const tenants = [...new Set(["default", ...knownTenants(root)])];
    const preload: Record<string, string> = {};
    for (const t of tenants) {
      const kp = tenantAccountKey(root, t);
      preload[kp.getPublicKey()] = await accountJwt(root, `tenant-${t}`, kp, DEFAULT_QUOTA);
    }
    const brokerDir = join(dir, options.cluster ? "nats-cluster" : "nats");
    mkdirSync(brokerDir, { recursive: true });
    const broker = await NatsCluster.start({
      dir: brokerDir,
      size: options.cluster ? 3 : 1,
      name: options.cluster ? "custody" : "custody-dev",
      config: {
        ...(await serverTrustConfig(root, join(brokerDir, "operator.jwt"), preload)),
        tls: serverTlsConfig(pki),
      },
      routeTls: routeTlsConfig(pki),
      nodeConfig: (nodeDir) => resolverConfig(join(nodeDir, "jwt")),
    });
    const stack = new Stack(options, broker, "");
    try {
      await stack.bringUp(root, identities, partyIds, pki);
    } catch (e) {
      await stack.stop(); // a failed start leaves no server or child process behind
      throw e;
    }
    return stack;
  }

  /** Provisions the control account, enrols every tenant, starts the processes, writes the profile. */
  private async bringUp(root: TrustRoot, identities: ServiceIdentity[], partyIds: number[], pki: DevPki) {
    const { dir, parties, workers } = this.options;
    const broker = this.broker;
    const tenants = [...new Set(["default", ...knownTenants(root)])];
    const op = operatorFiles(dir);
    const replicas = broker.servers.length;
    const nc = await connectNats({
      servers: broker.urls,
      credentials: readCreds(op.controlCreds),
      name: "control-admin",
      tls: pki.client("admin"),
    });
    await provisionControl(nc, { replicas });
    await nc.close();
    const provision: ProvisionOptions = { parties: partyIds, ackWaitMs: this.options.ackWaitMs, replicas };
    for (const tenant of tenants)
      await enrolTenant({
        root,
        tenant,
        connect: { servers: broker.urls, tls: pki.client("admin") },
        systemCreds: op.systemCreds,
        controlCreds: op.controlCreds,
        tenantAdminCreds: tenantAdminCredsPath(dir, tenant),
        identities,
        provision,
      });
    await this.startApi();
    for (const p of partyIds) for (let w = 1; w <= workers; w++) this.startWorker(p, w);
    await this.waitReady();
    const profile: Profile = {
      apiUrl: this.apiUrl,
      natsUrls: broker.urls,
      credentials: Object.fromEntries(identities.map((id) => [id.name, credsPath(dir, id.name)])),
      client: adminClientFiles(dir),
      adminTls: pki.client("admin"),
      operator: op,
      identities,
      provision,
      parties,
      workers,
    };
    writeFileSync(join(dir, "profile.json"), `${JSON.stringify(profile, null, 2)}\n`);
  }

  private spawnChild(name: string, args: string[]): StackProcess {
    const files = this.options.output === "files";
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...this.options.env },
    });
    const log = join(this.options.dir, "logs", `${name}.log`);
    const sink = (d: Buffer) => {
      if (files) writeFileSync(log, d, { flag: "a" });
      else process.stderr.write(d);
    };
    child.stdout.on("data", sink);
    child.stderr.on("data", sink);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const proc = { name, child, exited };
    this.processes.set(name, proc);
    return proc;
  }

  /** Starts (or restarts) the API process; resolves with its URL. */
  async startApi(): Promise<string> {
    const port = this.apiUrl ? Number(new URL(this.apiUrl).port) : this.options.apiPort;
    const proc = this.spawnChild("api", [
      "api",
      "--nats",
      this.natsUrls.join(","),
      "--creds",
      credsPath(this.options.dir, "api"),
      "--authority",
      authorityPublicPath(this.options.dir),
      ...tlsArgs(this.pki.client("api")),
      "--port",
      String(port),
      "--print-url",
      "--webhook-key",
      webhookKeyPath(this.options.dir),
      "--metrics",
      "127.0.0.1:0",
    ]);
    const url = await new Promise<string>((resolveUrl, reject) => {
      let buf = "";
      const onData = (d: Buffer) => {
        buf += d.toString();
        const m = /CUSTODY_API_URL=(\S+)/.exec(buf);
        const metrics = /CUSTODY_METRICS_URL=(\S+)/.exec(buf);
        if (m && metrics) {
          proc.child.stdout?.off("data", onData);
          this.apiMetricsUrl = metrics[1]!;
          resolveUrl(m[1]!);
        }
      };
      proc.child.stdout?.on("data", onData);
      proc.exited.then((code) => reject(new Error(`api exited with ${code}`)));
    });
    this.apiUrl = url;
    return url;
  }

  /** Starts worker `worker` of `party`. */
  startWorker(party: number, worker: number): StackProcess {
    const o = this.options;
    const args = [
      "worker",
      "--party",
      String(party),
      "--worker-id",
      `w${worker}`,
      "--nats",
      this.natsUrls.join(","),
      "--creds",
      credsPath(o.dir, workerName(party, worker)),
      "--kek",
      kekPath(o.dir, party),
      "--insecure-file-kek",
      "--metrics",
      "127.0.0.1:0",
      "--ledger",
      ledgerPath(o.dir, party, worker),
      "--identity",
      identityPath(o.dir, party),
      "--directory",
      directoryPath(o.dir),
      "--authority",
      authorityPublicPath(o.dir),
      ...tlsArgs(this.pki.client(workerName(party, worker))),
    ];
    if (o.heartbeatMs) args.push("--heartbeat-ms", String(o.heartbeatMs));
    if (o.roundTimeoutMs) args.push("--round-timeout-ms", String(o.roundTimeoutMs));
    if (o.joinTimeoutMs) args.push("--join-timeout-ms", String(o.joinTimeoutMs));
    if (o.jobThreads !== undefined) args.push("--job-threads", String(o.jobThreads));
    if (o.ackWaitMs) args.push("--progress-ms", String(Math.max(100, Math.floor(o.ackWaitMs / 3))));
    return this.spawnChild(workerName(party, worker), args);
  }

  /** Waits until the API answers ready and every party (or `parties`) is live. */
  async waitReady(parties?: readonly number[], timeoutMs = 30_000): Promise<void> {
    const want = parties ?? Array.from({ length: this.options.parties }, (_, i) => i + 1);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await fetch(`${this.apiUrl}/readyz`);
        const body = (await r.json()) as { liveParties: number[] };
        if (r.ok && want.every((p) => body.liveParties.includes(p))) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error("stack did not become ready in time");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Sends a signal to one process (SIGKILL: crash, SIGSTOP/SIGCONT: pause). */
  signal(name: string, sig: NodeJS.Signals): void {
    this.processes.get(name)?.child.kill(sig);
  }

  /** Kills a process and waits for it to exit. */
  async kill(name: string, sig: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.processes.get(name);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(sig);
    await p.exited;
  }

  /** Stops every process and the server. */
  async stop(): Promise<void> {
    for (const p of this.processes.values()) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGCONT");
    }
    await Promise.all(
      [...this.processes.values()].map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill("SIGTERM");
        const t = setTimeout(() => p.child.kill("SIGKILL"), 5000);
        await p.exited;
        clearTimeout(t);
      }),
    );
    await this.broker.stop();
  }
}
