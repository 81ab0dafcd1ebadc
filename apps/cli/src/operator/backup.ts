/**
 * Backup and restore of Custody's broker state, for the operator. A party backup holds one
 * party's records of every tenant (or of the tenants named): its share bucket (the sealed shares
 * and the sealed per-key states, byte for byte: nothing is opened, the operator holds no KEK) and
 * its served-request ledger. An API backup holds every tenant's key, operation, idempotency and
 * credential (revocations and registry) records, and the control account's audit stream.
 *
 * File format `custody-backup` version 1, JSON Lines: the first line is the manifest (kind,
 * party, tenants, time, a summary per key, and per record its name, size and SHA-256); each
 * further line is one record, in manifest order, its value in base64. A reader refuses a file
 * whose records do not match the manifest one for one.
 *
 * A restore is create-only: a record the broker holds with the same value is skipped, one it
 * holds with another value is a conflict, and any conflict refuses the whole restore before
 * anything is written. Unless forced, it also refuses a party backup that a later refresh retired:
 * one without this party's share at the active epoch of a key the API's records call active, or
 * one older than what a worker's local ledger saw activated. Even a forced old restore never
 * signs with a retired share: the worker refuses a state older than its ledger (`state-rolled-back`).
 * @module
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  AUDIT_STREAM,
  auditSubject,
  IDEMPOTENCY_BUCKET,
  KEYS_BUCKET,
  OPERATIONS_BUCKET,
  REVOCATIONS_BUCKET,
  servedBucket,
  shareBucket,
  WEBHOOKS_BUCKET,
} from "@custody/proto";
import { connectNats, readCreds, TENANT_NAME, TenantRegistry } from "@custody/runtime";
import { jetstream } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { tenantAdminCredsPath } from "../stack.js";
import { readProfile } from "./profile.js";

/** Name of the backup file format (the manifest's `format`). */
export const BACKUP_FORMAT = "custody-backup";
/** Version of the backup file format this code writes and reads. */
export const BACKUP_VERSION = 1;

/** Which record: a tenant's KV entry, or an entry of the control account's audit stream. */
export type RecordRef =
  | { readonly type: "kv"; readonly tenant: string; readonly bucket: string; readonly key: string }
  | { readonly type: "audit"; readonly seq: number };

/** A backed-up record and its raw value (sealed, for share records). */
export type BackupRecord = RecordRef & { readonly value: Uint8Array };

/** A record as the manifest lists it. */
export type ManifestRecord = RecordRef & { readonly size: number; readonly sha256: string };

/** One share slot: its epoch and the session (hex) that produced it. */
export interface SlotName {
  readonly epoch: number;
  readonly session: string;
}

/** What a party backup holds of one key (read from its record names; nothing is opened). */
export interface PartyKeySummary {
  /** Whether the party's sealed state record of the key is present. */
  readonly state: boolean;
  /** The share records present, by epoch and session. */
  readonly shares: readonly SlotName[];
  /** Records of the key (state and shares). */
  readonly records: number;
}

/** What an API backup holds of one key (from its key record). */
export interface ApiKeySummary {
  readonly status: string;
  readonly scheme: string;
  readonly epoch: number;
  readonly parties: readonly number[];
  /** A refresh in progress when the backup was taken. */
  readonly refreshing?: string;
}

interface ManifestBase {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: typeof BACKUP_VERSION;
  /** ISO time the backup was taken. */
  readonly createdAt: string;
  readonly tenants: readonly string[];
  /** Every record of the file, in file order. */
  readonly records: readonly ManifestRecord[];
}

/** The first line of a backup file. */
export type Manifest = ManifestBase &
  (
    | {
        readonly kind: "party";
        readonly party: number;
        readonly keys: Readonly<Record<string, Readonly<Record<string, PartyKeySummary>>>>;
      }
    | {
        readonly kind: "api";
        readonly keys: Readonly<Record<string, Readonly<Record<string, ApiKeySummary>>>>;
      }
  );

/** A backup: its manifest and its records. */
export interface Backup {
  readonly manifest: Manifest;
  readonly records: readonly BackupRecord[];
}

/** A party's backup. */
export type PartyBackup = Backup & { readonly manifest: Extract<Manifest, { kind: "party" }> };
/** The API's backup. */
export type ApiBackup = Backup & { readonly manifest: Extract<Manifest, { kind: "api" }> };
const isApi = (b: Backup): b is ApiBackup => b.manifest.kind === "api";

/** A backup file that is not a well-formed, self-consistent `custody-backup` file. */
export class BackupFormatError extends Error {
  override readonly name = "BackupFormatError";
}

/** A worker ledger file that cannot be read. */
export class LedgerReadError extends Error {
  override readonly name = "LedgerReadError";
}

/** A restore refused before anything was written: why, and which records conflict. */
export class RestoreRefusedError extends Error {
  override readonly name = "RestoreRefusedError";
  constructor(
    /** Why the backup may be retired (or cannot be checked), or a tenant is missing. */
    readonly reasons: readonly string[],
    /** Records the broker holds with another value (`tenant/bucket/key`, `audit`). */
    readonly conflicts: readonly string[],
  ) {
    super(
      `restore refused, nothing written:\n  ${[...reasons, ...conflicts.map((c) => `conflict: ${c}`)].join("\n  ")}`,
    );
  }
}

/** What a restore did. */
export interface RestoreReport {
  readonly created: number;
  readonly skipped: number;
  /** Records that appeared in the broker with another value while the restore ran (not written). */
  readonly conflicts: readonly string[];
  /** The audit entries appended, and why the rest were not, when they were not. */
  readonly audit?: { readonly appended: number; readonly skipped: number; readonly note?: string };
}

/** How to reach the broker as the operator. */
export interface BrokerAccess {
  readonly servers: readonly string[];
  readonly tls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
  /** Credentials file of the control account's admin (registry, audit). */
  readonly controlCreds: string;
  /** Credentials file of a tenant's admin user (full rights in the tenant's account). */
  tenantCreds(tenant: string): string;
}

/** The operator's access to the broker, from the dev profile (and the trust directory beside it). */
export function brokerAccess(profileFile: string): BrokerAccess {
  const file = resolve(profileFile);
  const profile = readProfile(file);
  return {
    servers: profile.natsUrls,
    tls: profile.adminTls,
    controlCreds: profile.operator.controlCreds,
    tenantCreds: (tenant) => tenantAdminCredsPath(dirname(file), tenant),
  };
}

const PARTY_BUCKETS = (party: number) => [shareBucket(party), servedBucket(party)];
const API_BUCKETS = [KEYS_BUCKET, OPERATIONS_BUCKET, IDEMPOTENCY_BUCKET, REVOCATIONS_BUCKET, WEBHOOKS_BUCKET];
const SHARE_RECORD = /^([A-Za-z0-9_-]+)\.(?:state|(\d+)\.([A-Za-z0-9_-]+))$/;
const KV_KEY = /^[-/_=.A-Za-z0-9]+$/;
const sha256 = (v: Uint8Array) => createHash("sha256").update(v).digest("hex");
const nameOf = (r: RecordRef) => (r.type === "kv" ? `${r.tenant}/${r.bucket}/${r.key}` : `audit/${r.seq}`);
const refOf = (r: RecordRef): RecordRef =>
  r.type === "kv"
    ? { type: "kv", tenant: r.tenant, bucket: r.bucket, key: r.key }
    : { type: "audit", seq: r.seq };
const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

function connectAs(access: BrokerAccess, creds: string, name: string): Promise<NatsConnection> {
  return connectNats({ servers: access.servers, credentials: readCreds(creds), tls: access.tls, name });
}

async function withControl<T>(access: BrokerAccess, use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectAs(access, access.controlCreds, "operator-backup");
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

/** One connection per tenant account, opened on first use; `close` ends them all. */
function tenantConnections(access: BrokerAccess) {
  const open = new Map<string, Promise<NatsConnection>>();
  return {
    get(tenant: string): Promise<NatsConnection> {
      let nc = open.get(tenant);
      if (!nc) {
        nc = connectAs(access, access.tenantCreds(tenant), `operator-backup-${tenant}`);
        open.set(tenant, nc);
      }
      return nc;
    },
    async close(): Promise<void> {
      for (const nc of open.values()) await (await nc.catch(() => undefined))?.close();
    },
  };
}

/** Every enrolled tenant (the control account's registry), sorted. */
export async function enrolledTenants(access: BrokerAccess): Promise<string[]> {
  return withControl(access, async (nc) =>
    (await (await TenantRegistry.open(nc)).list()).map((e) => e.tenant).sort(),
  );
}

async function chooseTenants(access: BrokerAccess, asked?: readonly string[]): Promise<string[]> {
  const enrolled = await enrolledTenants(access);
  if (!asked || asked.length === 0) return enrolled;
  const unknown = asked.filter((t) => !enrolled.includes(t));
  if (unknown.length > 0) throw new RangeError(`not enrolled: ${unknown.join(", ")}`);
  return [...new Set(asked)].sort();
}

/** A bucket the broker does not have (e.g. a party it was not provisioned for). */
export class MissingBucketError extends Error {
  override readonly name = "MissingBucketError";
}

/** Opens a provisioned bucket; a missing one is a MissingBucketError. */
async function openKv(nc: NatsConnection, tenant: string, bucket: string): Promise<KV> {
  try {
    const kv = await new Kvm(nc).open(bucket);
    await kv.status(); // opening alone does not look the bucket up
    return kv;
  } catch (e) {
    if (!/not found/i.test(String(e))) throw e;
    throw new MissingBucketError(`tenant ${tenant} has no bucket ${bucket} here`);
  }
}

async function readBucket(nc: NatsConnection, tenant: string, bucket: string): Promise<BackupRecord[]> {
  const kv = await openKv(nc, tenant, bucket);
  const names: string[] = [];
  for await (const k of await kv.keys()) names.push(k);
  const out: BackupRecord[] = [];
  for (const key of names.sort()) {
    const e = await kv.get(key);
    if (e?.operation === "PUT") out.push({ type: "kv", tenant, bucket, key, value: e.value });
  }
  return out;
}

type AuditBackupRecord = Extract<BackupRecord, { type: "audit" }>;

async function readAudit(nc: NatsConnection): Promise<AuditBackupRecord[]> {
  const stream = await jetstream(nc).streams.get(AUDIT_STREAM);
  const { state } = await stream.info();
  const out: AuditBackupRecord[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await stream.getMessage({ seq });
    if (m) out.push({ type: "audit", seq, value: m.data });
  }
  return out;
}

/** Per tenant and key, the share records of a party's share bucket (from their names alone). */
function partyKeys(party: number, records: readonly BackupRecord[]) {
  const keys: Record<string, Record<string, { state: boolean; shares: SlotName[]; records: number }>> = {};
  for (const r of records) {
    if (r.type !== "kv" || r.bucket !== shareBucket(party)) continue;
    const m = SHARE_RECORD.exec(r.key);
    if (!m) throw new BackupFormatError(`share bucket record ${r.key} is neither a state nor a share`);
    const perTenant = keys[r.tenant] ?? {};
    keys[r.tenant] = perTenant;
    const k = perTenant[m[1]!] ?? { state: false, shares: [], records: 0 };
    perTenant[m[1]!] = k;
    k.records++;
    if (m[2] === undefined) k.state = true;
    else k.shares.push({ epoch: Number(m[2]), session: m[3]! });
  }
  return keys;
}

function apiKeys(records: readonly BackupRecord[]) {
  const keys: Record<string, Record<string, ApiKeySummary>> = {};
  for (const r of records) {
    if (r.type !== "kv" || r.bucket !== KEYS_BUCKET) continue;
    keys[r.tenant] = { ...keys[r.tenant], [r.key]: keyRecordSummary(r.key, r.value) };
  }
  return keys;
}

function keyRecordSummary(id: string, value: Uint8Array): ApiKeySummary {
  let k: Partial<{ id: string; status: string; scheme: string; epoch: number; parties: number[] }> & {
    refreshing?: string;
  };
  try {
    k = JSON.parse(Buffer.from(value).toString("utf8"));
  } catch {
    throw new BackupFormatError(`key record ${id} is not JSON`);
  }
  const parties = k.parties;
  if (
    k.id !== id ||
    typeof k.status !== "string" ||
    typeof k.scheme !== "string" ||
    !Number.isSafeInteger(k.epoch) ||
    !Array.isArray(parties) ||
    !parties.every((p) => Number.isSafeInteger(p))
  )
    throw new BackupFormatError(`key record ${id} is not a key record`);
  return {
    status: k.status,
    scheme: k.scheme,
    epoch: k.epoch as number,
    parties,
    ...(typeof k.refreshing === "string" ? { refreshing: k.refreshing } : {}),
  };
}

function manifestOf(
  head: { kind: "party"; party: number } | { kind: "api" },
  tenants: readonly string[],
  records: readonly BackupRecord[],
  createdAt: string,
): Manifest {
  const base = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt,
    tenants,
    records: records.map((r) => ({ ...refOf(r), size: r.value.length, sha256: sha256(r.value) })),
  } as const;
  return head.kind === "party"
    ? { ...base, kind: "party", party: head.party, keys: partyKeys(head.party, records) }
    : { ...base, kind: "api", keys: apiKeys(records) };
}

/** Reads a party's share bucket and served ledger of every tenant (or of `tenants`), still sealed. */
export async function backupParty(
  access: BrokerAccess,
  party: number,
  tenants?: readonly string[],
): Promise<Backup> {
  if (!Number.isSafeInteger(party) || party < 1) throw new RangeError(`invalid party ${party}`);
  const chosen = await chooseTenants(access, tenants);
  const conns = tenantConnections(access);
  try {
    const records: BackupRecord[] = [];
    for (const t of chosen)
      for (const bucket of PARTY_BUCKETS(party))
        records.push(...(await readBucket(await conns.get(t), t, bucket)));
    return {
      manifest: manifestOf({ kind: "party", party }, chosen, records, new Date().toISOString()),
      records,
    };
  } finally {
    await conns.close();
  }
}

/** Reads the API's records of every tenant (or of `tenants`) and the audit stream. */
export async function backupApi(access: BrokerAccess, tenants?: readonly string[]): Promise<Backup> {
  const chosen = await chooseTenants(access, tenants);
  const conns = tenantConnections(access);
  try {
    const records: BackupRecord[] = [];
    for (const t of chosen)
      for (const bucket of API_BUCKETS) records.push(...(await readBucket(await conns.get(t), t, bucket)));
    records.push(...(await withControl(access, readAudit)));
    return { manifest: manifestOf({ kind: "api" }, chosen, records, new Date().toISOString()), records };
  } finally {
    await conns.close();
  }
}

/** Writes a backup file (mode 0600, fsynced, renamed into place: never a half-written file). */
export function writeBackup(file: string, backup: Backup): void {
  const lines = [
    JSON.stringify(backup.manifest),
    ...backup.records.map((r) =>
      JSON.stringify({ ...refOf(r), value: Buffer.from(r.value).toString("base64") }),
    ),
  ];
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, `${lines.join("\n")}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

function parseRef(v: unknown, where: string): RecordRef {
  if (!isObject(v)) throw new BackupFormatError(`${where} is not an object`);
  if (v.type === "kv") {
    const { tenant, bucket, key } = v;
    if (typeof tenant !== "string" || !TENANT_NAME.test(tenant))
      throw new BackupFormatError(`${where} names no valid tenant`);
    if (typeof bucket !== "string") throw new BackupFormatError(`${where} names no bucket`);
    if (typeof key !== "string" || !KV_KEY.test(key) || key.startsWith(".") || key.endsWith("."))
      throw new BackupFormatError(`${where} names no valid key`);
    return { type: "kv", tenant, bucket, key };
  }
  if (v.type === "audit" && Number.isSafeInteger(v.seq) && (v.seq as number) > 0)
    return { type: "audit", seq: v.seq as number };
  throw new BackupFormatError(`${where} is neither a KV record nor an audit entry`);
}

/** Checks the manifest's head fields; returns what the records may name. */
function parseHead(m: Record<string, unknown>) {
  if (m.format !== BACKUP_FORMAT) throw new BackupFormatError("not a custody-backup file");
  if (m.version !== BACKUP_VERSION)
    throw new BackupFormatError(`backup format version ${String(m.version)} is not supported`);
  if (typeof m.createdAt !== "string") throw new BackupFormatError("the manifest has no time");
  const tenants = m.tenants;
  if (!Array.isArray(tenants) || !tenants.every((t) => typeof t === "string" && TENANT_NAME.test(t)))
    throw new BackupFormatError("the manifest's tenants are not valid tenant names");
  if (m.kind === "party") {
    if (!Number.isSafeInteger(m.party) || (m.party as number) < 1)
      throw new BackupFormatError("the manifest names no valid party");
    const party = m.party as number;
    return {
      head: { kind: "party" as const, party },
      tenants: tenants as string[],
      buckets: PARTY_BUCKETS(party),
      audit: false,
    };
  }
  if (m.kind === "api")
    return {
      head: { kind: "api" as const },
      tenants: tenants as string[],
      buckets: API_BUCKETS,
      audit: true,
    };
  throw new BackupFormatError("the manifest's kind is neither party nor api");
}

/** Reads and checks a backup file: every record must match the manifest (name, size, SHA-256) in order. */
export function readBackup(file: string): Backup {
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  let parsed: unknown[];
  try {
    parsed = lines.map((l) => JSON.parse(l) as unknown);
  } catch {
    throw new BackupFormatError(`${file} holds a line that is not JSON`);
  }
  const [m, ...rest] = parsed;
  if (!isObject(m)) throw new BackupFormatError(`${file} has no manifest`);
  const { head, tenants, buckets, audit } = parseHead(m);
  const listed = m.records;
  if (!Array.isArray(listed) || listed.length !== rest.length)
    throw new BackupFormatError(
      `${file}: the manifest lists ${Array.isArray(listed) ? listed.length : "no"} records, the file holds ${rest.length}`,
    );
  const records: BackupRecord[] = rest.map((line, i) => {
    const where = `record ${i + 1}`;
    const ref = parseRef(line, where);
    const entry = listed[i] as unknown;
    if (!isObject(entry) || JSON.stringify(parseRef(entry, `manifest ${where}`)) !== JSON.stringify(ref))
      throw new BackupFormatError(`${where} is not the one the manifest lists there`);
    if (ref.type === "kv" && (!tenants.includes(ref.tenant) || !buckets.includes(ref.bucket)))
      throw new BackupFormatError(`${where} (${nameOf(ref)}) does not belong in this backup`);
    if (ref.type === "audit" && !audit)
      throw new BackupFormatError(`${where}: a party backup holds no audit entries`);
    const b64 = (line as { value?: unknown }).value;
    if (typeof b64 !== "string") throw new BackupFormatError(`${where} has no value`);
    const value = Buffer.from(b64, "base64");
    if (value.toString("base64") !== b64) throw new BackupFormatError(`${where}: the value is not base64`);
    if (entry.size !== value.length || entry.sha256 !== sha256(value))
      throw new BackupFormatError(
        `${where} (${nameOf(ref)}): the value does not match the manifest's SHA-256`,
      );
    return { ...ref, value: new Uint8Array(value) };
  });
  const manifest = manifestOf(head, tenants, records, m.createdAt as string);
  if (JSON.stringify(manifest.keys) !== JSON.stringify(m.keys))
    throw new BackupFormatError(`${file}: the manifest's key summary does not match its records`);
  return { manifest, records };
}

/** The activated epochs a worker's ledger file records, per tenant and key (read only, never repaired). */
export function readLedgerEpochs(file: string): Map<string, Map<string, number>> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new LedgerReadError(
      `cannot read the ledger ${file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
  // A torn last line (a crash mid-append) never took effect: the worker drops it too.
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  const out = new Map<string, Map<string, number>>();
  for (const line of complete.split("\n")) {
    if (line === "") continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      throw new LedgerReadError(`the ledger ${file} holds an unreadable entry`);
    }
    if (!isObject(e)) throw new LedgerReadError(`the ledger ${file} holds an unreadable entry`);
    if (e.t !== "active") continue;
    if (typeof e.tenant !== "string" || typeof e.key !== "string" || !Number.isSafeInteger(e.epoch))
      throw new LedgerReadError(`the ledger ${file} holds an unreadable entry`);
    const perTenant = out.get(e.tenant) ?? new Map<string, number>();
    perTenant.set(e.key, Math.max(perTenant.get(e.key) ?? -1, e.epoch as number));
    out.set(e.tenant, perTenant);
  }
  return out;
}

/** What a restore needs to know. */
export interface RestoreOptions {
  /**
   * Local ledger files of workers (they survive a broker loss). An epoch any worker saw activated
   * retired every older share of that key, at every party.
   */
  readonly ledgers?: readonly string[];
  /** Skip the retired-backup checks (conflicts are still refused, and workers still refuse a rollback). */
  readonly force?: boolean;
}

type KeysOf = (tenant: string) => Promise<Readonly<Record<string, ApiKeySummary>> | undefined>;

/** Why a party backup may be retired: (a) against the API's key records, (b) against worker ledgers. */
async function partyRetired(
  b: PartyBackup,
  apiKeysOf: KeysOf,
  ledgers: ReadonlyMap<string, Map<string, Map<string, number>>>,
): Promise<string[]> {
  const { party, tenants, keys } = b.manifest;
  const reasons: string[] = [];
  for (const t of tenants) {
    const held = keys[t] ?? {};
    const api = await apiKeysOf(t);
    if (!api) {
      if (Object.keys(held).length > 0)
        reasons.push(
          `tenant ${t}: no API key records to check party ${party}'s backup against (restore the API backup first, or give it too)`,
        );
    } else
      for (const [id, k] of Object.entries(api)) {
        if (k.status !== "active" || !k.parties.includes(party)) continue;
        const h = held[id];
        if (!h?.state || !h.shares.some((s) => s.epoch === k.epoch))
          reasons.push(
            `tenant ${t}: key ${id} is active at epoch ${k.epoch}; party ${party}'s backup holds ${h ? `epochs [${h.shares.map((s) => s.epoch).join(", ")}]${h.state ? "" : " and no state"}` : "nothing of it"}`,
          );
      }
    for (const [file, perTenant] of ledgers)
      for (const [id, epoch] of perTenant.get(t) ?? []) {
        const newest = Math.max(-1, ...(held[id]?.shares ?? []).map((s) => s.epoch));
        if (newest < epoch)
          reasons.push(
            `tenant ${t}: the ledger ${file} saw epoch ${epoch} of key ${id} activated; party ${party}'s backup holds ${newest < 0 ? "no share of it" : `epoch ${newest} at most`}`,
          );
      }
  }
  return reasons;
}

/** Why an API backup may be retired: a key a worker ledger saw at a later epoch. */
function apiRetired(b: ApiBackup, ledgers: ReadonlyMap<string, Map<string, Map<string, number>>>) {
  const reasons: string[] = [];
  for (const t of b.manifest.tenants)
    for (const [file, perTenant] of ledgers)
      for (const [id, epoch] of perTenant.get(t) ?? []) {
        const k = b.manifest.keys[t]?.[id];
        if (!k || k.epoch < epoch)
          reasons.push(
            `tenant ${t}: the ledger ${file} saw epoch ${epoch} of key ${id} activated; the API backup has ${k ? `epoch ${k.epoch}` : "no such key"}`,
          );
      }
  return reasons;
}

async function openBucket(nc: NatsConnection, buckets: Map<string, KV>, tenant: string, bucket: string) {
  const name = `${tenant}/${bucket}`;
  let kv = buckets.get(name);
  if (!kv) {
    kv = await openKv(nc, tenant, bucket);
    buckets.set(name, kv);
  }
  return kv;
}

/** The broker's key records of a tenant, or undefined when it has none. */
async function brokerKeys(nc: NatsConnection, tenant: string) {
  const records = await readBucket(nc, tenant, KEYS_BUCKET);
  return records.length === 0 ? undefined : apiKeys(records)[tenant];
}

/** Appends the backup's audit entries when the broker's chain is empty or a prefix of it. */
async function restoreAudit(nc: NatsConnection, records: readonly BackupRecord[]) {
  const present = await readAudit(nc);
  const prefix =
    present.length <= records.length && present.every((p, i) => equal(p.value, records[i]!.value));
  if (!prefix)
    return {
      appended: 0,
      skipped: 0,
      note: `the broker's audit chain holds ${present.length} other entries; the backup's ${records.length} stay in the backup file`,
    };
  const js = jetstream(nc);
  let last = present.at(-1)?.seq ?? (await (await js.streams.get(AUDIT_STREAM)).info()).state.last_seq;
  let appended = 0;
  for (const r of records.slice(present.length)) {
    try {
      last = (await js.publish(auditSubject, r.value, { expect: { lastSequence: last }, timeout: 5000 })).seq;
    } catch (e) {
      return {
        appended,
        skipped: present.length,
        note: `stopped: the chain moved on (${(e as Error).message})`,
      };
    }
    appended++;
  }
  return { appended, skipped: present.length };
}

/**
 * Loads backups into a broker whose accounts and buckets exist (a started stack provisions them):
 * API backups first, then party backups. Refuses, before writing anything, a tenant the broker
 * lacks, any conflicting record, and (unless `force`) a party backup a later refresh retired.
 * @throws RestoreRefusedError
 */
export async function restoreBackups(
  access: BrokerAccess,
  backups: readonly Backup[],
  o: RestoreOptions = {},
): Promise<RestoreReport> {
  const ordered = [...backups].sort(
    (a, b) => Number(a.manifest.kind === "party") - Number(b.manifest.kind === "party"),
  );
  const tenants = [...new Set(ordered.flatMap((b) => b.manifest.tenants))].sort();
  const missing = tenants.filter((t) => !existsSync(access.tenantCreds(t)));
  if (missing.length > 0)
    throw new RestoreRefusedError(
      missing.map((t) => `tenant ${t} is not enrolled here (custody tenants create ${t} first)`),
      [],
    );
  if (ordered.filter((b) => b.manifest.kind === "api").length > 1)
    throw new RestoreRefusedError(["give at most one API backup per restore"], []);
  const ledgers = new Map((o.ledgers ?? []).map((f) => [f, readLedgerEpochs(f)] as const));
  const conns = tenantConnections(access);
  const buckets = new Map<string, KV>();
  try {
    const reasons: string[] = [];
    if (!o.force) {
      const apiBackups = ordered.filter(isApi);
      const keysOf: KeysOf = async (t) => {
        for (const b of apiBackups) if (b.manifest.tenants.includes(t)) return b.manifest.keys[t] ?? {};
        return brokerKeys(await conns.get(t), t);
      };
      for (const b of ordered)
        reasons.push(
          ...(isApi(b) ? apiRetired(b, ledgers) : await partyRetired(b as PartyBackup, keysOf, ledgers)),
        );
    }
    // Plan: every KV record is new, identical (skipped) or a conflict; the same record twice must agree.
    const planned = new Map<string, BackupRecord & { type: "kv" }>();
    const conflicts: string[] = [];
    let skipped = 0;
    for (const b of ordered)
      for (const r of b.records) {
        if (r.type !== "kv") continue;
        const name = nameOf(r);
        const twin = planned.get(name);
        if (twin) {
          if (!equal(twin.value, r.value)) conflicts.push(`${name} (two backups differ)`);
          continue;
        }
        const kv = await openBucket(await conns.get(r.tenant), buckets, r.tenant, r.bucket);
        const cur = await kv.get(r.key);
        if (cur?.operation !== "PUT") planned.set(name, r);
        else if (equal(cur.value, r.value)) skipped++;
        else conflicts.push(name);
      }
    if (reasons.length > 0 || conflicts.length > 0) throw new RestoreRefusedError(reasons, conflicts);
    let created = 0;
    const raced: string[] = [];
    for (const [name, r] of planned) {
      const kv = await openBucket(await conns.get(r.tenant), buckets, r.tenant, r.bucket);
      try {
        await kv.create(r.key, r.value);
        created++;
      } catch (e) {
        const cur = await kv.get(r.key);
        if (cur?.operation !== "PUT") throw e;
        if (equal(cur.value, r.value)) skipped++;
        else raced.push(name);
      }
    }
    const audit = ordered.flatMap((b) => b.records.filter((r): r is AuditBackupRecord => r.type === "audit"));
    const report: RestoreReport = { created, skipped, conflicts: raced };
    if (!ordered.some((b) => b.manifest.kind === "api")) return report;
    return { ...report, audit: await withControl(access, (nc) => restoreAudit(nc, audit)) };
  } finally {
    await conns.close();
  }
}
