/**
 * What a party does for each kind of work item: DKG, sign, refresh. Each job loads what it needs,
 * runs one protocol session through the runtime and returns the party's result. Scheme maths stays
 * behind the `Scheme` interface.
 * @module
 */
import { ProtocolError, type Scheme } from "@custody/core";
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
  type WorkContext,
} from "@custody/runtime";
import type { ShareStore } from "@custody/store";
import type { NatsConnection } from "@nats-io/transport-node";

/** Everything a job needs from its worker. */
export interface JobEnv {
  readonly nc: NatsConnection;
  readonly party: number;
  readonly workerId: string;
  readonly store: ShareStore;
  /** The party's long-term identity (signs every protocol message). */
  readonly identity: PartyIdentity;
  /** Every party's identity key. */
  readonly directory: PartyDirectory;
  readonly schemes: ReadonlyMap<string, Scheme<unknown>>;
  /** Round inactivity timeout for sessions. */
  readonly roundTimeoutMs?: number;
  /** Join barrier timeout for sessions. */
  readonly joinTimeoutMs?: number;
  /** Builds the session host (in-process by default; a thread host for CPU-heavy schemes). */
  readonly hostFor?: <T>(
    scheme: Scheme<unknown>,
    self: number,
    begin: () => import("@custody/core").Step<T>,
  ) => SessionHost<T>;
}

const result = (item: WorkItem, party: number, outcome: WorkResult["outcome"]): WorkResult =>
  create(WorkResultSchema, { operationId: item.operationId, party, outcome });

const skipped = (item: WorkItem, party: number, reason: string) =>
  result(item, party, { case: "skipped", value: create(SkippedSchema, { reason }) });

function schemeOf(env: JobEnv, item: WorkItem): Scheme<unknown> {
  const s = env.schemes.get(item.scheme);
  if (!s) throw new PermanentFailure("unsupported-scheme", `scheme ${item.scheme} is not supported`);
  return s;
}

async function session<T>(
  env: JobEnv,
  ctx: WorkContext,
  scheme: Scheme<unknown>,
  participants: number[],
  begin: (sid: Uint8Array) => import("@custody/core").Step<T>,
) {
  return runSession<T>({
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
    host: (sid) =>
      env.hostFor
        ? env.hostFor(scheme, env.party, () => begin(sid))
        : inProcessHost(env.party, () => begin(sid), scheme.maxRounds),
  });
}

async function loadShare(
  env: JobEnv,
  scheme: Scheme<unknown>,
  keyId: string,
  epoch: number,
): Promise<unknown> {
  const stored = await env.store.get(keyId, epoch);
  if (!stored) throw new PermanentFailure("share-not-found", `no share of key ${keyId} at epoch ${epoch}`);
  if (stored.scheme !== scheme.name)
    throw new PermanentFailure("scheme-mismatch", "stored share has another scheme");
  return scheme.decodeShare(stored.share);
}

async function dkg(env: JobEnv, ctx: WorkContext, work: DkgWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!work.parties.includes(env.party)) return skipped(item, env.party, "not a party of this key");
  const scheme = schemeOf(env, item);
  const out = await session(env, ctx, scheme, work.parties, (sessionId) =>
    scheme.keygen({ sessionId, self: env.party, parties: work.parties, threshold: work.threshold }),
  );
  await env.store.put(item.keyId, 0, scheme.name, scheme.encodeShare(out.result));
  const info = scheme.info(out.result);
  return result(item, env.party, {
    case: "shareStored",
    value: create(ShareStoredSchema, {
      epoch: 0,
      publicKey: info.publicKey,
      chainCode: info.chainCode ?? new Uint8Array(),
      derivationKey: info.derivationKey ?? new Uint8Array(),
      sessionId: out.sessionId,
    }),
  });
}

async function sign(env: JobEnv, ctx: WorkContext, work: SignWork): Promise<WorkResult> {
  const { item } = ctx;
  if (!work.signers.includes(env.party)) return skipped(item, env.party, "not in the signer set");
  const scheme = schemeOf(env, item);
  const path = work.path.length > 0 ? work.path : undefined;
  scheme.checkSignInput(work.message, path);
  const share = await loadShare(env, scheme, item.keyId, work.epoch);
  const out = await session(env, ctx, scheme, work.signers, (sessionId) =>
    scheme.sign({ sessionId, self: env.party, share, signers: work.signers, message: work.message, path }),
  );
  const sig = out.result;
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
  const share = await loadShare(env, scheme, item.keyId, work.fromEpoch);
  const out = await session(env, ctx, scheme, work.parties, (sessionId) =>
    scheme.refresh({ sessionId, self: env.party, share }),
  );
  const epoch = work.fromEpoch + 1;
  await env.store.put(item.keyId, epoch, scheme.name, scheme.encodeShare(out.result));
  const info = scheme.info(out.result);
  return result(item, env.party, {
    case: "shareStored",
    value: create(ShareStoredSchema, {
      epoch,
      publicKey: info.publicKey,
      chainCode: info.chainCode ?? new Uint8Array(),
      derivationKey: info.derivationKey ?? new Uint8Array(),
      sessionId: out.sessionId,
    }),
  });
}

/** Runs one work item for this party. */
export async function runJob(env: JobEnv, ctx: WorkContext): Promise<WorkResult> {
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
