import { credentialId } from "@custody/credentials";
import { REVOCATIONS_BUCKET } from "@custody/proto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** A credential id: 64 lower-case hex digits. */
export const CREDENTIAL_ID = /^[0-9a-f]{64}$/;

/** The id of a credential (hex of SHA-256 over the framed domain and the exact string); see @custody/credentials. */
export { credentialId };

/**
 * The ids of every credential in a chain, the issuer's first: the id of each prefix of the string
 * that ends before a `~` (the chain separator), then of the whole string. One id for a root credential.
 */
export function chainIds(credential: string): string[] {
  const parts = credential.split("~");
  return parts.map((_, i) => credentialId(parts.slice(0, i + 1).join("~")));
}

/** One revocation as stored (the value of the bucket entry named by the credential id). */
export interface Revocation {
  readonly id: string;
  /** ISO 8601 time of the revocation. */
  readonly revokedAt: string;
  /** Why, in the revoker's words (at most 200 characters). */
  readonly reason: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Most revocations one list remembers (ids of credentials actually presented and found revoked). */
const MAX_REMEMBERED = 100_000;

/** The revocation list of the tenant whose account `nc` is connected to. */
export class RevocationList {
  /** Revocations read or written by this process, by id: never forgotten, whatever the bucket says later. */
  private readonly seen = new Map<string, Revocation>();

  private constructor(private readonly kv: KV) {}

  /** Opens the (provisioned) revocation bucket of the connection's account. */
  static async open(nc: NatsConnection): Promise<RevocationList> {
    return new RevocationList(await new Kvm(nc).open(REVOCATIONS_BUCKET));
  }

  /**
   * Records that the credential with `id` is revoked. Create-only: revoking it again keeps (and
   * returns) the first record.
   * @throws RangeError for an id that is not a credential id
   */
  async revoke(id: string, reason: string, now = new Date()): Promise<Revocation> {
    if (!CREDENTIAL_ID.test(id)) throw new RangeError("not a credential id");
    const record: Revocation = { id, revokedAt: now.toISOString(), reason: reason.slice(0, 200) };
    try {
      await this.kv.create(id, enc.encode(JSON.stringify(record)));
      return this.remember(record);
    } catch (e) {
      if (!String(e).includes("wrong last sequence")) throw e;
      return (await this.get(id)) ?? this.remember(record);
    }
  }

  /** Keeps `r` for the life of this list (up to MAX_REMEMBERED revocations), and returns it. */
  private remember(r: Revocation): Revocation {
    if (this.seen.size < MAX_REMEMBERED) this.seen.set(r.id, r);
    return r;
  }

  /**
   * The revocation of the credential with `id`, if any: the one this list saw before, else the
   * bucket's. Throws when the list cannot be read.
   */
  async get(id: string): Promise<Revocation | undefined> {
    if (!CREDENTIAL_ID.test(id)) throw new RangeError("not a credential id");
    const known = this.seen.get(id);
    if (known !== undefined) return known;
    const e = await this.kv.get(id);
    if (e?.operation !== "PUT") return undefined;
    let r: Partial<Revocation> | null = null;
    try {
      r = JSON.parse(dec.decode(e.value)) as Partial<Revocation> | null;
    } catch {
      // An entry is a revocation whatever its value says.
    }
    return this.remember({
      id,
      revokedAt: typeof r?.revokedAt === "string" ? r.revokedAt : "",
      reason: typeof r?.reason === "string" ? r.reason : "",
    });
  }

  /**
   * The revocation that applies to `credential` (the exact string a request carries): its own, or
   * that of a credential of its chain, the issuer's first. Throws when the list cannot be read.
   */
  async revocationOf(credential: string): Promise<Revocation | undefined> {
    const found = await Promise.all(chainIds(credential).map((id) => this.get(id)));
    return found.find((r) => r !== undefined);
  }

  /** True when `credential` or a credential of its chain is revoked. Throws when unreadable. */
  async isRevoked(credential: string): Promise<boolean> {
    return (await this.revocationOf(credential)) !== undefined;
  }
}
