/**
 * The API's use cases. Each request becomes an operation record plus one durable work item on the
 * request stream; workers do the rest. The service never talks to a party directly.
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { frame, keyIdOf, operationIdOf } from "@custody/core";
import { type Action, allows, type CredentialClaims, type SignedRequest } from "@custody/credentials";
import {
  ClientRequestSchema,
  create,
  DkgWorkSchema,
  MAX_PATH_COMPONENTS_PER_REQUEST,
  operationEventSubject,
  RefreshWorkSchema,
  requestSubject,
  SignItemSchema,
  type SignWork,
  SignWorkSchema,
  TaprootTweakSchema,
  toBinary,
  type WorkItem,
  WorkItemSchema,
  type WorkOp,
} from "@custody/proto";
import { type LivenessTracker, publishDurably } from "@custody/runtime";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Problem } from "../problems.js";
import { parsePath } from "./paths.js";
import { RateLimiter } from "./rate-limiter.js";
import type { KeyRecord, OperationRecord, OperationType, SignItemRecord, TaprootView } from "./records.js";
import type { Repository } from "./repository.js";
import { type SigningKeys, signingKeysOf } from "./result-check.js";
import { taprootView } from "./taproot.js";

/** Schemes the service accepts, with their message rules. */
export const SCHEME_NAMES = ["ed25519", "bip340", "ecdsa-secp256k1"] as const;
/** A scheme name. */
export type SchemeName = (typeof SCHEME_NAMES)[number];

/** Largest message accepted for Schnorr schemes (bytes). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** What the ids of an actor's operation (and new key) derive from: parties recompute them. */
const identityOf = (a: Actor) => ({
  tenant: a.claims.tenant,
  credential: a.request.credential,
  nonce: a.request.nonce,
});
/** What makes two requests the same request for an Idempotency-Key: method, target and body. */
const fingerprintOf = (a: Actor) =>
  createHash("sha256")
    .update(
      frame("custody/idempotency/v1", [
        a.request.method,
        a.request.path,
        createHash("sha256").update(a.request.body).digest(),
      ]),
    )
    .digest("hex");
const now = () => new Date().toISOString();

/** Dependencies of the service. */
export interface ServiceDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly repo: Repository;
  readonly liveness: LivenessTracker;
  /** The tenant this service serves: only parties with a live worker serving it count. */
  readonly tenant: string;
  /** Parties the deployment has (for DKG); default: whatever is live. */
  readonly parties?: readonly number[];
  /** Signing rate per credential, in messages (a batch of n costs n). Default 50/s, bursts of 100. */
  readonly signRate?: { readonly perSecond: number; readonly burst: number };
}

/** Who is asking: verified claims and the signed request (forwarded to every party). */
export interface Actor {
  readonly claims: CredentialClaims;
  readonly request: SignedRequest;
}

/** Create / sign / refresh / wait, on behalf of an authenticated actor and within its tenant. */
export class CustodyService {
  private readonly signLimiter: RateLimiter;

  constructor(private readonly d: ServiceDeps) {
    this.signLimiter = new RateLimiter(d.signRate ?? { perSecond: 50, burst: 100 });
  }

  /** Starts DKG for a new key. */
  async createKey(
    actor: Actor,
    input: { scheme: string; threshold: number; parties: number; label?: string },
    idempotencyKey?: string,
  ): Promise<OperationRecord> {
    this.authorize(actor, { kind: "create-key" });
    if (!(SCHEME_NAMES as readonly string[]).includes(input.scheme))
      throw new Problem("invalid-request", `unknown scheme ${input.scheme}`, { supported: SCHEME_NAMES });
    if (input.threshold < 2 || input.threshold > input.parties)
      throw new Problem("invalid-request", "threshold must be between 2 and the number of parties");
    const live = this.d.liveness.liveParties(this.d.tenant);
    if (live.length < input.parties)
      throw new Problem(
        "no-quorum",
        `DKG needs ${input.parties} live parties, ${live.length} are live`,
        { liveParties: live },
        2,
      );
    const parties = live.slice(0, input.parties);
    const id = operationIdOf(identityOf(actor));
    const owner = await this.claim(actor, idempotencyKey, "dkg", id);
    if (owner) return owner;
    const keyId = keyIdOf(identityOf(actor));
    const t = now();
    const key: KeyRecord = {
      id: keyId,
      tenant: actor.claims.tenant,
      scheme: input.scheme,
      threshold: input.threshold,
      parties,
      label: input.label,
      status: "creating",
      epoch: 0,
      operationId: id,
      createdAt: t,
      updatedAt: t,
    };
    await this.d.repo.createKey(key);
    const op = this.newOperation(actor, id, "dkg", keyId, parties);
    await this.d.repo.createOperation(op);
    await this.enqueue(
      op,
      "dkg",
      this.item(actor, op, input.scheme, {
        case: "dkg",
        value: create(DkgWorkSchema, { threshold: input.threshold, parties }),
      }),
    );
    return op;
  }

  /**
   * Starts a signing operation with `threshold` live parties of the key: of `message` (with
   * `path`), or of every item of `messages` (each with its own path) as one batch, one work item
   * and one protocol session (up to {@link MAX_BATCH_BY_SCHEME} items). Every message costs one
   * token of the credential's signing rate; a batch larger than the burst is admitted from a full
   * bucket and leaves the credential in debt (see {@link RateLimiter}).
   * @throws Problem `rate-limited`; `invalid-request`, among others for paths beyond
   *   {@link MAX_PATH_COMPONENTS_PER_REQUEST} components in all
   */
  async sign(
    actor: Actor,
    keyId: string,
    input: SignInput,
    idempotencyKey?: string,
  ): Promise<OperationRecord> {
    const key = await this.activeKey(actor, keyId);
    this.authorize(actor, { kind: "sign", keyId });
    const wait = this.signLimiter.take(actor.claims.sub, input.messages?.length ?? 1);
    if (wait > 0)
      throw new Problem(
        "rate-limited",
        "too many signing requests for this credential",
        {},
        Math.ceil(wait / 1000),
      );
    const items = signItems(key, input);
    const live = new Set(this.d.liveness.liveParties(this.d.tenant));
    const available = key.parties.filter((p) => live.has(p));
    if (available.length < key.threshold)
      throw new Problem(
        "no-quorum",
        `signing needs ${key.threshold} live parties of this key, ${available.length} are live`,
        { liveParties: available },
        2,
      );
    const signers = shuffle(available)
      .slice(0, key.threshold)
      .sort((a, b) => a - b);
    const id = operationIdOf(identityOf(actor));
    const owner = await this.claim(actor, idempotencyKey, `sign:${keyId}`, id);
    if (owner) return owner;
    const op = this.newOperation(actor, id, "sign", keyId, signers);
    const taproot =
      input.taproot === undefined
        ? undefined
        : create(TaprootTweakSchema, { merkleRoot: Buffer.from(input.taproot.merkleRoot ?? "", "hex") });
    let work: SignWork;
    if (input.messages === undefined) {
      const [one] = items;
      op.request = { ...one!.record, epoch: key.epoch };
      work = create(SignWorkSchema, {
        epoch: key.epoch,
        signers,
        message: one!.message,
        path: one!.path,
        taproot,
      });
    } else {
      op.request = { message: "", epoch: key.epoch, items: items.map((i) => i.record) };
      work = create(SignWorkSchema, {
        epoch: key.epoch,
        signers,
        taproot,
        batch: items.map((i) => create(SignItemSchema, { message: i.message, path: i.path })),
      });
    }
    await this.d.repo.createOperation(op);
    await this.enqueue(op, "sign", this.item(actor, op, key.scheme, { case: "sign", value: work }));
    return op;
  }

  /** Starts a refresh of the key's shares into the next epoch. */
  async refresh(actor: Actor, keyId: string, idempotencyKey?: string): Promise<OperationRecord> {
    const key = await this.activeKey(actor, keyId);
    this.authorize(actor, { kind: "refresh", keyId });
    if (key.refreshing) {
      const running = await this.d.repo.getOperation(key.refreshing);
      if (running?.status === "pending")
        throw new Problem("conflict", "a refresh of this key is already running", {
          operationId: running.id,
        });
    }
    const live = new Set(this.d.liveness.liveParties(this.d.tenant));
    const down = key.parties.filter((p) => !live.has(p));
    if (down.length > 0)
      throw new Problem(
        "no-quorum",
        "refresh needs every party of the key to be live",
        { downParties: down },
        2,
      );
    const id = operationIdOf(identityOf(actor));
    const owner = await this.claim(actor, idempotencyKey, `refresh:${keyId}`, id);
    if (owner) return owner;
    const op = this.newOperation(actor, id, "refresh", keyId, key.parties);
    // A fresh epoch number per refresh: a failed one may have left its epoch confirmed at some
    // parties, and a party confirms one operation's shares per epoch.
    const target = Math.max(key.epoch, key.lastTargetEpoch ?? key.epoch) + 1;
    op.targetEpoch = target;
    await this.d.repo.createOperation(op);
    // Take the key's refresh slot atomically (compare-and-set): two refreshes from one epoch would
    // both write epoch e+1, and a partial second one would overwrite an activated share.
    const slot = await this.d.repo.updateKey(keyId, (k) =>
      k.epoch === key.epoch && k.refreshing === key.refreshing && k.lastTargetEpoch === key.lastTargetEpoch
        ? { ...k, refreshing: id, lastTargetEpoch: target, updatedAt: now() }
        : undefined,
    );
    if (slot?.refreshing !== id) {
      const error = { code: "conflict", message: "another refresh of this key started first", culprits: [] };
      await this.d.repo.updateOperation(id, (o) =>
        o.status === "pending" ? { ...o, status: "failed", error, updatedAt: now() } : undefined,
      );
      throw new Problem("conflict", error.message);
    }
    await this.enqueue(
      op,
      "refresh",
      this.item(actor, op, key.scheme, {
        case: "refresh",
        value: create(RefreshWorkSchema, { fromEpoch: key.epoch, toEpoch: target, parties: key.parties }),
      }),
    );
    return op;
  }

  /** An operation, waiting up to `waitMs` for it to leave `pending`. */
  async operation(actor: Actor, id: string, waitMs = 0): Promise<OperationRecord> {
    this.authorize(actor, { kind: "read" });
    const deadline = Date.now() + Math.min(waitMs, 60_000);
    const sub = waitMs > 0 ? this.d.nc.subscribe(operationEventSubject(id), { max: 1 }) : undefined;
    const event = sub
      ? (async () => {
          for await (const _ of sub) return;
        })()
      : undefined;
    try {
      for (;;) {
        const op = await this.d.repo.getOperation(id);
        if (!op || op.tenant !== actor.claims.tenant) throw new Problem("not-found", `no operation ${id}`);
        if (op.status !== "pending" || Date.now() >= deadline) return op;
        // The completion notice ends the wait at once; the poll only covers a lost notice.
        const wait = Math.min(1000, deadline - Date.now());
        await Promise.race([new Promise((r) => setTimeout(r, wait)), event]);
      }
    } finally {
      sub?.unsubscribe();
    }
  }

  /** A key of the actor's tenant, 404 when unknown (or another tenant's). */
  async key(actor: Actor, id: string): Promise<KeyRecord> {
    this.authorize(actor, { kind: "read" });
    const k = await this.d.repo.getKey(id);
    if (!k || k.tenant !== actor.claims.tenant) throw new Problem("not-found", `no key ${id}`);
    return k;
  }

  /** The keys of the actor's tenant. */
  async keys(actor: Actor): Promise<KeyRecord[]> {
    this.authorize(actor, { kind: "read" });
    return (await this.d.repo.listKeys()).filter((k) => k.tenant === actor.claims.tenant);
  }

  private authorize(actor: Actor, action: Action): void {
    if (!allows(actor.claims, action))
      throw new Problem("forbidden", `role ${actor.claims.role} may not ${action.kind} here`);
  }

  private async activeKey(actor: Actor, id: string): Promise<KeyRecord> {
    const k = await this.key(actor, id);
    if (k.status !== "active") throw new Problem("key-not-active", `key ${id} is ${k.status}`);
    return k;
  }

  private async claim(
    actor: Actor,
    idempotencyKey: string | undefined,
    scope: string,
    id: string,
  ): Promise<OperationRecord | undefined> {
    if (idempotencyKey === undefined) return undefined;
    if (!/^[\x21-\x7e]{1,200}$/.test(idempotencyKey))
      throw new Problem("invalid-request", "Idempotency-Key must be 1-200 visible ASCII characters");
    const k = Buffer.from(
      `${actor.claims.tenant}\n${actor.claims.sub}\n${scope}\n${idempotencyKey}`,
    ).toString("base64url");
    const owner = await this.d.repo.claimIdempotencyKey(k, id);
    if (owner === id) return undefined;
    for (let i = 0; i < 20; i++) {
      const op = await this.d.repo.getOperation(owner);
      if (op) {
        // The same key with another request would answer it with the first request's result.
        if (op.fingerprint !== fingerprintOf(actor))
          throw new Problem(
            "idempotency-key-reused",
            "this Idempotency-Key was used for a request with another method, target or body",
            { operationId: op.id },
          );
        return op;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Problem("conflict", "a request with this Idempotency-Key is still being accepted");
  }

  private newOperation(
    actor: Actor,
    id: string,
    type: OperationType,
    keyId: string,
    participants: number[],
  ): OperationRecord {
    const t = now();
    return {
      id,
      type,
      status: "pending",
      keyId,
      tenant: actor.claims.tenant,
      participants,
      reports: {},
      fingerprint: fingerprintOf(actor),
      createdAt: t,
      updatedAt: t,
    };
  }

  private item(actor: Actor, op: OperationRecord, scheme: string, work: WorkItem["op"]): WorkItem {
    const r = actor.request;
    return create(WorkItemSchema, {
      operationId: op.id,
      keyId: op.keyId,
      scheme,
      createdAtMs: BigInt(Date.parse(op.createdAt)),
      tenant: op.tenant,
      client: create(ClientRequestSchema, {
        credential: r.credential,
        method: r.method,
        path: r.path,
        body: r.body,
        timestampMs: BigInt(r.timestampMs),
        nonce: r.nonce,
        signature: r.signature,
      }),
      op: work,
    });
  }

  private async enqueue(op: OperationRecord, kind: WorkOp, item: WorkItem): Promise<void> {
    try {
      // Same message id on every attempt: a retry after a lost pub-ack across a leader election
      // is absorbed by the stream's duplicate window, so the item is stored exactly once.
      await publishDurably(this.d.js, requestSubject(kind, op.id), toBinary(WorkItemSchema, item), op.id, {
        retryForMs: 30_000,
      });
    } catch (e) {
      const error = {
        code: "not-enqueued",
        message: "the work queue did not accept the request",
        culprits: [],
      };
      await this.d.repo
        .updateOperation(op.id, (o) =>
          // A lost pub-ack may hide an item that was stored and has run: never undo its outcome.
          o.status === "pending" ? { ...o, status: "failed", error, updatedAt: now() } : undefined,
        )
        .catch(() => {});
      if (kind === "dkg")
        await this.d.repo
          .updateKey(op.keyId, (k) => ({ ...k, status: "failed", updatedAt: now() }))
          .catch(() => {});
      if (kind === "refresh")
        await this.d.repo.updateKey(op.keyId, (k) => ({ ...k, refreshing: undefined })).catch(() => {});
      throw new Problem("unavailable", "the work queue is not accepting requests", { cause: String(e) }, 5);
    }
  }
}

/**
 * The Taproot output a sign request asks for: that of `key`'s (derived) x-only key committing to
 * the request's merkle root (none: BIP86).
 * @throws Problem `invalid-request` for a key that is not bip340 or a malformed merkle root
 */
function taprootOutput(
  key: KeyRecord,
  path: readonly number[],
  taproot: { merkleRoot?: string },
  keys: SigningKeys,
): TaprootView {
  if (key.scheme !== "bip340")
    throw new Problem(
      "invalid-request",
      `taproot applies to bip340 keys only (BIP341 key-path spends); this key is ${key.scheme}`,
    );
  const root = taproot.merkleRoot;
  if (root !== undefined && !/^[0-9a-fA-F]{64}$/.test(root))
    throw new Problem("invalid-request", "taproot.merkleRoot must be 32 bytes of hex");
  const internal = keys(path);
  const view = typeof internal === "string" ? undefined : taprootView(internal.hex, root?.toLowerCase());
  if (view === undefined) throw new Problem("invalid-request", "this key has no Taproot output key here");
  return view;
}

/** What a sign request asks for: one message (with a path), or a batch of messages (each with its own). */
export interface SignInput {
  readonly message?: string;
  readonly path?: string;
  readonly messages?: readonly { readonly message: string; readonly path?: string }[];
  readonly taproot?: { readonly merkleRoot?: string };
}

/** Most messages one signing batch of each scheme holds (the workers enforce the same bound). */
export const MAX_BATCH_BY_SCHEME: Readonly<Record<SchemeName, number>> = {
  ed25519: 256,
  bip340: 256,
  // A DKLs23 round-2 message is ≈49 KB per instance and pair; 32 stay under the broker's 2 MiB.
  "ecdsa-secp256k1": 32,
};

/** One message to sign: its bytes and path, and how the operation records it. */
interface ParsedItem {
  readonly message: Buffer;
  readonly path: number[];
  readonly record: SignItemRecord;
}

/**
 * The messages of a sign request, checked against `key`'s scheme: exactly one of `message` and
 * `messages`, a batch within its scheme's size and without a top-level path, and at most
 * {@link MAX_PATH_COMPONENTS_PER_REQUEST} path components in all, counted before anything is
 * derived. A Taproot request derives each distinct path once.
 * @throws Problem `invalid-request`, naming the batch item at fault
 */
function signItems(key: KeyRecord, input: SignInput): ParsedItem[] {
  if ((input.message === undefined) === (input.messages === undefined))
    throw new Problem("invalid-request", "give either message or messages");
  let parsed: Omit<ParsedItem, "record">[];
  if (input.messages === undefined) parsed = [signItem(key, input.message!, input.path, "")];
  else {
    if (input.path !== undefined)
      throw new Problem("invalid-request", "a batch gives each of its messages its own path");
    const max = MAX_BATCH_BY_SCHEME[key.scheme as SchemeName] ?? 0;
    if (input.messages.length < 1 || input.messages.length > max)
      throw new Problem("invalid-request", `a ${key.scheme} batch holds 1 to ${max} messages`, {
        maxBatch: max,
      });
    parsed = input.messages.map((m, i) => signItem(key, m.message, m.path, `messages[${i}]: `));
  }
  const components = parsed.reduce((n, p) => n + p.path.length, 0);
  if (components > MAX_PATH_COMPONENTS_PER_REQUEST)
    throw new Problem(
      "invalid-request",
      `a request derives at most ${MAX_PATH_COMPONENTS_PER_REQUEST} path components in all; this one has ${components}`,
      { maxPathComponents: MAX_PATH_COMPONENTS_PER_REQUEST },
    );
  const raw = input.messages ?? [{ message: input.message!, path: input.path }];
  const keys = signingKeysOf(key);
  return parsed.map((p, i) => ({
    ...p,
    record: {
      message: raw[i]!.message.toLowerCase(),
      path: raw[i]!.path,
      taproot: input.taproot === undefined ? undefined : taprootOutput(key, p.path, input.taproot, keys),
    },
  }));
}

/** One message and path, checked as a single signing checks them; `where` prefixes every refusal. */
function signItem(
  key: KeyRecord,
  hexMessage: string,
  pathText: string | undefined,
  where: string,
): Omit<ParsedItem, "record"> {
  const refuse = (why: string) => new Problem("invalid-request", `${where}${why}`);
  if (!/^([0-9a-fA-F]{2})*$/.test(hexMessage)) throw refuse("message must be hex");
  const message = Buffer.from(hexMessage, "hex");
  if (key.scheme === "ecdsa-secp256k1" && message.length !== 32)
    throw refuse("ecdsa-secp256k1 signs a 32-byte digest (64 hex characters)");
  if (message.length > MAX_MESSAGE_BYTES) throw refuse(`message longer than ${MAX_MESSAGE_BYTES} bytes`);
  let path: number[] = [];
  if (pathText !== undefined) {
    const parsed = parsePath(pathText);
    if (typeof parsed === "string") throw refuse(`path: ${parsed}`);
    if (parsed.length > 0 && key.scheme === "ed25519")
      throw refuse("ed25519 keys do not support derivation paths");
    path = parsed;
  }
  return { message, path };
}

function shuffle<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomBytes(4).readUInt32BE(0) % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
