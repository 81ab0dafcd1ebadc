/**
 * The tenant registry: a bucket in the control account with one entry per tenant, naming the
 * tenant's NATS account and holding a user JWT for every service identity (API, each worker) that
 * serves the tenant. Processes watch it and open a connection into each tenant's account as that
 * tenant appears; the JWTs are useless without the identities' seeds, which never leave their owners.
 * @module
 */
import { TENANTS_BUCKET } from "@custody/proto";
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** What the registry holds about one tenant. */
export interface TenantEntry {
  /** Tenant name (letters, digits, `-` and `_`). */
  readonly tenant: string;
  /** Public key (`A...`) of the tenant's account. */
  readonly account: string;
  /** User JWT per identity public key (`U...`). */
  readonly users: Readonly<Record<string, string>>;
}

/** Tenant names: 1-64 letters, digits, `-` and `_`. */
export const TENANT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const enc = new TextEncoder();
const dec = new TextDecoder();

function parse(bytes: Uint8Array): TenantEntry | undefined {
  try {
    const e = JSON.parse(dec.decode(bytes)) as TenantEntry;
    if (typeof e.tenant !== "string" || !TENANT_NAME.test(e.tenant)) return undefined;
    if (typeof e.account !== "string" || typeof e.users !== "object" || e.users === null) return undefined;
    return e;
  } catch {
    return undefined;
  }
}

/** Subject prefix of the registry's entries (its KV stream subjects). */
const ENTRY_PREFIX = `$KV.${TENANTS_BUCKET}.`;
/** How often a watcher re-reads the whole registry, to catch updates missed while disconnected. */
const RELIST_MS = 30_000;

/**
 * Reads (and, for the operator, writes) the tenant registry. Readers need no consumer: they list
 * keys from the stream's subject counts, get entries directly and hear updates on a plain
 * subscription, so a service identity never gets the right to create consumers in the control
 * account (a push consumer could be pointed at any subject, e.g. the audit stream).
 */
export class TenantRegistry {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
  ) {}

  /** Opens the registry bucket (provisioned with the control account). */
  static async open(nc: NatsConnection): Promise<TenantRegistry> {
    return new TenantRegistry(nc, await new Kvm(nc).open(TENANTS_BUCKET));
  }

  /** Adds or replaces a tenant's entry. */
  async put(entry: TenantEntry): Promise<void> {
    if (!TENANT_NAME.test(entry.tenant)) throw new RangeError(`invalid tenant name ${entry.tenant}`);
    await this.kv.put(entry.tenant, enc.encode(JSON.stringify(entry)));
  }

  /** One tenant's entry. */
  async get(tenant: string): Promise<TenantEntry | undefined> {
    if (!TENANT_NAME.test(tenant)) return undefined;
    const e = await this.kv.get(tenant);
    return e && e.operation === "PUT" ? parse(e.value) : undefined;
  }

  /** Every tenant's entry. */
  async list(): Promise<TenantEntry[]> {
    const jsm = await jetstreamManager(this.nc, { checkAPI: false });
    const info = await jsm.streams.info(`KV_${TENANTS_BUCKET}`, { subjects_filter: `${ENTRY_PREFIX}>` });
    const out: TenantEntry[] = [];
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const e = await this.get(subject.slice(ENTRY_PREFIX.length));
      if (e) out.push(e);
    }
    return out;
  }

  /**
   * Calls `onEntry` with every current entry, then with every entry written later (and, every
   * 30 s, with all of them again, so nothing missed during a disconnection stays missed). Returns
   * a function that stops watching. An entry may be seen more than once: handle it idempotently.
   */
  async watch(onEntry: (entry: TenantEntry) => void, onError: (err: unknown) => void): Promise<() => void> {
    const sub = this.nc.subscribe(`${ENTRY_PREFIX}>`, {
      callback: (err, m) => {
        if (err) return onError(err);
        const entry = m.data.length > 0 ? parse(m.data) : undefined;
        if (entry) onEntry(entry);
      },
    });
    const relist = () =>
      this.list().then(
        (entries) => entries.forEach(onEntry),
        (err) => onError(err),
      );
    await this.nc.flush();
    await relist();
    const timer = setInterval(relist, RELIST_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      sub.unsubscribe();
    };
  }
}
/** The account a user JWT binds its user to (its issuer, or the issuer's account for a signing key). */
function accountOfUserJwt(jwt: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      iss?: string;
      nats?: { issuer_account?: string };
    };
    return claims.nats?.issuer_account || claims.iss;
  } catch {
    return undefined;
  }
}

/** Something a process runs for one tenant (a work loop, an API plane...). */
export interface TenantService {
  stop(): Promise<void>;
}

/**
 * Runs one service per tenant whose registry entry carries a JWT for `identity`: every current
 * tenant before {@link TenantServices.start} resolves, later ones as they are enrolled. Each tenant
 * is opened once; a failed open is retried after `retryMs`. The service gets the JWT as a getter
 * that always returns the newest one the registry holds, so a re-issued JWT is used from the next
 * reconnection on, without reopening anything.
 */
export class TenantServices<S extends TenantService> {
  private readonly starting = new Map<string, Promise<void>>();
  private readonly live = new Map<string, S>();
  private readonly jwts = new Map<string, string>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopWatching: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly identity: string,
    private readonly open: (tenant: string, jwt: () => string) => Promise<S>,
    private readonly onError: (tenant: string | undefined, err: unknown) => void,
    private readonly retryMs = 5000,
  ) {}

  /** Opens every tenant in the registry, then keeps watching it. */
  async start(registry: TenantRegistry): Promise<void> {
    const stop = await registry.watch(
      (e) => void this.attach(e),
      (err) => this.onError(undefined, err),
    );
    if (this.stopped) return stop();
    this.stopWatching = stop;
    await Promise.all(this.starting.values());
  }

  /** The service of a tenant, if it runs. */
  get(tenant: string): S | undefined {
    return this.live.get(tenant);
  }

  /** True while a tenant listed for this identity is being opened (or retried). */
  opening(tenant: string): boolean {
    return this.jwts.has(tenant) && !this.live.has(tenant);
  }

  /** Every running service, by tenant. */
  entries(): [string, S][] {
    return [...this.live];
  }

  private attach(entry: TenantEntry): Promise<void> {
    const jwt = entry.users[this.identity];
    if (this.stopped || !jwt) return Promise.resolve();
    // An entry whose JWT belongs to another account than it names would put this tenant's
    // traffic into that account: refuse it.
    if (accountOfUserJwt(jwt) !== entry.account) {
      this.onError(entry.tenant, new Error(`the registry's JWT for ${entry.tenant} is not of its account`));
      return Promise.resolve();
    }
    this.jwts.set(entry.tenant, jwt);
    const pending = this.starting.get(entry.tenant);
    if (pending) return pending;
    const started = this.open(entry.tenant, () => this.jwts.get(entry.tenant) ?? jwt).then(
      async (service) => {
        if (this.stopped) return service.stop().catch((err) => this.onError(entry.tenant, err));
        this.live.set(entry.tenant, service);
      },
      (err) => {
        this.starting.delete(entry.tenant);
        if (this.stopped) return;
        this.onError(entry.tenant, err);
        const t = setTimeout(() => {
          this.retries.delete(t);
          void this.attach(entry);
        }, this.retryMs);
        t.unref();
        this.retries.add(t);
      },
    );
    this.starting.set(entry.tenant, started);
    return started;
  }

  /** Stops watching and stops every service (waiting for those still opening). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatching?.();
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    await Promise.all(this.starting.values());
    for (const s of this.live.values()) await s.stop();
    this.live.clear();
  }
}
