/**
 * The tenant registry: a bucket in the control account with one entry per tenant, naming the
 * tenant's NATS account and holding a user JWT for every service identity (API, each worker) that
 * serves the tenant. Processes watch it and open a connection into each tenant's account as that
 * tenant appears; the JWTs are useless without the identities' seeds, which never leave their owners.
 * @module
 */
import { TENANTS_BUCKET } from "@custody/proto";
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

/** Reads (and, for the operator, writes) the tenant registry. */
export class TenantRegistry {
  private constructor(private readonly kv: KV) {}

  /** Opens the registry bucket (provisioned with the control account). */
  static async open(nc: NatsConnection): Promise<TenantRegistry> {
    return new TenantRegistry(await new Kvm(nc).open(TENANTS_BUCKET));
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
    const out: TenantEntry[] = [];
    for await (const name of await this.kv.keys()) {
      const e = await this.get(name);
      if (e) out.push(e);
    }
    return out;
  }

  /**
   * Calls `onEntry` with every current entry and then with every entry written later; returns a
   * function that stops watching. An entry may be seen more than once: handle it idempotently.
   */
  async watch(onEntry: (entry: TenantEntry) => void): Promise<() => void> {
    const iter = await this.kv.watch();
    (async () => {
      for await (const e of iter) {
        if (e.operation !== "PUT") continue;
        const entry = parse(e.value);
        if (entry) onEntry(entry);
      }
    })().catch(() => {});
    return () => iter.stop();
  }
}

/** Something a process runs for one tenant (a work loop, an API plane...). */
export interface TenantService {
  stop(): Promise<void>;
}

/**
 * Runs one service per tenant whose registry entry carries a JWT for `identity`: every current
 * tenant before {@link TenantServices.start} resolves, later ones as they are enrolled. Each tenant
 * is opened once; a failed open is retried after `retryMs`.
 */
export class TenantServices<S extends TenantService> {
  private readonly starting = new Map<string, Promise<void>>();
  private readonly live = new Map<string, S>();
  private stopWatching: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly identity: string,
    private readonly open: (tenant: string, jwt: string) => Promise<S>,
    private readonly onError: (tenant: string, err: unknown) => void,
    private readonly retryMs = 5000,
  ) {}

  /** Opens every tenant in the registry, then keeps watching it. */
  async start(registry: TenantRegistry): Promise<void> {
    this.stopWatching = await registry.watch((e) => void this.attach(e));
    await Promise.all((await registry.list()).map((e) => this.attach(e)));
  }

  /** The service of a tenant, if it runs. */
  get(tenant: string): S | undefined {
    return this.live.get(tenant);
  }

  /** Every running service, by tenant. */
  entries(): [string, S][] {
    return [...this.live];
  }

  private attach(entry: TenantEntry): Promise<void> {
    const pending = this.starting.get(entry.tenant);
    if (pending) return pending;
    const jwt = entry.users[this.identity];
    if (this.stopped || !jwt) return Promise.resolve();
    const started = this.open(entry.tenant, jwt).then(
      (service) => {
        if (this.stopped) return void service.stop();
        this.live.set(entry.tenant, service);
      },
      (err) => {
        this.onError(entry.tenant, err);
        this.starting.delete(entry.tenant);
        setTimeout(() => void this.attach(entry), this.retryMs).unref();
      },
    );
    this.starting.set(entry.tenant, started);
    return started;
  }

  /** Stops watching and stops every service. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatching?.();
    await Promise.all(this.starting.values());
    for (const s of this.live.values()) await s.stop();
    this.live.clear();
  }
}
