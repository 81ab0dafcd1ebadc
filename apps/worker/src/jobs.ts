/**
 * What a party does for each kind of work item: DKG, sign, refresh, activation. Every job decides
 * from what the party verified itself: the client's signed request (checked, then claimed once in
 * the party's served-request ledger), its own sealed key state, and its local ledger of bans and
 * active epochs. Scheme maths stays behind the `Scheme` interface.
 *
 * - DKG claims the key id create-only and stores the share in a slot of its own session; it
 *   never replaces a key.
 * - A signing batch (the work item's `batch`) runs every item as its own protocol instance in one
 *   session and reports every signature, in order, or fails as a whole.
 * - Refresh and sign use only the active epoch, the one every party of the key confirmed; a work
 *   item naming another epoch is refused.
 * - Activation needs every party's signed confirmation of the same stored share; only then does
 *   the party switch epochs and purge every other share of the key.
 * - A `security` abort while signing bans the culprit's pairwise state ({@link PairGuard}).
 * - Every session attempt (a single signature's only when it is a retry) is announced first on
 *   the party's progress subject (phase `session`, the delivery count as attempt): a plain publish
 *   the result stream keeps, advisory only, so it never holds up the session and the API folds
 *   repeats into one.
 * @module
 */
import {
  type BatchSignItem,
  frame,
  ProtocolError,
  requestDigest,
  type Scheme,
  type SignatureOutput,
} from "@custody/core";
import {
  ACTIVATION_SUFFIX,
  ActivatedSchema,
  type ActivateWork,
  create,
  type DkgWork,
  MAX_PATH_COMPONENTS_PER_REQUEST,
  ProgressSchema,
  progressSubject,
  type RefreshWork,
  ShareStoredSchema,
  SignatureBatchSchema,
  SignatureResultSchema,
  type SignWork,
  SkippedSchema,
  toBinary,
  type WorkItem,
  type WorkResult,
  WorkResultSchema,
} from "@custody/proto";
import {
  inProcessHost,
  type PartyDirectory,
  type PartyIdentity,
  PermanentFailure,
  runSession,
  type SessionHost,
  SessionThreadPool,
  signAs,
  verifyFrom,
  type WorkContext,
} from "@custody/runtime";
import {
  EpochTakenError,
  KeyExistsError,
  type KeyRef,
  LedgerError,
  type PartyLedger,
  ReplayError,
  type ServedLedger,
  type ShareStore,
  type Slot,
} from "@custody/store";
import type { NatsConnection } from "@nats-io/transport-node";
import { checkClientRequest } from "./authorization.js";
import type { Admission, PairGuard } from "./pair-guard.js";
import { MAX_BATCH_BY_SCHEME } from "./schemes.js";
import { beginSession, type SessionOutput, type SessionSpec, taprootOf } from "./session-spec.js";

/** Everything a job needs from its worker. */
export interface JobEnv {
  /** Connection into the tenant's account. */
  readonly nc: NatsConnection;
  /** The tenant whose account this job's work item came from. */
  readonly tenant: string;
  readonly party: number;
  readonly workerId: string;
  readonly store: ShareStore;
  /** The party's ledger of served client requests. */
  readonly served: ServedLedger;
  /** This worker's local ledger of bans and active epochs. */
  readonly ledger: PartyLedger;
  /** This worker's pair lock. */
  readonly guard: PairGuard;
  /** The party's long-term identity (signs every protocol message). */
  readonly identity: PartyIdentity;
  /** Every party's identity key. */
  readonly directory: PartyDirectory;
  /** Public keys of the authorities whose client credentials the party accepts. */
  readonly authorities: readonly string[];
  /** Whether a client credential was revoked (fails closed by throwing when it cannot tell). */
  readonly isRevoked: (credential: string) => Promise<boolean>;
  readonly schemes: ReadonlyMap<string, Scheme<unknown>>;
  /** Round inactivity timeout for sessions. */
  readonly roundTimeoutMs?: number;
  /** Join barrier timeout for sessions. */
  readonly joinTimeoutMs?: number;
  /** Sessions that run in a worker thread (CPU-heavy); default: {@link defaultInThread}. */
  readonly inThread?: (spec: SessionSpec) => boolean;
  /**
   * Helper threads a session thread may use for a round's independent jobs (the base OTs of
   * different counterparties in ECDSA key generation and refresh). Default 0: none.
   */
  readonly jobThreads?: number;
}

/** The worker's session threads (reused while warm; idle ones never keep the process alive). */
const THREADS = new SessionThreadPool(new URL("./session-thread.js", import.meta.url));

/**
 * ECDSA DKG and refresh spend seconds in base OTs, and a signing batch of any scheme up to seconds
 * per round (256 FROST signatures, or 32 ECDSA ones): keep them off the event loop, so the worker
 * goes on heartbeating and serving other sessions, and two batches use two cores. A single
 * signature, and FROST key generation and refresh, run in process.
 */
export const defaultInThread = (spec: SessionSpec) =>
  spec.op === "sign-batch" || (spec.scheme === "ecdsa-secp256k1" && spec.op !== "sign");

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const result = (item: WorkItem, party: number, outcome: WorkResult["outcome"]): WorkResult =>
  create(WorkResultSchema, { operationId: item.operationId, party, outcome });

const skipped = (item: WorkItem, party: number, reason: string) =>
  result(item, party, { case: "skipped", value: create(SkippedSchema, { reason }) });

function schemeOf(env: JobEnv, item: WorkItem): Scheme<unknown> {
  const s = env.schemes.get(item.scheme);
  if (!s) throw new PermanentFailure("unsupported-scheme", `scheme ${item.scheme} is not supported`);
  return s;
}

const refOf = (env: JobEnv, item: WorkItem): KeyRef => ({
  tenant: env.tenant,
  keyId: item.keyId,
  scheme: item.scheme,
});

/**
 * Whether a session attempt is announced: always for DKG, refresh and signing batches; for a
 * single signature (a session of some 100 ms, whose announcement would cost the API as much as
 * its result) only when it is a retry.
 */
export function announcesSession(spec: SessionSpec, deliveryCount: number): boolean {
  return spec.op !== "sign" || deliveryCount > 1;
}

async function session(
  env: JobEnv,
  ctx: WorkContext,
  participants: number[],
  spec: SessionSpec,
  admission?: Admission,
) {
  if (announcesSession(spec, ctx.deliveryCount)) {
    const report = result(ctx.item, env.party, {
      case: "progress",
      value: create(ProgressSchema, { phase: "session", attempt: ctx.deliveryCount }),
    });
    env.nc.publish(progressSubject(ctx.item.operationId, env.party), toBinary(WorkResultSchema, report));
  }
  const threaded = (env.inThread ?? defaultInThread)(spec);
  const build = (sessionId: Uint8Array): SessionHost<SessionOutput> =>
    threaded
      ? THREADS.host<SessionOutput>({ spec, sessionId, jobThreads: env.jobThreads ?? 0 })
      : inProcessHost(env.party, () => beginSession(env.schemes, spec, sessionId), 16);
  return runSession<SessionOutput>({
    nc: env.nc,
    operationId: ctx.item.operationId,
    self: env.party,
    participants,
    workerId: env.workerId,
    identity: env.identity,
    directory: env.directory,
    signal: admission?.signal ?? ctx.signal,
    roundTimeoutMs: env.roundTimeoutMs,
    joinTimeoutMs: env.joinTimeoutMs,
    host: (sessionId) => (admission ? admission.guard(build(sessionId)) : build(sessionId)),
  });
}

/** What every party of a key signs once it stored its share, and checks of every other before activating. */
export function confirmationBytes(
  ref: KeyRef,
  slot: Slot,
  info: { publicKey: Uint8Array; chainCode?: Uint8Array; derivationKey?: Uint8Array },
  parties: readonly number[],
): Uint8Array {
  return frame("custody/share-stored/v1", [
    ref.tenant,
    ref.keyId,
    ref.scheme,
    slot.epoch,
    slot.session,
    info.publicKey,
    info.chainCode ?? new Uint8Array(),
    info.derivationKey ?? new Uint8Array(),
    parties.join(","),
  ]);
}

/** The key's active slot and share, as this party knows it; refuses a state the broker rolled back. */
async function activeShare(env: JobEnv, ref: KeyRef) {
  const state = await env.store.state(ref);
  if (!state) throw new PermanentFailure("key-not-active", `key ${ref.keyId} does not exist at this party`);
  // Created but not activated here yet: the activation is on its way once every party stored.
  if (!state.active) throw new EpochNotActiveYet(`key ${ref.keyId} is not active at this party yet`);
  const known = env.ledger.activeEpoch(ref.tenant, ref.keyId);
  if (known !== undefined && known > state.active.epoch)
    throw new PermanentFailure(
      "state-rolled-back",
      `this worker saw epoch ${known} of key ${ref.keyId} activated; the stored state says ${state.active.epoch}`,
    );
  const stored = await env.store.getShare(ref, state.active);
  if (!stored) throw new PermanentFailure("share-not-found", `no active share of key ${ref.keyId}`);
  return { state, active: state.active, stored };
}

function shareStored(
  env: JobEnv,
  item: WorkItem,
  scheme: Scheme<unknown>,
  share: Uint8Array,
  slot: Slot,
  parties: number[],
  sessionId: Uint8Array,
) {
  const info = scheme.info(scheme.decodeShare(share));
  const confirmation = signAs(env.identity, confirmationBytes(refOf(env, item), slot, info, parties));
  return result(item, env.party, {
    case: "shareStored",
    value: create(ShareStoredSchema, {
      epoch: slot.epoch,
      publicKey: info.publicKey,
      chainCode: info.chainCode ?? new Uint8Array(),
      derivationKey: info.derivationKey ?? new Uint8Array(),
      sessionId,
      confirmation,
    }),
  });
}

/** An epoch that is not yet active here: its activation is on its way (retried, not refused). */
export class EpochNotActiveYet extends Error {
  override readonly name = "EpochNotActiveYet";
}

/** Refuses an older epoch than the active one; retries a newer one until this party activated it. */
function checkEpoch(asked: number, active: number): void {
  if (asked < active)
    throw new PermanentFailure(
      "stale-epoch",
      `epoch ${asked} is older than the key's active epoch ${active}`,
    );
  if (asked > active) throw new EpochNotActiveYet(`epoch ${asked} is not active at this party yet`);
}

const shareOf = (o: SessionOutput) => {
  if (!("share" in o)) throw new ProtocolError("internal", "session produced no share");
  return o.share;
};

async function dkg(env: JobEnv, ctx: WorkContext, work: DkgWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!work.parties.includes(env.party)) return skipped(item, env.party, "not a party of this key");
  const scheme = schemeOf(env, item);
  const ref = refOf(env, item);
  if (env.ledger.activeEpoch(ref.tenant, ref.keyId) !== undefined)
    throw new PermanentFailure("key-exists", `key ${ref.keyId} already exists`);
  await env.store.claimKey(ref, item.operationId).catch((e: unknown) => {
    throw e instanceof KeyExistsError ? new PermanentFailure("key-exists", e.message) : e;
  });
  const parties = [...work.parties].sort((a, b) => a - b);
  const out = await session(env, ctx, parties, {
    op: "keygen",
    scheme: scheme.name,
    self: env.party,
    parties,
    threshold: work.threshold,
  });
  const share = shareOf(out.result);
  const slot = { epoch: 0, session: hex(out.sessionId) };
  await putShare(env, ref, slot, share, parties, item.operationId);
  return shareStored(env, item, scheme, share, slot, parties, out.sessionId);
}

/** Stores a new share as this party's confirmed one of its epoch (one operation per epoch). */
async function putShare(
  env: JobEnv,
  ref: KeyRef,
  slot: Slot,
  share: Uint8Array,
  parties: number[],
  op: string,
) {
  await env.store.putShare(ref, slot, share, parties, op).catch((e: unknown) => {
    throw e instanceof EpochTakenError ? new PermanentFailure("epoch-taken", e.message) : e;
  });
}

/**
 * The items of a batch work item, checked against the scheme, its batch size and the derivation
 * budget ({@link MAX_PATH_COMPONENTS_PER_REQUEST} path components in all, counted before any
 * session derives one) (empty: not a batch).
 */
function batchItems(scheme: Scheme<unknown>, work: SignWork): BatchSignItem[] {
  if (work.batch.length === 0) return [];
  if (work.message.length > 0 || work.path.length > 0)
    throw new PermanentFailure("bad-work-item", "a batch work item carries its messages in its items only");
  const max = MAX_BATCH_BY_SCHEME.get(scheme.name) ?? 1;
  if (work.batch.length > max)
    throw new PermanentFailure("bad-work-item", `a ${scheme.name} batch holds at most ${max} messages`);
  const components = work.batch.reduce((n, item) => n + item.path.length, 0);
  if (components > MAX_PATH_COMPONENTS_PER_REQUEST)
    throw new PermanentFailure(
      "bad-work-item",
      `a signing request derives at most ${MAX_PATH_COMPONENTS_PER_REQUEST} path components in all; this batch has ${components}`,
    );
  return work.batch.map((item) => {
    const path = item.path.length > 0 ? [...item.path] : undefined;
    scheme.checkSignInput(item.message, path);
    return { message: item.message, path };
  });
}

const signatureResult = (sig: SignatureOutput, epoch: number) =>
  create(SignatureResultSchema, {
    signature: sig.signature,
    publicKey: sig.publicKey,
    epoch,
    recoveryId: sig.recoveryId,
    der: sig.der ?? new Uint8Array(),
  });

async function sign(env: JobEnv, ctx: WorkContext, work: SignWork): Promise<WorkResult> {
  const { item } = ctx;
  const scheme = schemeOf(env, item);
  const path = work.path.length > 0 ? work.path : undefined;
  const items = batchItems(scheme, work);
  if (items.length === 0) scheme.checkSignInput(work.message, path);
  const ref = refOf(env, item);
  const { state, active, stored } = await activeShare(env, ref);
  checkEpoch(work.epoch, active.epoch);
  if (!work.signers.every((p) => stored.parties.includes(p)))
    throw new PermanentFailure("bad-work-item", "a signer is not a party of this key");
  const admitted = env.guard.admit(ref.tenant, ref.keyId, active.epoch, work.signers, state.bans, ctx.signal);
  try {
    const common = {
      scheme: scheme.name,
      self: env.party,
      signers: work.signers,
      share: stored.share,
      taproot: taprootOf(work),
    };
    const spec: SessionSpec =
      items.length === 0
        ? { op: "sign", ...common, message: work.message, path }
        : { op: "sign-batch", ...common, items };
    const out = await session(env, ctx, work.signers, spec, admitted).catch(async (e: unknown) => {
      // An OT-extension, VOLE or consistency check failed: an active attack by the culprit. The
      // guard already banned it locally; tell the party's other workers through its state.
      if (e instanceof ProtocolError && e.kind === "security" && e.culprits.length > 0)
        await env.guard.shareBan(ref.tenant, ref.keyId, e.culprits, (peer) =>
          env.store.ban(ref, { epoch: active.epoch, peer }),
        );
      throw e;
    });
    if ("signatures" in out.result && out.result.signatures.length === items.length)
      return result(item, env.party, {
        case: "signatureBatch",
        value: create(SignatureBatchSchema, {
          signatures: out.result.signatures.map((sig) => signatureResult(sig, active.epoch)),
        }),
      });
    if (!("signature" in out.result) || items.length > 0)
      throw new ProtocolError("internal", "session produced no signature");
    return result(item, env.party, {
      case: "signature",
      value: signatureResult(out.result.signature, active.epoch),
    });
  } finally {
    admitted.release();
  }
}

async function refresh(env: JobEnv, ctx: WorkContext, work: RefreshWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!work.parties.includes(env.party)) return skipped(item, env.party, "not a party of this key");
  const scheme = schemeOf(env, item);
  const ref = refOf(env, item);
  const { state, active, stored } = await activeShare(env, ref);
  checkEpoch(work.fromEpoch, active.epoch);
  // The epoch the new shares get: any later one (each refresh operation aims at a fresh number).
  const target = work.toEpoch === 0 ? active.epoch + 1 : work.toEpoch;
  if (target <= active.epoch)
    throw new PermanentFailure("stale-epoch", `a refresh must aim after the active epoch ${active.epoch}`);
  if (state.confirmed?.some((c) => c.epoch === target && c.operation !== item.operationId))
    throw new PermanentFailure(
      "epoch-taken",
      `epoch ${target} of key ${ref.keyId} belongs to another refresh`,
    );
  const parties = [...stored.parties];
  if ([...work.parties].sort((a, b) => a - b).join() !== parties.join())
    throw new PermanentFailure("bad-work-item", "a refresh takes exactly the key's parties");
  const out = await session(env, ctx, parties, {
    op: "refresh",
    scheme: scheme.name,
    self: env.party,
    share: stored.share,
  });
  const share = shareOf(out.result);
  const slot = { epoch: target, session: hex(out.sessionId) };
  await putShare(env, ref, slot, share, parties, item.operationId);
  return shareStored(env, item, scheme, share, slot, parties, out.sessionId);
}

async function activate(env: JobEnv, ctx: WorkContext, work: ActivateWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!item.operationId.endsWith(ACTIVATION_SUFFIX))
    throw new PermanentFailure("bad-work-item", "an activation's operation id must end in its suffix");
  if (!work.confirmations.some((c) => c.party === env.party))
    return skipped(item, env.party, "not a party of this key");
  const scheme = schemeOf(env, item);
  const ref = refOf(env, item);
  const slot = { epoch: work.epoch, session: hex(work.sessionId) };
  const state = await env.store.state(ref);
  if (!state) throw new PermanentFailure("share-not-found", `no state of key ${ref.keyId}`);
  const record = () => {
    try {
      env.ledger.recordActive(ref.tenant, ref.keyId, slot.epoch);
    } catch (e) {
      throw new PermanentFailure("party-state-unwritable", e instanceof LedgerError ? e.message : String(e));
    }
    return result(item, env.party, {
      case: "activated",
      value: create(ActivatedSchema, { epoch: slot.epoch }),
    });
  };
  // Activated already (a redelivery after a crash): settle the ledger and report it again.
  if (state.active?.epoch === slot.epoch && state.active.session === slot.session) return record();
  const stored = await env.store.getShare(ref, slot);
  if (!stored)
    throw new PermanentFailure(
      "share-not-found",
      `no share of key ${ref.keyId} from the session being activated`,
    );
  // Only forwards: a purged slot the broker put back, or any epoch at or before the active one, never.
  if (state.active && slot.epoch <= state.active.epoch)
    throw new PermanentFailure(
      "stale-epoch",
      `epoch ${slot.epoch} is not after the active epoch ${state.active.epoch}`,
    );
  if (!state.active && slot.epoch !== 0)
    throw new PermanentFailure("stale-epoch", "a key's first active epoch is 0");
  // Only the share this party confirmed for the epoch: never another operation's, whoever signed it.
  if (!state.confirmed?.some((c) => c.epoch === slot.epoch && c.session === slot.session))
    throw new PermanentFailure(
      "activation-unconfirmed",
      "this party did not confirm that share of the epoch",
    );
  const info = scheme.info(scheme.decodeShare(stored.share));
  if (state.active) {
    const current = await env.store.getShare(ref, state.active);
    if (!current || hex(scheme.info(scheme.decodeShare(current.share)).publicKey) !== hex(info.publicKey))
      throw new PermanentFailure("public-key-changed", "the refreshed share has another public key");
  }
  const statement = confirmationBytes(ref, slot, info, stored.parties);
  const unconfirmed = stored.parties.filter((p) => {
    const c = work.confirmations.find((x) => x.party === p);
    return !c || !verifyFrom(env.directory, p, statement, c.signature);
  });
  if (unconfirmed.length > 0)
    throw new PermanentFailure(
      "activation-unconfirmed",
      `no valid confirmation of this share from parties ${unconfirmed.join(", ")}`,
    );
  // The stored state first, then the local ledger: a job of this worker that reads the state in
  // between sees the new epoch in both or only in the state, never a ledger ahead of the state
  // (which would read as a rollback).
  await env.store.activate(ref, slot);
  return record();
}

const digestOf = (item: WorkItem) =>
  requestDigest({ tenant: item.tenant, credential: item.client!.credential, nonce: item.client!.nonce });

const replayed = (e: unknown) => {
  throw e instanceof ReplayError ? new PermanentFailure("replayed-request", e.message) : e;
};

async function withClaim(env: JobEnv, item: WorkItem, run: () => Promise<WorkResult>): Promise<WorkResult> {
  const digest = digestOf(item);
  await env.served.claim(digest, item.operationId).catch(replayed);
  let out: WorkResult;
  try {
    out = await run();
  } catch (e) {
    // A final outcome serves the request too: it must not run again under the same operation.
    if (e instanceof PermanentFailure || classify(e)) await env.served.served(digest, item.operationId);
    throw e;
  }
  await env.served.served(digest, item.operationId);
  return out;
}

/** Runs one work item for this party, after checking the client's request. */
export async function runJob(env: JobEnv, ctx: WorkContext): Promise<WorkResult> {
  // The account a work item came from fixes its tenant; a mismatch means a forged or misrouted item.
  if (ctx.item.tenant !== env.tenant)
    throw new PermanentFailure("unauthorized-request", "the work item names another tenant than its account");
  const op = ctx.item.op;
  // An activation carries no client request: every party's signed confirmation is what authorises it.
  if (op.case === "activate") return activate(env, ctx, op.value);
  checkClientRequest(ctx.item, env.authorities);
  if (await env.isRevoked(ctx.item.client!.credential))
    throw new PermanentFailure("unauthorized-request", "client request refused: revoked");
  switch (op.case) {
    case "dkg":
      return withClaim(env, ctx.item, () => dkg(env, ctx, op.value));
    case "sign":
      // Outside the signer set the party only takes note: the request is served at once (one
      // write), so no later work item can make this party sign it.
      if (!op.value.signers.includes(env.party)) {
        await env.served.serve(digestOf(ctx.item), ctx.item.operationId).catch(replayed);
        return skipped(ctx.item, env.party, "not in the signer set");
      }
      return withClaim(env, ctx.item, () => sign(env, ctx, op.value));
    case "refresh":
      return withClaim(env, ctx.item, () => refresh(env, ctx, op.value));
    default:
      throw new PermanentFailure("bad-work-item", "work item without an operation");
  }
}

/** Maps errors that retrying cannot fix to a PermanentFailure. */
export function classify(e: unknown): PermanentFailure | undefined {
  if (e instanceof ProtocolError && !e.retryable)
    return new PermanentFailure(`protocol-${e.kind}`, e.message, e.culprits);
  if (e instanceof Error && e.name === "SealError")
    return new PermanentFailure("share-unreadable", e.message);
  return undefined;
}
