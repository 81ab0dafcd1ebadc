/**
 * `custody credentials issue|list|revoke`: an admin issues client credentials for its tenant without
 * the authority's seed (a delegated credential, signed with the admin's own key, see
 * docs/api-auth.md), lists the tenant's registered credentials, and revokes one. `issue` makes the
 * new client's key pair locally: its seed never leaves the machine, and the API only ever sees (and
 * records) the signed credential. From a revocation on, the API and every party refuse the
 * credential and everything it issued.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type CredentialClaims,
  createClientKey,
  delegateCredential,
  issueCredential,
  type Role,
} from "@custody/credentials";
import { CREDENTIAL_ID } from "@custody/runtime";
import type { CredentialView } from "@custody/sdk";
import type { Command } from "commander";
import { type ClientFiles, loadClient, writeSecret } from "../dev-authority.js";
import { action, client, DEFAULT_PROFILE, type GlobalOpts, globals } from "./client.js";
import { SUMMARY } from "./summaries.js";

/** What to revoke: an id (64 hex digits), a file holding a credential, or the credential itself. */
function target(arg: string): { id: string } | { credential: string } {
  const s = arg.trim();
  if (CREDENTIAL_ID.test(s)) return { id: s };
  if (existsSync(s)) return { credential: readFileSync(s, "utf8").trim() };
  return { credential: s };
}

const ROLES: readonly Role[] = ["admin", "signer", "auditor"];
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds of a duration such as `30d`, `12h`, `90m` or `3600s`. */
function parseTtl(ttl: string): number {
  const m = /^([1-9][0-9]{0,8})([smhd])$/.exec(ttl.trim());
  if (!m) throw new Error(`--ttl ${ttl}: give a number and a unit (s, m, h or d), e.g. 30d`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** The caller's profile, API URL and identity files, resolved as every client command does. */
function caller(o: GlobalOpts): { apiUrl: string; files: ClientFiles } {
  const file = resolve(o.profile ?? DEFAULT_PROFILE);
  const profile = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as { apiUrl?: string; client?: ClientFiles })
    : undefined;
  const apiUrl = o.api ?? process.env.CUSTODY_API_URL ?? profile?.apiUrl;
  const files = o.seed && o.credential ? { seedFile: o.seed, credentialFile: o.credential } : profile?.client;
  if (!apiUrl || !files)
    throw new Error(
      `no API or client identity: pass --api, --seed and --credential, or --profile (no ${file})`,
    );
  return { apiUrl, files };
}

/** The claims of a credential's own (last) signed part, unverified: the caller's, to default from. */
function claimsOf(credential: string): CredentialClaims {
  const own = credential.slice(credential.lastIndexOf("~") + 1);
  return JSON.parse(Buffer.from(own.split(".")[0] ?? "", "base64url").toString("utf8")) as CredentialClaims;
}

type IssueOpts = GlobalOpts & {
  role: string;
  keys?: string;
  ttl?: string;
  name?: string;
  out: string;
  authoritySeed?: string;
};

/** Issues, registers and writes a new client credential; returns its view and files. */
async function issue(o: IssueOpts) {
  if (!ROLES.includes(o.role as Role)) throw new Error(`--role must be one of: ${ROLES.join(", ")}`);
  const role = o.role as Role;
  const { apiUrl, files } = caller(o);
  const me = loadClient(files);
  const mine = claimsOf(me.credential);
  const out = resolve(o.out);
  const paths = {
    seedFile: join(out, "client.nk"),
    credentialFile: join(out, "client.cred"),
    profile: join(out, "profile.json"),
  };
  for (const p of Object.values(paths))
    if (existsSync(p)) throw new Error(`${p} exists: choose another --out`);
  const key = createClientKey();
  const iat = Math.floor(Date.now() / 1000);
  // Without --ttl: 30 days, or less when the issuer's own credential ends sooner.
  const exp = o.ttl ? iat + parseTtl(o.ttl) : Math.min(iat + 30 * 86_400, mine.exp);
  const claims = {
    sub: key.publicKey,
    name: o.name ?? `${role}-${key.publicKey.slice(1, 9).toLowerCase()}`,
    role,
    tenant: mine.tenant,
    keys: o.keys ? o.keys.split(",").map((k) => k.trim()) : role === "signer" ? [] : ["*"],
    iat,
    exp,
  };
  const credential = o.authoritySeed
    ? issueCredential(readFileSync(o.authoritySeed, "utf8"), claims)
    : delegateCredential(me.seed, me.credential, claims);
  const view = await client(o).registerCredential(credential);
  mkdirSync(out, { recursive: true });
  writeSecret(paths.seedFile, key.seed);
  writeFileSync(paths.credentialFile, `${credential}\n`, { flag: "wx" });
  const profile = { apiUrl, client: { seedFile: paths.seedFile, credentialFile: paths.credentialFile } };
  writeFileSync(paths.profile, `${JSON.stringify(profile, null, 2)}\n`, { flag: "wx" });
  return { view, files: paths };
}

const status = (c: CredentialView, nowMs = Date.now()) =>
  c.revoked ? "revoked" : Date.parse(c.expiresAt) <= nowMs ? "expired" : "active";

/** Adds `credentials issue`, `credentials list` and `credentials revoke` to `program`. */
export function registerCredentialCommands(program: Command): void {
  const credentials = program.command("credentials").description(SUMMARY.credentials);
  globals(
    credentials
      .command("issue")
      .description(
        "issue a client credential for your tenant (admin only): a new key pair made here, signed with your own key, registered with the API",
      )
      .requiredOption("--role <role>", "admin | signer | auditor")
      .option("--keys <ids>", "key ids a signer may sign with, comma-separated, or * (default: none)")
      .option("--ttl <duration>", "lifetime, e.g. 30d, 12h (default 30d, at most your own credential's)")
      .option("--name <name>", "a display name")
      .requiredOption("--out <dir>", "where to write the seed (0600), the credential and a profile")
      .option(
        "--authority-seed <file>",
        "operator: sign with the authority's seed instead (a root credential)",
      ),
  ).action(
    action(async (o: IssueOpts) => {
      const { view, files } = await issue(o);
      if (o.json) return console.log(JSON.stringify({ ...view, files }));
      console.log(`issued ${view.role} credential ${view.id} (${view.name}) for tenant ${view.tenant}`);
      console.log(
        `  keys ${view.keys.join(", ") || "none"}, expires ${view.expiresAt}, issuer ${view.issuer}`,
      );
      console.log(`  seed ${files.seedFile} (keep it secret), credential ${files.credentialFile}`);
      console.log(`use it: CUSTODY_PROFILE=${files.profile} custody keys list`);
    }),
  );
  globals(
    credentials
      .command("list")
      .description("the credentials registered for your tenant (admins and auditors)"),
  ).action(
    action(async (o: GlobalOpts) => {
      const list = await client(o).listCredentials();
      if (o.json) return console.log(JSON.stringify(list));
      if (list.length === 0) return console.log("no registered credentials");
      const rows = list.map((c) => [
        c.id.slice(0, 16),
        c.role,
        status(c),
        c.name,
        c.keys.join(",") || "-",
        c.expiresAt.slice(0, 19),
        c.issuer.slice(0, 12),
      ]);
      const head = ["ID", "ROLE", "STATUS", "NAME", "KEYS", "EXPIRES", "ISSUER"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows])
        console.log(
          r
            .map((c, i) => c.padEnd(widths[i]!))
            .join("  ")
            .trimEnd(),
        );
    }),
  );
  globals(
    credentials
      .command("revoke")
      .description(
        "revoke a client credential of your tenant (admin only), and every credential it issued; the API and every party refuse them",
      )
      .argument("<credential-or-id>", "the credential, a file holding it, or its id (64 hex digits)")
      .option("--reason <text>", "why (kept with the revocation)"),
  ).action(
    action(async (arg: string, o: GlobalOpts & { reason?: string }) => {
      const r = await client(o).revokeCredential(target(arg), o.reason);
      if (o.json) return console.log(JSON.stringify(r));
      console.log(`revoked credential ${r.id} of tenant ${r.tenant} at ${r.revokedAt}`);
    }),
  );
}
