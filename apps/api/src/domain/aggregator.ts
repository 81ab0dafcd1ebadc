/**
 * Folds the parties' results into operation and key records. Runs in every API instance; they
 * compete on one durable consumer of the result stream, and every update is compare-and-set, so a
 * redelivered result changes nothing twice.
 *
 * - DKG and refresh: once every party stored its share from the same session with the same public
 *   key (unchanged, for a refresh), the API publishes an activation work item carrying every
 *   party's signed confirmation; each party checks all of them itself, switches to the new epoch and
 *   purges the others. The key becomes active (DKG) or moves to the new epoch (refresh) as soon as
 *   the activation is published (the epoch is final then); the operation succeeds when every party
 *   reported it activated. Until the activation, and after a failure before it, the old epoch signs.
 * - Sign succeeds with the first signature that passes the API's own check (a signer of the
 *   operation, the operation's epoch, the key's or derived key's public key, verified over the
 *   message); a result that fails it is audited and fails that party's report, not the operation.
 *   A signing batch succeeds with the first party's batch whose every signature passes that check
 *   against its own item.
 * - Any party's permanent failure fails the operation with that party's typed reason.
 * - Progress (`operation.progress`): a party starting a session attempt moves `queued` to
 *   `session`; each stored share counts in `stored` (k of n); publishing the activation moves it to
 *   `activating`; the end sets the terminal status. The phase never moves back, `attempt` (the
 *   highest delivery count a party started a session at) never decreases, and an operation that
 *   ended never changes again. A progress report counts only from its party's progress subject.
 * @module
 */
import {
  ACTIVATION_SUFFIX,
  ActivateWorkSchema,
  activationOperationId,
  create,
  fromBinary,
  OperationEventSchema,
  operationEventSubject,
  progressSubject,
  RESULT_CONSUMER,
  RESULT_STREAM,
  requestSubject,
  ShareConfirmationSchema,
  toBinary,
  WorkItemSchema,
  type WorkResult,
  WorkResultSchema,
} from "@custody/proto";
import { publishDurably, pullEach } from "@custody/runtime";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type {
  KeyRecord,
  OperationError,
  OperationProgress,
  OperationRecord,
  ProgressPhase,
} from "./records.js";
import type { Repository } from "./repository.js";
import {
  checkBatchResult,
  checkSignatureResult,
  type Refusal,
  type ReportedSignature,
} from "./result-check.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** The DKG or refresh an activation belongs to (results and dead letters of it count for that). */
const parentOf = (operationId: string) =>
  operationId.endsWith(ACTIVATION_SUFFIX) ? operationId.slice(0, -ACTIVATION_SUFFIX.length) : operationId;
const now = () => new Date().toISOString();
/** The refusal of a signature result for an operation whose key is unknown. */
const unknownKey: Refusal = {
  ok: false,
  code: "bad-result-operation",
  message: "the operation names an unknown key",
};
/** Deliveries of one result before it is dropped as unusable. */
const MAX_RESULT_DELIVERIES = 30;

/**
 * A result that can never apply (its operation does not exist even at the stream leader). Dropped
 * at once: results reach the API instances one at a time, so a retried one holds up all others.
 */
export class UnusableResultError extends Error {
  override readonly name = "UnusableResultError";
}
/** Order of the phases of a running operation (a phase never moves back). */
const PHASE_RANK: Record<ProgressPhase, number> = {
  queued: 0,
  session: 1,
  stored: 2,
  activating: 3,
  succeeded: 4,
  failed: 4,
};
/** Progress of a record written before any (it reads as queued). */
const progressOf = (op: OperationRecord): OperationProgress =>
  op.progress ?? { phase: "queued", attempt: 0, at: op.createdAt };
/** `op`'s progress moved forward to `phase` (never back), with the other fields changed. */
const advance = (
  op: OperationRecord,
  phase: ProgressPhase,
  change: Partial<Omit<OperationProgress, "phase" | "at">> = {},
): OperationProgress => {
  const cur = progressOf(op);
  return {
    ...cur,
    ...change,
    phase: PHASE_RANK[phase] >= PHASE_RANK[cur.phase] ? phase : cur.phase,
    at: now(),
  };
};

/**
 * True when a result came on the subject its outcome belongs on: a progress report only on its
 * party's progress subject, and nothing else there (a party cannot disguise a result as progress).
 */
export function onItsSubject(r: WorkResult, subject: string): boolean {
  const progress = subject === progressSubject(r.operationId, r.party);
  return r.outcome.case === "progress" ? progress : !subject.endsWith(".progress");
}

/** Consumes results until stopped. */
export class ResultAggregator {
  private stopped = false;
  private loop: Promise<void> | undefined;

  /** Called once when an operation reaches its terminal state (e.g. to append it to the audit trail). */
  onTerminal?: (op: OperationRecord) => void;
  /** Called for every party result the API refused (e.g. to append it to the audit trail). */
  onRejectedResult?: (op: OperationRecord, party: number, code: string) => void;
  /** Called when an operation's progress leaves a phase, with the seconds it spent there (e.g. for metrics). */
  onPhaseLeft?: (op: OperationRecord, phase: ProgressPhase, seconds: number) => void;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly repo: Repository,
    private readonly log: Logger,
  ) {}

  /** Starts consuming. */
  async start(): Promise<void> {
    const consumer = await this.js.consumers.get(RESULT_STREAM, RESULT_CONSUMER);
    this.loop = pullEach(consumer, {
      expiresMs: 2000,
      stopped: () => this.stopped,
      log: this.log,
      what: "result",
      handle: async (msg) => {
        try {
          const r = fromBinary(WorkResultSchema, msg.data);
          if (onItsSubject(r, msg.subject)) await this.apply(r);
          else this.log.warn({ subject: msg.subject }, "result on a subject it does not belong on: dropped");
          msg.ack();
        } catch (e) {
          if (e instanceof UnusableResultError) {
            this.log.warn({ err: String(e), subject: msg.subject }, "unusable result: dropped");
            msg.term();
          } else if (msg.info.deliveryCount >= MAX_RESULT_DELIVERIES) {
            this.log.error({ err: String(e), subject: msg.subject }, "could not apply a result: dropped");
            msg.term();
          } else {
            this.log.warn({ err: String(e), subject: msg.subject }, "could not apply a result: retrying");
            msg.nak(1000);
          }
        }
      },
    });
  }

  /**
   * Fails a pending operation with a reason no party reported (a dead-lettered or never enqueued
   * work item), with the same side effects as a party's failure. No-op once it left `pending`.
   */
  async fail(operationId: string, error: OperationError): Promise<void> {
    const op = await this.repo.knownOperation(parentOf(operationId));
    if (op?.status === "pending") await this.finish(op, { status: "failed", error });
  }

  /** Stops consuming. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /**
   * A compare-and-set update of an operation, starting from `basis` (a record the repository
   * returned), that reports the phase it left, if it moved.
   */
  private async update(
    basis: OperationRecord,
    change: (cur: OperationRecord) => OperationRecord | undefined,
  ): Promise<OperationRecord | undefined> {
    let before: OperationRecord | undefined;
    const after = await this.repo.updateOperation(
      basis.id,
      (cur) => {
        before = cur;
        return change(cur);
      },
      basis,
    );
    if (after && before && this.onPhaseLeft) {
      const from = progressOf(before);
      const to = progressOf(after);
      if (from.phase !== to.phase)
        this.onPhaseLeft(after, from.phase, Math.max(0, (Date.parse(to.at) - Date.parse(from.at)) / 1000));
    }
    return after;
  }

  /** Applies one party result (idempotent). */
  async apply(r: WorkResult): Promise<void> {
    const op = await this.repo.knownOperation(parentOf(r.operationId));
    // The record is written before the work item is published, so a result cannot precede it; a
    // miss is a replica that has not caught up yet (retried) or garbage (the leader has no record
    // either: dropped at once).
    if (!op) {
      if (!(await this.repo.operationOnLeader(parentOf(r.operationId))))
        throw new UnusableResultError(`result for an unknown operation ${r.operationId}`);
      throw new Error(`result for operation ${r.operationId} before its record reached this replica`);
    }
    if (op.status !== "pending") return;
    const party = String(r.party);
    const o = r.outcome;
    switch (o.case) {
      case "failure":
        return this.finish(
          op,
          {
            status: "failed",
            error: { code: o.value.code, message: o.value.message, culprits: [...o.value.culprits] },
          },
          { party, report: "failed" },
        );
      case "skipped":
        // A sign's non-signers skip by definition (participants are the signers): nothing to record.
        if (op.type === "sign") return;
        await this.update(op, (cur) =>
          cur.status !== "pending" || cur.reports[party] === "skipped"
            ? undefined
            : { ...cur, reports: { ...cur.reports, [party]: "skipped" } },
        );
        return;
      case "signature":
        return this.signature(op, r.party, {
          signature: hex(o.value.signature),
          publicKey: hex(o.value.publicKey),
          epoch: o.value.epoch,
          recoveryId: o.value.recoveryId,
          der: o.value.der.length > 0 ? hex(o.value.der) : undefined,
        });
      case "signatureBatch":
        return this.signatureBatch(
          op,
          r.party,
          o.value.signatures.map((v) => ({
            signature: hex(v.signature),
            publicKey: hex(v.publicKey),
            epoch: v.epoch,
            recoveryId: v.recoveryId,
            der: v.der.length > 0 ? hex(v.der) : undefined,
          })),
        );
      case "shareStored":
        return this.shareStored(op, party, {
          epoch: o.value.epoch,
          publicKey: hex(o.value.publicKey),
          chainCode: hex(o.value.chainCode),
          derivationKey: hex(o.value.derivationKey),
          session: hex(o.value.sessionId),
          confirmation: hex(o.value.confirmation),
        });
      case "activated":
        return this.activated(op, party);
      case "progress":
        return this.progress(op, r.party, o.value.phase, o.value.attempt);
      default:
        this.log.warn({ operationId: r.operationId }, "result without outcome");
    }
  }

  private async shareStored(
    op: OperationRecord,
    party: string,
    r: {
      epoch: number;
      publicKey: string;
      chainCode: string;
      derivationKey: string;
      session: string;
      confirmation: string;
    },
  ) {
    const { epoch, publicKey, chainCode, derivationKey, session, confirmation } = r;
    const updated = await this.update(op, (cur) =>
      cur.status !== "pending" || cur.reports[party] === "stored"
        ? undefined
        : {
            ...cur,
            reports: { ...cur.reports, [party]: "stored" },
            sessions: {
              ...cur.sessions,
              [party]: `${session}:${publicKey}:${chainCode}:${derivationKey}:${epoch}`,
            },
            confirmations: { ...cur.confirmations, [party]: confirmation },
            progress: advance(cur, "stored", {
              stored: cur.participants.filter(
                (p) => String(p) === party || cur.reports[String(p)] === "stored",
              ).length,
              of: cur.participants.length,
            }),
            updatedAt: now(),
          },
    );
    if (updated?.status !== "pending") return;
    const stored = updated.participants.filter((p) => updated.reports[String(p)] === "stored");
    if (stored.length < updated.participants.length) return;
    const views = new Set(Object.values(updated.sessions ?? {}));
    if (views.size !== 1) {
      return this.finish(updated, {
        status: "failed",
        error: {
          code: "inconsistent-results",
          message: "parties reported different sessions or keys",
          culprits: [],
        },
      });
    }
    const key = await this.repo.getKey(updated.keyId);
    if (!key) throw new Error(`operation ${updated.id} names an unknown key`);
    if (updated.type === "refresh" && key.publicKey !== publicKey) {
      return this.finish(updated, {
        status: "failed",
        error: { code: "public-key-changed", message: "refresh produced another public key", culprits: [] },
      });
    }
    await this.publishActivation(updated, key.scheme, epoch, session);
    await this.update(updated, (cur) =>
      cur.status !== "pending" || progressOf(cur).phase === "activating"
        ? undefined
        : { ...cur, progress: advance(cur, "activating"), updatedAt: now() },
    );
    await this.commitKey(updated, epoch);
  }

  /**
   * A party started a session attempt: `queued` becomes `session`, and `attempt` rises to the
   * highest delivery count reported. Only parties of the operation count; nothing changes once
   * the operation ended, and a repeat or an older attempt changes nothing.
   */
  private async progress(op: OperationRecord, party: number, phase: string, attempt: number) {
    if (phase !== "session" || !op.participants.includes(party)) {
      this.log.warn({ operationId: op.id, party, phase }, "progress report ignored");
      return;
    }
    await this.update(op, (cur) => {
      const p = progressOf(cur);
      if (cur.status !== "pending" || (attempt <= p.attempt && PHASE_RANK[p.phase] >= PHASE_RANK.session))
        return undefined;
      return {
        ...cur,
        progress: advance(cur, "session", { attempt: Math.max(attempt, p.attempt) }),
        updatedAt: now(),
      };
    });
  }

  /** Asks every party to activate the shares of `session` at `epoch`, with every party's confirmation. */
  private async publishActivation(op: OperationRecord, scheme: string, epoch: number, session: string) {
    const id = activationOperationId(op.id);
    const item = create(WorkItemSchema, {
      operationId: id,
      keyId: op.keyId,
      scheme,
      tenant: op.tenant,
      createdAtMs: BigInt(Date.now()),
      op: {
        case: "activate",
        value: create(ActivateWorkSchema, {
          epoch,
          sessionId: Buffer.from(session, "hex"),
          confirmations: Object.entries(op.confirmations ?? {}).map(([p, sig]) =>
            create(ShareConfirmationSchema, { party: Number(p), signature: Buffer.from(sig, "hex") }),
          ),
        }),
      },
    });
    // The same message id on every attempt: a redelivered last result publishes one activation.
    await publishDurably(this.js, requestSubject("activate", id), toBinary(WorkItemSchema, item), id, {
      retryForMs: 30_000,
    });
  }

  /** A party's signature becomes the result only if the API's own check passes; else that party's report fails. */
  private async signature(op: OperationRecord, party: number, sig: ReportedSignature) {
    const key = await this.repo.keyIdentity(op.keyId);
    const check = key ? checkSignatureResult(key, op, party, sig) : unknownKey;
    if (!check.ok) return this.rejected(op, party, check.code);
    return this.finish(
      op,
      {
        status: "succeeded",
        signature: { ...sig, keyId: op.keyId, publicKey: check.publicKey, path: op.request?.path },
      },
      { party: String(party), report: "signed" },
    );
  }

  /**
   * A party's batch of signatures becomes the result only if every one of them passes the API's
   * own check against its item; else that party's report fails.
   */
  private async signatureBatch(op: OperationRecord, party: number, sigs: ReportedSignature[]) {
    const key = await this.repo.keyIdentity(op.keyId);
    const check = key ? checkBatchResult(key, op, party, sigs) : unknownKey;
    if (!check.ok) return this.rejected(op, party, check.code);
    const items = op.request?.items ?? [];
    return this.finish(
      op,
      {
        status: "succeeded",
        signatures: sigs.map((sig, i) => ({
          ...sig,
          keyId: op.keyId,
          publicKey: check.publicKeys[i]!,
          path: items[i]?.path,
        })),
      },
      { party: String(party), report: "signed" },
    );
  }

  /** Records that the API refused `party`'s result (audited; the operation stays pending). */
  private async rejected(op: OperationRecord, party: number, code: string) {
    this.log.warn({ operationId: op.id, party, code }, "party result refused");
    this.onRejectedResult?.(op, party, code);
    await this.update(op, (cur) =>
      cur.status !== "pending"
        ? undefined
        : {
            ...cur,
            reports: { ...cur.reports, [String(party)]: `rejected:${code}` },
            updatedAt: now(),
          },
    );
  }

  /**
   * Once every party stored the same share, the epoch is final: the n signed confirmations exist
   * and every party will activate it. The key moves at once (DKG: active; refresh: next epoch), so
   * signing follows the parties that activated already; a party that has not yet activated retries
   * a work item for the new epoch until its activation arrives.
   */
  private async commitKey(op: OperationRecord, epoch: number) {
    const [view] = Object.values(op.sessions ?? {});
    const [, publicKey = "", chainCode = "", derivationKey = ""] = (view ?? "").split(":");
    if (op.type === "dkg")
      await this.repo.updateKey(op.keyId, (k) =>
        k.status === "creating"
          ? {
              ...k,
              status: "active",
              publicKey,
              chainCode: chainCode || undefined,
              derivationKey: derivationKey || undefined,
              epoch,
              updatedAt: now(),
            }
          : undefined,
      );
    else
      await this.repo.updateKey(op.keyId, (k: KeyRecord) =>
        k.epoch < epoch ? { ...k, epoch, refreshing: undefined, updatedAt: now() } : undefined,
      );
  }

  /** The operation succeeds when every party reported it activated the new epoch. */
  private async activated(op: OperationRecord, party: string) {
    const updated = await this.update(op, (cur) =>
      cur.status !== "pending" || cur.reports[party] === "activated"
        ? undefined
        : { ...cur, reports: { ...cur.reports, [party]: "activated" }, updatedAt: now() },
    );
    if (updated?.status !== "pending") return;
    if (!updated.participants.every((p) => updated.reports[String(p)] === "activated")) return;
    return this.finish(updated, { status: "succeeded" });
  }

  private async finish(
    op: OperationRecord,
    outcome: Pick<OperationRecord, "status"> & Partial<OperationRecord>,
    report?: { party: string; report: string },
  ): Promise<void> {
    let transitioned = false;
    const done = await this.update(op, (cur) => {
      transitioned = cur.status === "pending";
      return !transitioned
        ? undefined
        : {
            ...cur,
            ...outcome,
            reports: report ? { ...cur.reports, [report.party]: report.report } : cur.reports,
            progress: advance(cur, outcome.status === "succeeded" ? "succeeded" : "failed"),
            updatedAt: now(),
          };
    });
    if (!done || done.status === "pending") return;
    if (transitioned) this.onTerminal?.(done);
    if (done.status === "failed") {
      if (done.type === "dkg")
        await this.repo.updateKey(done.keyId, (k) =>
          k.status === "creating" ? { ...k, status: "failed", updatedAt: now() } : undefined,
        );
      if (done.type === "refresh")
        await this.repo.updateKey(done.keyId, (k) =>
          k.refreshing === done.id ? { ...k, refreshing: undefined, updatedAt: now() } : undefined,
        );
    }
    this.nc.publish(
      operationEventSubject(done.id),
      toBinary(
        OperationEventSchema,
        create(OperationEventSchema, { operationId: done.id, status: done.status }),
      ),
    );
  }
}
