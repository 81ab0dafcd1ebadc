/**
 * The faults the chaos suite injects into a running stack: real signals to real processes.
 * Each returns once the fault is over (the process is back), so the next one starts from a whole
 * system; the time a fault lasts is part of what recovery is measured against.
 * @module
 */
import { partyConsumer, REQUEST_STREAM } from "@custody/proto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Stack } from "../../src/index.js";
import { leaderOf } from "../broker.js";
import { workerName } from "../helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGKILLs one worker of `party` (with work in flight under load), restarts it after `downMs`. */
export async function killWorker(stack: Stack, party: number, worker: number, downMs: number) {
  await stack.kill(workerName(party, worker));
  await sleep(downMs);
  stack.startWorker(party, worker);
}

/** SIGKILLs every worker of `party`, restarts them after `downMs`, waits until the party is live. */
export async function killParty(stack: Stack, party: number, downMs: number) {
  const workers = Array.from({ length: stack.options.workers }, (_, i) => i + 1);
  await Promise.all(workers.map((w) => stack.kill(workerName(party, w))));
  await sleep(downMs);
  for (const w of workers) stack.startWorker(party, w);
  await stack.waitReady(undefined, 60_000);
}

/** SIGKILLs the API and starts it again on the same port. */
export async function killApi(stack: Stack, downMs: number) {
  await stack.kill("api");
  await sleep(downMs);
  await stack.startApi();
}

/** SIGKILLs the nats-server that leads `stream` (or its `consumer`), restarts it after `downMs`. */
export async function killLeader(
  stack: Stack,
  admin: NatsConnection,
  downMs: number,
  consumer?: string,
): Promise<string> {
  const leader = await leaderOf(admin, REQUEST_STREAM, consumer);
  const node = stack.broker.node(leader);
  await node.crash();
  await sleep(downMs);
  await node.restart();
  return leader;
}

/** The party consumer to target for the `i`-th consumer-leader kill. */
export const consumerFor = (i: number) => partyConsumer(1 + (i % 3));

/** SIGKILLs every nats-server at once, then starts them all again. */
export async function crashBroker(stack: Stack, downMs: number) {
  await stack.broker.crash();
  await sleep(downMs);
  await stack.broker.restart();
}

/** SIGSTOPs one worker for `pausedMs`, then SIGCONTs it. */
export async function pauseWorker(stack: Stack, party: number, worker: number, pausedMs: number) {
  stack.signal(workerName(party, worker), "SIGSTOP");
  await sleep(pausedMs);
  stack.signal(workerName(party, worker), "SIGCONT");
}
