/**
 * What a party does for each kind of work item: DKG, sign, refresh. Each job first checks the
 * client's signed request itself, loads what it needs, runs one protocol session through the runtime
 * and returns the party's result. Scheme maths stays behind the `Scheme` interface.
 * @module
 */
import { ProtocolError, type Scheme, type SignatureOutput } from "@custody/core";
import {
  create,
  type DkgWork,
  type RefreshWork,
  ShareStoredSchema,
  SignatureResultSchema,
  type SignWork,
  SkippedSchema,
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
  threadHost,
  type WorkContext,
} from "@custody/runtime";
import type { ShareStore } from "@custody/store";
import type { NatsConnection } from "@nats-io/transport-node";
import { checkClientRequest } from "./authorization.js";
import { beginSession, type SessionOutput, type SessionSpec } from "./session-spec.js";

/** Everything a job needs from its worker. */
export interface JobEnv {
  /** Connection into the tenant's account. */
  readonly nc: NatsConnection;
  /** The tenant whose account this job's work item came from. */
  readonly tenant: string;
  readonly party: number;
  readonly workerId: string;
  readonly store: ShareStore;
  /** The party's long-term identity (signs every protocol message). */
  readonly identity: PartyIdentity;
  /** Every party's identity key. */
  readonly directory: PartyDirectory;
  /** Public keys of the authorities whose client credentials the party accepts. */
  readonly authorities: readonly string[];
  readonly schemes: ReadonlyMap<string, Scheme<unknown>>;
  /** Round inactivity timeout for sessions. */
  readonly roundTimeoutMs?: number;
  /** Join barrier timeout for sessions. */
  readonly joinTimeoutMs?: number;
  /** Sessions that run in a worker thread (CPU-heavy); default: ECDSA key generation and refresh. */
  readonly inThread?: (spec: SessionSpec) => boolean;
}

const THREAD_SCRIPT = new URL("./session-thread.js", import.meta.url);

/** ECDSA DKG and refresh spend seconds in base OTs: keep them off the event loop. */
export const defaultInThread = (spec: SessionSpec) => spec.scheme === "ecdsa-secp256k1" && spec.op !== "sign";

const result = (item: WorkItem, party: number, outcome: WorkResult["outcome"]): WorkResult =>
  create(WorkResultSchema, { operationId: item.operationId, party, outcome });

const skipped = (item: WorkItem, party: number, reason: string) =>
  result(item, party, { case: "skipped", value: create(SkippedSchema, { reason }) });

function schemeOf(env: JobEnv, item: WorkItem): Scheme<unknown> {
  const s = env.schemes.get(item.scheme);
  if (!s) throw new PermanentFailure("unsupported-scheme", `scheme ${item.scheme} is not supported`);
  return s;
}

async function session(env: JobEnv, ctx: WorkContext, participants: number[], spec: SessionSpec) {
  const threaded = (env.inThread ?? defaultInThread)(spec);
  return runSession<SessionOutput>({
    nc: env.nc,
    operationId: ctx.item.operationId,
    self: env.party,
    participants,
    workerId: env.workerId,
    identity: env.identity,
    directory: env.directory,
    signal: ctx.signal,
    roundTimeoutMs: env.roundTimeoutMs,
    joinTimeoutMs: env.joinTimeoutMs,
    host: (sessionId): SessionHost<SessionOutput> =>
      threaded
        ? threadHost<SessionOutput>(THREAD_SCRIPT, { spec, sessionId })
        : inProcessHost(env.party, () => beginSession(env.schemes, spec, sessionId), 16),
  });
}

async function loadShare(
  env: JobEnv,
  item: WorkItem,
  scheme: Scheme<unknown>,
  epoch: number,
): Promise<Uint8Array> {
  const stored = await env.store.get(item.keyId, epoch);
  if (!stored)
    throw new PermanentFailure("share-not-found", `no share of key ${item.keyId} at epoch ${epoch}`);
  if (stored.scheme !== scheme.name)
    throw new PermanentFailure("scheme-mismatch", "stored share has another scheme");
  if (stored.tenant !== item.tenant)
    throw new PermanentFailure("unauthorized-request", "the key belongs to another tenant");
  return stored.share;
}

function shareStored(
  env: JobEnv,
  item: WorkItem,
  scheme: Scheme<unknown>,
  share: Uint8Array,
  epoch: number,
  sessionId: Uint8Array,
) {
  const info = scheme.info(scheme.decodeShare(share));
  return result(item, env.party, {
    case: "shareStored",
    value: create(ShareStoredSchema, {
      epoch,
      publicKey: info.publicKey,
      chainCode: info.chainCode ?? new Uint8Array(),
      derivationKey: info.derivationKey ?? new Uint8Array(),
      sessionId,
    }),
  });
}

const shareOf = (o: SessionOutput) => {
  if (!("share" in o)) throw new ProtocolError("internal", "session produced no share");
  return o.share;
};

async function dkg(env: JobEnv, ctx: WorkContext, work: DkgWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!work.parties.includes(env.party)) return skipped(item, env.party, "not a party of this key");
  const scheme = schemeOf(env, item);
  const spec: SessionSpec = {
    op: "keygen",
    scheme: scheme.name,
    self: env.party,
    parties: work.parties,
    threshold: work.threshold,
  };
  const out = await session(env, ctx, work.parties, spec);
  const share = shareOf(out.result);
  await env.store.put(item.keyId, 0, scheme.name, item.tenant, share);
  return shareStored(env, item, scheme, share, 0, out.sessionId);
}

async function sign(env: JobEnv, ctx: WorkContext, work: SignWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!work.signers.includes(env.party)) return skipped(item, env.party, "not in the signer set");
  const scheme = schemeOf(env, item);
  const path = work.path.length > 0 ? work.path : undefined;
  scheme.checkSignInput(work.message, path);
  const share = await loadShare(env, item, scheme, work.epoch);
  const locked = (await env.store.lockedPeers(item.keyId)).filter((p) => work.signers.includes(p));
  if (locked.length > 0)
    throw new PermanentFailure(
      "pair-locked",
      "pairwise state with a blamed party is locked until a refresh",
      locked,
    );
  const spec: SessionSpec = {
    op: "sign",
    scheme: scheme.name,
    self: env.party,
    signers: work.signers,
    share,
    message: work.message,
    path,
  };
  const out = await session(env, ctx, work.signers, spec).catch(async (e: unknown) => {
    // An OT-extension, VOLE or consistency check failed: an active attack by the culprit.
    if (e instanceof ProtocolError && e.kind === "security")
      for (const culprit of e.culprits) await env.store.lockPair(item.keyId, culprit);
    throw e;
  });
  if (!("signature" in out.result)) throw new ProtocolError("internal", "session produced no signature");
  const sig: SignatureOutput = out.result.signature;
  return result(item, env.party, {
    case: "signature",
    value: create(SignatureResultSchema, {
      signature: sig.signature,
      publicKey: sig.publicKey,
      epoch: work.epoch,
      recoveryId: sig.recoveryId,
      der: sig.der ?? new Uint8Array(),
    }),
  });
}

async function refresh(env: JobEnv, ctx: WorkContext, work: RefreshWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!work.parties.includes(env.party)) return skipped(item, env.party, "not a party of this key");
  const scheme = schemeOf(env, item);
  const old = await loadShare(env, item, scheme, work.fromEpoch);
  const out = await session(env, ctx, work.parties, {
    op: "refresh",
    scheme: scheme.name,
    self: env.party,
    share: old,
  });
  const share = shareOf(out.result);
  const epoch = work.fromEpoch + 1;
  await env.store.put(item.keyId, epoch, scheme.name, item.tenant, share);
  // A refresh starts only from the active epoch, which every party confirmed, so the epoch before
  // it can no longer become active: retire it (best effort; a leftover share is only clutter).
  if (work.fromEpoch > 0) await env.store.delete(item.keyId, work.fromEpoch - 1).catch(() => {});
  // Fresh base OTs and seeds replace every pairwise state: lift the locks.
  await env.store.clearLocks(item.keyId);
  return shareStored(env, item, scheme, share, epoch, out.sessionId);
}

/** Runs one work item for this party, after checking the client's request. */
export async function runJob(env: JobEnv, ctx: WorkContext): Promise<WorkResult> {
  // The account a work item came from fixes its tenant; a mismatch means a forged or misrouted item.
  if (ctx.item.tenant !== env.tenant)
    throw new PermanentFailure("unauthorized-request", "the work item names another tenant than its account");
  checkClientRequest(ctx.item, env.authorities);
  const op = ctx.item.op;
  switch (op.case) {
    case "dkg":
      return dkg(env, ctx, op.value);
    case "sign":
      return sign(env, ctx, op.value);
    case "refresh":
      return refresh(env, ctx, op.value);
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
