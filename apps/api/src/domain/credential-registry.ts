/**
 * A tenant's registry of client credentials: each credential an admin registered (a delegated one
 * it issued, with the admin's own credential beside it, or one the authority issued), so that the
 * tenant's admins and auditors can list who holds what and revoke it. Entries live in the tenant's
 * credential bucket (the revocation bucket, under `registered.<credential id>`, beside the
 * revocations named by bare ids), are create-only and hold the credential itself: nothing in a
 * credential is secret, and everything shown is derived from it when it is read.
 * @module
 */

import { REVOCATIONS_BUCKET } from "@custody/proto";
import type { Revocation } from "@custody/runtime";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** One registered credential, as stored. */
export interface Registration {
  /** The credential, exactly as issued. */
  readonly credential: string;
  /** ISO 8601 time of the first registration. */
  readonly registeredAt: string;
}

/** The credential registries and revocation state of the tenants this API serves. */
export interface TenantCredentials {
  /** Records `credential` (named by its id) in the tenant's registry; `created` is false when it was there. */
  register(tenant: string, id: string, credential: string): Promise<{ created: boolean }>;
  /** Every credential in the tenant's registry. */
  registered(tenant: string): Promise<Registration[]>;
  /** The revocation that applies to `credential` (its own or its issuer's), if any. */
  revocationOf(tenant: string, credential: string): Promise<Revocation | undefined>;
}

const PREFIX = "registered.";
/** Most entries one listing returns. */
const MAX_LISTED = 10_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The registry of the tenant whose account `nc` is connected to. */
export class CredentialRegistry {
  private constructor(private readonly kv: KV) {}

  /** Opens the tenant's (provisioned) credential bucket. */
  static async open(nc: NatsConnection): Promise<CredentialRegistry> {
    return new CredentialRegistry(await new Kvm(nc).open(REVOCATIONS_BUCKET));
  }

  /**
   * Records `credential` under its id, create-only: a second registration keeps the first.
   * @throws RangeError for an id that is not 64 lower-case hex digits
   */
  async register(id: string, credential: string, now = new Date()): Promise<{ created: boolean }> {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new RangeError("not a credential id");
    const entry: Registration = { credential, registeredAt: now.toISOString() };
    try {
      await this.kv.create(`${PREFIX}${id}`, enc.encode(JSON.stringify(entry)));
      return { created: true };
    } catch (e) {
      if (String(e).includes("wrong last sequence")) return { created: false };
      throw e;
    }
  }

  /** Every registered credential (entries that do not parse are skipped). */
  async list(): Promise<Registration[]> {
    const names: string[] = [];
    for await (const k of await this.kv.keys(`${PREFIX}>`)) {
      if (names.length >= MAX_LISTED) break;
      names.push(k);
    }
    const entries = await Promise.all(names.map((k) => this.kv.get(k)));
    return entries.flatMap((e) => {
      if (e?.operation !== "PUT") return [];
      try {
        const r = JSON.parse(dec.decode(e.value)) as Partial<Registration>;
        return typeof r.credential === "string" && typeof r.registeredAt === "string"
          ? [{ credential: r.credential, registeredAt: r.registeredAt }]
          : [];
      } catch {
        return [];
      }
    });
  }
}
