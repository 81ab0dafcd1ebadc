/**
 * Dead letters: work that can no longer finish on its own ends in a typed `failed` state, and the
 * failed operations are listed for operators.
 *
 * - Advisories: the broker reports every work item a party's consumer gave up on (max deliveries
 *   reached, or terminated). They are captured by the advisory stream, so none is missed while no
 *   API runs; the API instances compete on its durable consumer. When that party published no
 *   result, the operation fails with `max-deliveries` or `terminated`, the party named as culprit.
 *   A party that gave up after publishing its typed failure is left to the result aggregator.
 * - Orphans: an operation whose work item never reached the queue (the API died between writing
 *   the record and the publish, or the publish and the failure write both failed) fails with
 *   `not-enqueued` once it is older than any publish retry can be.
 * @module
 */
import {
  ADVISORY_CONSUMER,
  ADVISORY_STREAM,
  partyConsumer,
  REQUEST_STREAM,
  requestSubject,
} from "@custody/proto";
import { findResult, pullEach } from "@custody/runtime";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { ResultAggregator } from "./aggregator.js";
import { OperationIndex, type OperationPage, type OperationQuery } from "./operation-index.js";
import type { OperationRecord } from "./records.js";
import type { Repository } from "./repository.js";

/** What the broker says about a work item a consumer gave up on. */
interface ConsumerAdvisory {
  readonly type: string;
  readonly stream: string;
  readonly consumer: string;
  readonly stream_seq: number;
  readonly deliveries: number;
}

/** Advisory type of a work item that reached the consumer's max deliveries. */
const MAX_DELIVER_TYPE = "io.nats.jetstream.advisory.v1.max_deliver";

/** Dependencies and timings. */
export interface DeadLetterOptions {
  readonly js: JetStreamClient;
  readonly repo: Repository;
  readonly aggregator: ResultAggregator;
  readonly log: Logger;
  /** Age after which a pending operation without a work item is an orphan. Default 60 s (twice the publish retry). */
  readonly orphanAfterMs?: number;
  /** Interval of the orphan sweep. Default 10 s. */
  readonly sweepEveryMs?: number;
}

/** Settles dead-lettered and orphaned operations and lists failed ones. */
export class DeadLetters {
  private readonly index: OperationIndex;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private jsm: JetStreamManager | undefined;

  constructor(private readonly o: DeadLetterOptions) {
    this.index = new OperationIndex(o.repo, o.log);
  }

  /** Starts the advisory consumer, the operations index and the orphan sweep. */
  async start(): Promise<void> {
    this.jsm = await this.o.js.jetstreamManager(false);
    const consumer = await this.o.js.consumers.get(ADVISORY_STREAM, ADVISORY_CONSUMER);
    this.index.start();
    this.loop = pullEach(consumer, {
      expiresMs: 2000,
      stopped: () => this.stopped,
      log: this.o.log,
      what: "advisory",
      handle: async (msg) => {
        try {
          await this.settle(JSON.parse(new TextDecoder().decode(msg.data)) as ConsumerAdvisory);
          msg.ack();
        } catch (e) {
          this.o.log.warn({ err: String(e) }, "could not settle an advisory: retrying");
          msg.nak(1000);
        }
      },
    });
    this.sweeper = setInterval(() => void this.sweep(), this.o.sweepEveryMs ?? 10_000);
    this.sweeper.unref();
  }

  /** Stops everything. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    await this.loop;
    await this.index.stop();
  }

  /** Failed operations of `tenant`, newest first. */
  list(tenant: string, limit: number): OperationRecord[] {
    return this.index.failed(tenant, limit);
  }

  /** A page of the tenant's operations, newest first (from the operations index). */
  operations(tenant: string, q: OperationQuery): OperationPage {
    return this.index.list(tenant, q);
  }

  /** True while the operation is known to be pending (from the operations index). */
  isPending(id: string): boolean {
    return this.index.isPending(id);
  }

  /** Calls `listener` with the id of every operation seen leaving `pending`. */
  onSettled(listener: (id: string) => void): void {
    this.index.onSettled(listener);
  }

  /** Fails the operation of a given-up work item unless the party published a result for it. */
  private async settle(a: ConsumerAdvisory): Promise<void> {
    const party = Number(/^party(\d+)$/.exec(a.consumer ?? "")?.[1]);
    if (a.stream !== REQUEST_STREAM || !Number.isInteger(party) || a.consumer !== partyConsumer(party))
      return;
    const item = await this.jsm!.streams.getMessage(REQUEST_STREAM, { seq: a.stream_seq });
    const operationId = item?.subject.split(".")[3];
    if (!operationId) return;
    if (await findResult(this.o.js, operationId, party)) return;
    const maxed = a.type === MAX_DELIVER_TYPE;
    this.o.log.warn({ operationId, party, type: a.type }, "work item dead-lettered without a result");
    await this.o.aggregator.fail(operationId, {
      code: maxed ? "max-deliveries" : "terminated",
      message: maxed
        ? `party ${party} was delivered the work item ${a.deliveries} times without a result`
        : `party ${party} terminated the work item without a result`,
      culprits: [party],
    });
  }

  /** Fails old pending operations whose work item is not in the queue. */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const before = Date.now() - (this.o.orphanAfterMs ?? 60_000);
      for (const p of this.index.unconfirmedBefore(before).slice(0, 100)) {
        const item = await this.jsm!.streams.getMessage(REQUEST_STREAM, {
          last_by_subj: requestSubject(p.type, p.id),
        });
        if (item) {
          this.index.confirmEnqueued(p.id);
          continue;
        }
        this.o.log.warn({ operationId: p.id }, "operation was never enqueued: failing it");
        await this.o.aggregator.fail(p.id, {
          code: "not-enqueued",
          message: "the work item never reached the work queue",
          culprits: [],
        });
      }
    } catch (e) {
      this.o.log.warn({ err: String(e) }, "orphan sweep failed: retrying later");
    } finally {
      this.sweeping = false;
    }
  }
}
