/**
 * A party-side test bench on a real nats-server: a provisioned tenant account, party identities,
 * each party's store, served-request ledger, local ledger and pair guard, a client credential, and
 * work items built exactly as the API builds them (ids derived from the signed request). Attacks
 * are run as the attacker would: a co-signer with its own identity and share speaking the real
 * session protocol, and a broker that rewrites what it stores.
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyIdOf, operationIdOf, type ProtocolMessage } from "@custody/core";
import {
  createAuthority,
  createClientKey,
  issueCredential,
  type Role,
  requestFromHeaders,
  type SignedRequest,
  signRequest,
} from "@custody/credentials";
import { NatsServer } from "@custody/natsd";
import {
  ClientRequestSchema,
  create,
  DkgWorkSchema,
  RefreshWorkSchema,
  SignItemSchema,
  type SignWork,
  SignWorkSchema,
  type WorkItem,
  WorkItemSchema,
} from "@custody/proto";
import {
  createPartyIdentity,
  type PartyDirectory,
  type PartyIdentity,
  provisionTenant,
  type SessionHost,
  type WorkContext,
} from "@custody/runtime";
import { PartyLedger, ServedLedger, ShareStore, type Slot } from "@custody/store";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { JobEnv } from "../src/jobs.js";
import { PairGuard } from "../src/pair-guard.js";
import { SCHEMES } from "../src/schemes.js";

export const TENANT = "acme";

/** Log lines a test can inspect. */
export class MemoryLog {
  readonly lines: { level: string; obj: object; msg?: string }[] = [];
  info = (obj: object, msg?: string) => this.lines.push({ level: "info", obj, msg });
  warn = (obj: object, msg?: string) => this.lines.push({ level: "warn", obj, msg });
  error = (obj: object, msg?: string) => this.lines.push({ level: "error", obj, msg });
}

/** The bench. */
export class Bench {
  private constructor(
    readonly dir: string,
    readonly server: NatsServer,
    /** The broker's own view (no permissions): what a hostile broker can rewrite. */
    readonly broker: NatsConnection,
    readonly identities: Map<number, PartyIdentity>,
    readonly directory: PartyDirectory,
    readonly authority: { seed: string; publicKey: string },
  ) {}

  /** Starts nats-server, provisions the tenant for `parties`, creates their identities. */
  static async start(parties: readonly number[]): Promise<Bench> {
    const dir = mkdtempSync(join(tmpdir(), "custody-worker-"));
    const server = await NatsServer.start({ dir: join(dir, "nats") });
    const broker = await connect({ servers: server.url });
    await provisionTenant(broker, { parties });
    const identities = new Map(parties.map((p) => [p, createPartyIdentity(p, join(dir, `p${p}.identity`))]));
    const directory = new Map([...identities].map(([p, id]) => [p, id.publicKey]));
    return new Bench(dir, server, broker, identities, directory, createAuthority());
  }

  /** Stops everything and removes the directory. */
  async stop(): Promise<void> {
    await this.broker.close().catch(() => {});
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A worker of `party`: own connection, store, served ledger, and local ledger at `ledgerFile`. */
  async worker(
    party: number,
    kek: Uint8Array,
    ledgerFile = join(this.dir, `p${party}-${randomBytes(6).toString("hex")}.ledger`),
    log = new MemoryLog(),
  ): Promise<JobEnv & { log: MemoryLog; ledgerFile: string }> {
    const nc = await connect({ servers: this.server.url });
    const ledger = PartyLedger.open(ledgerFile);
    return {
      nc,
      tenant: TENANT,
      party,
      workerId: `w${randomBytes(3).toString("hex")}`,
      store: await ShareStore.open(nc, party, kek),
      served: await ServedLedger.open(nc, party),
      isRevoked: async () => false,
      ledger,
      guard: new PairGuard(ledger, log),
      identity: this.identities.get(party)!,
      directory: this.directory,
      authorities: [this.authority.publicKey],
      schemes: SCHEMES,
      roundTimeoutMs: 60_000,
      joinTimeoutMs: 20_000,
      inThread: () => false,
      log,
      ledgerFile,
    };
  }

  /** A client of the tenant with `role` (and key grants). */
  client(role: Role = "admin", keys: string[] = ["*"], tenant = TENANT): Client {
    const key = createClientKey();
    const now = Date.now();
    const credential = issueCredential(this.authority.seed, {
      sub: key.publicKey,
      role,
      tenant,
      name: "test",
      keys,
      iat: Math.floor(now / 1000) - 10,
      exp: Math.floor(now / 1000) + 3600,
    });
    return new Client(key.seed, credential, tenant);
  }
}

/** A client that signs requests and builds the work items an honest API would publish for them. */
export class Client {
  constructor(
    readonly seed: string,
    readonly credential: string,
    readonly tenant: string,
  ) {}

  /** A signed request. */
  request(method: string, path: string, body: object | undefined, nowMs = Date.now()): SignedRequest {
    const bytes = body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body));
    const headers = signRequest(this.seed, this.credential, method, path, bytes, nowMs);
    return requestFromHeaders(headers, method, path, bytes);
  }

  /** The work item of a key creation. */
  dkg(scheme: string, threshold: number, parties: number[]): WorkItem {
    const req = this.request("POST", "/v1/keys", { scheme, threshold, parties: parties.length });
    const ids = { tenant: this.tenant, credential: req.credential, nonce: req.nonce };
    return item(req, this.tenant, keyIdOf(ids), scheme, {
      case: "dkg",
      value: create(DkgWorkSchema, { threshold, parties }),
    });
  }

  /** The work item of a signature. */
  sign(
    keyId: string,
    scheme: string,
    epoch: number,
    signers: number[],
    message: Uint8Array,
    path?: string,
  ): WorkItem {
    const body: Record<string, string> = { message: Buffer.from(message).toString("hex") };
    if (path) body.path = path;
    const req = this.request("POST", `/v1/keys/${keyId}/sign`, body);
    const indices = path ? path.slice(2).split("/").map(Number) : [];
    return item(req, this.tenant, keyId, scheme, {
      case: "sign",
      value: create(SignWorkSchema, { epoch, signers, message, path: indices }),
    });
  }

  /**
   * The work item of a signing batch; `edit` may alter the work after the client signed its
   * request (what a compromised API or broker would do).
   */
  signBatch(
    keyId: string,
    scheme: string,
    epoch: number,
    signers: number[],
    items: readonly { message: Uint8Array; path?: readonly number[] }[],
    edit: (work: SignWork) => void = () => {},
  ): WorkItem {
    const messages = items.map((i) => ({
      message: Buffer.from(i.message).toString("hex"),
      ...(i.path ? { path: `m/${i.path.join("/")}` } : {}),
    }));
    const req = this.request("POST", `/v1/keys/${keyId}/sign`, { messages });
    const work = create(SignWorkSchema, {
      epoch,
      signers,
      batch: items.map((i) => create(SignItemSchema, { message: i.message, path: [...(i.path ?? [])] })),
    });
    edit(work);
    return item(req, this.tenant, keyId, scheme, { case: "sign", value: work });
  }

  /** The work item of a refresh (into `toEpoch`, default the next one). */
  refresh(
    keyId: string,
    scheme: string,
    fromEpoch: number,
    parties: number[],
    toEpoch = fromEpoch + 1,
  ): WorkItem {
    const req = this.request("POST", `/v1/keys/${keyId}/refresh`, undefined);
    return item(req, this.tenant, keyId, scheme, {
      case: "refresh",
      value: create(RefreshWorkSchema, { fromEpoch, parties, toEpoch }),
    });
  }
}

function item(
  req: SignedRequest,
  tenant: string,
  keyId: string,
  scheme: string,
  op: WorkItem["op"],
): WorkItem {
  return create(WorkItemSchema, {
    operationId: operationIdOf({ tenant, credential: req.credential, nonce: req.nonce }),
    keyId,
    scheme,
    tenant,
    createdAtMs: BigInt(Date.now()),
    client: create(ClientRequestSchema, {
      credential: req.credential,
      method: req.method,
      path: req.path,
      body: req.body,
      timestampMs: BigInt(req.timestampMs),
      nonce: req.nonce,
      signature: req.signature,
    }),
    op,
  });
}

/** A work context for one delivery. */
export function ctxOf(item: WorkItem, signal: AbortSignal = new AbortController().signal): WorkContext {
  return { item, deliveryCount: 1, signal };
}

/** Installs an already generated share as a party's active share (what a completed DKG leaves). */
export async function installShare(
  env: JobEnv,
  keyId: string,
  scheme: string,
  share: Uint8Array,
  parties: number[],
  slot: Slot = { epoch: 0, session: "11".repeat(32) },
): Promise<void> {
  const ref = { tenant: env.tenant, keyId, scheme };
  await env.store.claimKey(ref, `op_install_${keyId}`);
  await env.store.putShare(ref, slot, share, parties, `op_install_${keyId}`);
  await env.store.activate(ref, slot);
  env.ledger.recordActive(env.tenant, keyId, slot.epoch);
}

/** Wraps a host so that `edit` may rewrite (or, returning null, withhold) every outgoing message. */
export function hostileHost<T>(
  inner: SessionHost<T>,
  edit: (m: ProtocolMessage) => ProtocolMessage | null,
): SessionHost<T> {
  const out = (ms: readonly ProtocolMessage[]) =>
    ms.map(edit).filter((m): m is ProtocolMessage => m !== null);
  return {
    start: async () => out(await inner.start()),
    deliver: async (m) => out(await inner.deliver(m)),
    missing: () => inner.missing(),
    settle: () => inner.settle(),
    result: () => inner.result(),
    close: () => inner.close(),
  };
}
