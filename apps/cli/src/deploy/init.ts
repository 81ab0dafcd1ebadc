/**
 * `custody init`: creates a whole deployment's keys and one bundle directory per host. The
 * `operator/` directory is the offline material (operator, account and tenant keys, the credential
 * authority, the keys of the broker CA and of the route CA, the admin client); each NATS node, API
 * host and party host gets only what it runs with: its own secrets (creds, certificate keys,
 * identity key) and public material (CA certificates, operator and account JWTs, the party
 * directory, authority public keys). No bundle holds a secret of another host, no host bundle holds
 * a signing seed of the operator or the authority, and only NATS node bundles hold a route
 * certificate (or the route CA's certificate). Public files are written 0644, secrets 0600.
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import {
  accountJwt,
  DEFAULT_QUOTA,
  loadOrCreateTrust,
  serverTrustConfig,
  type TrustRoot,
  tenantAccountKey,
  userJwt,
  writeUserCreds,
} from "@custody/natsd";
import {
  controlApiPermissions,
  controlWorkerPermissions,
  createIdentity,
  createPartyIdentity,
  writeCreds,
  writeDirectory,
} from "@custody/runtime";
import { createKekFile } from "@custody/store";
import { authorityPublicPath, ensureAuthority, issueClient, writeSecret } from "../dev-authority.js";
import type { ServiceIdentity } from "../operator/tenants.js";
import { DeploymentCa } from "./pki.js";

/** How the parties hold their KEK: in a PKCS#11 token (production) or a file (development only). */
export type InitKek =
  | { readonly kind: "pkcs11"; readonly module: string; readonly pinFile: string; readonly label: string }
  | { readonly kind: "file" };

/** What `custody init` creates. */
export interface InitOptions {
  readonly out: string;
  readonly natsNodes: number;
  readonly parties: number;
  readonly apiHosts: number;
  /** Address (IP or DNS name) by host name (`n1`, `api1`); hosts not named get `<name>.custody.internal`. */
  readonly addresses: Readonly<Record<string, string>>;
  readonly natsPort: number;
  readonly clusterPort: number;
  readonly apiPort: number;
  readonly kek: InitKek;
}

/** A deployment `custody init` refuses to create. */
export class InitError extends Error {
  override readonly name = "InitError";
}

/** What `custody init` wrote (the content of `operator/deployment.json`). */
export interface DeploymentSummary {
  readonly natsUrls: string[];
  readonly apiUrls: string[];
  readonly hosts: {
    readonly name: string;
    readonly role: "nats" | "api" | "party";
    readonly address?: string;
  }[];
  readonly identities: ServiceIdentity[];
}

const ADDRESS = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;
const hostPort = (address: string, port: number) =>
  isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
/** Writes a public file: mode 0644 whatever the umask. */
const publicFile = (file: string, text: string) => {
  writeFileSync(file, text);
  chmodSync(file, 0o644);
};
const json = (file: string, value: unknown) => publicFile(file, `${JSON.stringify(value, null, 2)}\n`);
const copyPublic = (from: string, to: string) => {
  copyFileSync(from, to);
  chmodSync(to, 0o644);
};
const dir = (path: string) => {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return path;
};

/** The names of the hosts of a deployment of this size. */
export function hostNames(o: Pick<InitOptions, "natsNodes" | "parties" | "apiHosts">) {
  const range = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
  return { nats: range(o.natsNodes, "n"), api: range(o.apiHosts, "api"), party: range(o.parties, "party") };
}

function check(o: InitOptions): void {
  const sizes = [
    ["--nats-nodes", o.natsNodes, 1, 9],
    ["--parties", o.parties, 2, 255],
    ["--api-hosts", o.apiHosts, 1, 64],
  ] as const;
  for (const [flag, n, min, max] of sizes)
    if (!Number.isInteger(n) || n < min || n > max) throw new InitError(`${flag} must be ${min}..${max}`);
  const names = hostNames(o);
  for (const [name, address] of Object.entries(o.addresses)) {
    if (![...names.nats, ...names.api].includes(name))
      throw new InitError(`no NATS node or API host named ${name} (they are n1.., api1..)`);
    // A zone id (fe80::1%eth0) is no address a certificate or a peer host can use.
    if (address.includes("%") || (!isIP(address) && !ADDRESS.test(address)))
      throw new InitError(`not an IP address or DNS name: ${address}`);
  }
  if (existsSync(o.out)) {
    if (!statSync(o.out).isDirectory()) throw new InitError(`${o.out} exists and is not a directory`);
    if (readdirSync(o.out).length > 0)
      throw new InitError(`${o.out} is not empty: init never overwrites a deployment's keys`);
  }
}

/** A user NKey written straight into a credentials file (the seed is in no other file). */
async function serviceCreds(
  root: TrustRoot,
  id: ServiceIdentity["role"],
  name: string,
  party: number,
  file: string,
) {
  const seedFile = `${file}.nk`;
  const { publicKey } = createIdentity(name, seedFile);
  const permissions = id === "api" ? controlApiPermissions() : controlWorkerPermissions(party);
  writeCreds(file, await userJwt(root.control, name, publicKey, permissions), seedFile);
  rmSync(seedFile);
  return publicKey;
}

/**
 * Creates the deployment under `o.out`; returns its summary. Throws {@link InitError}: before
 * writing anything for bad options, and after removing what it wrote when a step fails.
 */
export async function initDeployment(o: InitOptions): Promise<DeploymentSummary> {
  check(o);
  const created = !existsSync(o.out);
  try {
    return await create(o);
  } catch (e) {
    // Half a deployment is worse than none: its seeds would wait for a rerun that refuses them.
    if (created) rmSync(o.out, { recursive: true, force: true });
    else for (const f of readdirSync(o.out)) rmSync(join(o.out, f), { recursive: true, force: true });
    const why = e instanceof Error ? (e.message.split("\n")[0] ?? e.name) : String(e);
    throw new InitError(`init failed, nothing kept: ${why}`);
  }
}

async function create(o: InitOptions): Promise<DeploymentSummary> {
  const names = hostNames(o);
  const address = (name: string) => o.addresses[name] ?? `${name}.custody.internal`;
  const out = dir(o.out);
  const op = dir(join(out, "operator"));
  const root = loadOrCreateTrust(join(op, "trust"));
  const tenant = tenantAccountKey(root, "default");
  await writeUserCreds(join(root.dir, "system-admin.creds"), root.system, "system-admin");
  await writeUserCreds(join(root.dir, "control-admin.creds"), root.control, "control-admin");
  dir(join(op, "secrets"));
  ensureAuthority(op);
  dir(join(op, "client"));
  issueClient(
    op,
    { seedFile: join(op, "client", "admin.nk"), credentialFile: join(op, "client", "admin.cred") },
    { name: "admin", role: "admin", tenant: "default" },
  );
  // Explicit modes whatever the umask: the authority's public keys are public, the admin's credential is not.
  chmodSync(authorityPublicPath(op), 0o644);
  chmodSync(join(op, "client", "admin.cred"), 0o600);
  const ca = DeploymentCa.create(join(op, "pki"), "ca", "custody", "custody CA");
  // Routes trust only this CA: it signs the NATS nodes' route certificates and nothing else.
  const routeCa = DeploymentCa.create(join(op, "pki"), "route-ca", "custody", "custody route CA");
  ca.client("admin", { certFile: join(op, "pki", "admin.pem"), keyFile: join(op, "pki", "admin.key") });

  const natsUrls = names.nats.map((n) => `nats://${hostPort(address(n), o.natsPort)}`);
  const brokerTls = (bundle: string, cn: string) => {
    dir(join(bundle, "tls"));
    ca.copyCa(join(bundle, "tls", "ca.pem"));
    ca.client(cn, {
      certFile: join(bundle, "tls", "client.pem"),
      keyFile: join(bundle, "tls", "client.key"),
    });
    return { "tls-ca": "tls/ca.pem", "tls-cert": "tls/client.pem", "tls-key": "tls/client.key" };
  };
  const publicFiles = (bundle: string, directoryFile: string) => {
    copyPublic(authorityPublicPath(op), join(bundle, "authority.pub"));
    copyPublic(directoryFile, join(bundle, "parties.json"));
  };

  // Party identities first: every API and party bundle carries the directory of their public keys.
  const directory = new Map<number, Uint8Array>();
  const identities: ServiceIdentity[] = [];
  names.party.forEach((name, i) => {
    const party = i + 1;
    directory.set(party, createPartyIdentity(party, join(dir(join(out, name)), "identity.json")).publicKey);
  });
  const directoryFile = join(op, "parties.json");
  writeDirectory(directoryFile, directory);
  chmodSync(directoryFile, 0o644);

  for (const [i, name] of names.nats.entries()) {
    const bundle = dir(join(out, name));
    dir(join(bundle, "tls"));
    ca.copyCa(join(bundle, "tls", "ca.pem"));
    ca.server(name, [address(name)], {
      certFile: join(bundle, "tls", "server.pem"),
      keyFile: join(bundle, "tls", "server.key"),
    });
    routeCa.copyCa(join(bundle, "tls", "route-ca.pem"));
    routeCa.route(name, [address(name)], {
      certFile: join(bundle, "tls", "route.pem"),
      keyFile: join(bundle, "tls", "route.key"),
    });
    const preload = {
      [tenant.getPublicKey()]: await accountJwt(root, "tenant-default", tenant, DEFAULT_QUOTA),
    };
    const trust = await serverTrustConfig(root, join(bundle, "operator.jwt"), preload);
    chmodSync(join(bundle, "operator.jwt"), 0o644);
    json(join(bundle, "accounts.json"), {
      system_account: trust.system_account,
      resolver_preload: trust.resolver_preload,
    });
    json(join(bundle, "nats.json"), {
      "server-name": name,
      "cluster-name": "custody",
      listen: hostPort("0.0.0.0", o.natsPort),
      "cluster-listen": hostPort("0.0.0.0", o.clusterPort),
      // Peers and clients learn this node by the name its certificates carry, not by its interfaces' IPs.
      "client-advertise": hostPort(address(name), o.natsPort),
      "cluster-advertise": hostPort(address(name), o.clusterPort),
      routes: names.nats
        .filter((_, j) => j !== i)
        .map((peer) => `nats-route://${hostPort(address(peer), o.clusterPort)}`),
      "tls-ca": "tls/ca.pem",
      "tls-cert": "tls/server.pem",
      "tls-key": "tls/server.key",
      "route-ca": "tls/route-ca.pem",
      "route-cert": "tls/route.pem",
      "route-key": "tls/route.key",
      "operator-jwt": "operator.jwt",
      accounts: "accounts.json",
    });
  }

  for (const name of names.api) {
    const bundle = dir(join(out, name));
    const publicKey = await serviceCreds(root, "api", name, 0, join(bundle, "api.creds"));
    identities.push({ role: "api", name, publicKey });
    publicFiles(bundle, directoryFile);
    writeSecret(join(bundle, "webhook.key"), `${randomBytes(32).toString("hex")}\n`);
    const tls = brokerTls(bundle, name);
    ca.server(name, [address(name)], {
      certFile: join(bundle, "tls", "https.pem"),
      keyFile: join(bundle, "tls", "https.key"),
    });
    json(join(bundle, "api.json"), {
      nats: natsUrls,
      creds: "api.creds",
      authority: "authority.pub",
      host: "0.0.0.0",
      port: o.apiPort,
      "webhook-key": "webhook.key",
      "https-cert": "tls/https.pem",
      "https-key": "tls/https.key",
      ...tls,
    });
  }

  for (const [i, host] of names.party.entries()) {
    const party = i + 1;
    const bundle = join(out, host);
    const name = `${host}-w1`;
    const publicKey = await serviceCreds(root, "worker", name, party, join(bundle, "worker.creds"));
    identities.push({ role: "worker", name, party, publicKey });
    publicFiles(bundle, directoryFile);
    const kek =
      o.kek.kind === "pkcs11"
        ? {
            "kek-pkcs11-module": o.kek.module,
            "kek-token": `custody-${host}`,
            "kek-pin-file": o.kek.pinFile,
            "kek-label": o.kek.label,
          }
        : { kek: "kek.key", "insecure-file-kek": true };
    if (o.kek.kind === "file") createKekFile(join(bundle, "kek.key"));
    json(join(bundle, "worker.json"), {
      party,
      "worker-id": "w1",
      nats: natsUrls,
      creds: "worker.creds",
      ledger: `/var/lib/custody/${name}.ledger`,
      identity: "identity.json",
      directory: "parties.json",
      authority: "authority.pub",
      ...kek,
      ...brokerTls(bundle, name),
    });
  }

  json(join(op, "identities.json"), identities);
  json(join(op, "provision.json"), {
    nats: natsUrls,
    "trust-dir": "trust",
    identities: "identities.json",
    replicas: Math.min(o.natsNodes, 3),
    tenants: ["default"],
    "tls-ca": "pki/ca.pem",
    "tls-cert": "pki/admin.pem",
    "tls-key": "pki/admin.key",
  });
  const summary: DeploymentSummary = {
    natsUrls,
    apiUrls: names.api.map((n) => `https://${hostPort(address(n), o.apiPort)}`),
    hosts: [
      ...names.nats.map((name) => ({ name, role: "nats" as const, address: address(name) })),
      ...names.api.map((name) => ({ name, role: "api" as const, address: address(name) })),
      ...names.party.map((name) => ({ name, role: "party" as const })),
    ],
    identities,
  };
  json(join(op, "deployment.json"), summary);
  publicFile(join(op, "README.txt"), OPERATOR_README);
  return summary;
}

const OPERATOR_README = `OFFLINE MATERIAL. Do not copy this directory to any host of the deployment.

trust/    the NATS operator, system, control and tenant account seeds, and their admin creds:
          whoever holds them can mint any identity on the broker
secrets/  the credential authority's seed: it signs the API's client credentials
pki/      ca.key (the broker CA: signs every NATS server, HTTPS and client certificate),
          route-ca.key (the route CA: signs the NATS nodes' route certificates only; whoever
          holds it can join the cluster and bypass every permission) and the admin's client
          certificate
client/   the default tenant's first admin client (signs API requests)

Use it from an admin machine for \`custody provision --config operator/provision.json\`,
\`custody tenants\`, \`custody identities revoke\` and to issue replacement certificates; keep it
encrypted and offline otherwise. Every other directory is the bundle of one host.
`;
