/**
 * The scenarios of `npm run chaos`, in the order they run. Every one runs under the same steady
 * load of DKG, sign and refresh requests and injects its fault several times.
 * @module
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  consumerFor,
  crashBroker,
  killApi,
  killLeader,
  killParty,
  killWorker,
  pauseWorker,
} from "./faults.js";
import type { Ledger } from "./load.js";
import type { ChaosContext, Scenario } from "./scenario.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** No fault: the reference for throughput and latency. */
export const baseline: Scenario = {
  name: "baseline (no fault)",
  injections: 1,
  gapMs: 10_000,
  inject: async () => undefined,
};

/** The fault scenarios that need no particular rate. */
export const faultScenarios: readonly Scenario[] = [
  {
    name: "worker SIGKILL mid-round",
    injections: 3,
    gapMs: 5000,
    inject: async (c, i) => {
      await killWorker(c.stack, 1 + (i % 3), 1 + (i % 2), 1000);
      return undefined;
    },
  },
  {
    name: "whole party SIGKILL (t < n)",
    injections: 3,
    gapMs: 5000,
    inject: async (c, i) => {
      await killParty(c.stack, 3 - (i % 3), 6000);
      return undefined;
    },
  },
  {
    name: "API SIGKILL",
    injections: 3,
    gapMs: 5000,
    inject: async (c) => {
      await killApi(c.stack, 1000);
      return undefined;
    },
  },
  {
    name: "nats-server SIGKILL: stream leader",
    injections: 3,
    gapMs: 6000,
    inject: async (c) => `killed ${await killLeader(c.stack, c.admin, 8000)}`,
  },
  {
    name: "nats-server SIGKILL: consumer leader",
    injections: 3,
    gapMs: 6000,
    inject: async (c, i) => `killed ${await killLeader(c.stack, c.admin, 8000, consumerFor(i))}`,
  },
  {
    name: "full broker restart (all nodes SIGKILL)",
    injections: 2,
    gapMs: 8000,
    inject: async (c) => {
      await crashBroker(c.stack, 2000);
      return undefined;
    },
  },
  {
    name: "worker SIGSTOP (paused 8 s)",
    injections: 3,
    gapMs: 5000,
    inject: async (c, i) => {
      await pauseWorker(c.stack, 1 + (i % 3), 2 - (i % 2), 8000);
      return i === 2 ? `slow consumers cut by the server: ${await slowConsumers(c)}` : undefined;
    },
  },
];

/** Overload: bursts at `rate` requests per second (10× the baseline's completions) on top of the load. */
export function overload(rate: number): Scenario {
  return {
    name: "overload (10× sustainable rate)",
    injections: 2,
    gapMs: 3000,
    inject: (c, _i, ledger) => burst(c, ledger, rate, 10_000),
  };
}

async function slowConsumers(c: ChaosContext): Promise<number> {
  let n = 0;
  for (const s of c.stack.broker.servers) {
    const varz = (await (await fetch(`${s.monitorUrl}/varz`)).json()) as { slow_consumers?: number };
    n += varz.slow_consumers ?? 0;
  }
  return n;
}

/** Resident memory of a process in MiB (0 when gone). */
function rssMiB(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

async function burst(c: ChaosContext, ledger: Ledger, rate: number, ms: number): Promise<string> {
  const apiPid = c.stack.processes.get("api")?.child.pid;
  const natsRss = () => c.stack.broker.servers.reduce((sum, s) => sum + rssMiB(s.pid), 0);
  const before = { api: rssMiB(apiPid), nats: natsRss() };
  const peak = { ...before };
  const sampler = setInterval(() => {
    peak.api = Math.max(peak.api, rssMiB(apiPid));
    peak.nats = Math.max(peak.nats, natsRss());
  }, 250);
  const answers = new Map<string, number>();
  const sent: Promise<void>[] = [];
  const end = Date.now() + ms;
  for (let next = Date.now(); next < end; next += 1000 / rate) {
    await sleep(Math.max(0, next - Date.now()));
    const key = c.keys[sent.length % c.keys.length]!;
    const message = randomBytes(32).toString("hex");
    sent.push(
      c.client.once(`/v1/keys/${key.id}/sign`, { message }).then((r) => {
        const answer = r.accepted ? "accepted" : r.code;
        answers.set(answer, (answers.get(answer) ?? 0) + 1);
        if (r.accepted)
          ledger.accepted.set(r.operation.id, { id: r.operation.id, type: "sign", keyId: key.id, message });
        else ledger.refuse(r.code);
      }),
    );
  }
  await Promise.all(sent);
  clearInterval(sampler);
  const answered = [...answers].map(([a, n]) => `${a} ${n}`).join(", ");
  return (
    `${sent.length} requests at ${rate}/s (${answered}); ` +
    `RSS API ${before.api}→${peak.api} MiB, nats ${before.nats}→${peak.nats} MiB`
  );
}
