/**
 * `custody events` follows the tenant's operation events (the API's server-sent event stream,
 * resumed after the last event seen when the connection drops) and prints one line, or one JSON
 * object with --json, per event until Ctrl-C. `custody webhooks add|list|remove` manages the
 * tenant's webhook subscriptions (admins).
 * @module
 */
import { signRequest } from "@custody/credentials";
import { ApiProblem } from "@custody/sdk";
import type { Command } from "commander";
import { action, type GlobalOpts, globals, target } from "./client.js";
import { SUMMARY } from "./summaries.js";

/** A signed request to the API; resolves with the response, throws an ApiProblem for an error answer. */
async function signed(opts: GlobalOpts, method: string, path: string, body?: unknown, signal?: AbortSignal) {
  const t = target(opts);
  const text = body === undefined ? "" : JSON.stringify(body);
  const auth = signRequest(
    t.identity.seed,
    t.identity.credential,
    method,
    path,
    new TextEncoder().encode(text),
  );
  const res = await fetch(`${t.url}${path}`, {
    method,
    signal,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...auth },
    body: body === undefined ? undefined : text,
  });
  if (res.ok) return res;
  const problem = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  throw new ApiProblem(
    res.status,
    String(problem.type ?? "about:blank"),
    String(problem.title ?? res.statusText),
    typeof problem.detail === "string" ? problem.detail : undefined,
    problem,
  );
}

/** What an event carries (the operation as GET /v1/operations/{id} returns it). */
interface OperationEvent {
  id: string;
  type: string;
  status: string;
  keyId: string;
  progress?: { phase: string; attempt: number; stored?: number; of?: number };
  error?: { code: string };
}

/** One event as a line: revision, operation, type, status, phase and its details. */
function eventLine(revision: string, op: OperationEvent): string {
  const p = op.progress;
  const details = [
    p && p.attempt > 0 ? `attempt ${p.attempt}` : "",
    p?.stored !== undefined ? `stored ${p.stored}/${p.of}` : "",
    op.error ? `error ${op.error.code}` : "",
  ].filter(Boolean);
  return `${revision} ${op.id} ${op.type} key ${op.keyId} ${op.status} ${p?.phase ?? ""}${details.length ? ` (${details.join(", ")})` : ""}`;
}

/** Reads one connection's events; returns the id of the last one (to resume after). */
async function readStream(body: ReadableStream<Uint8Array>, json: boolean, lastId: string | undefined) {
  const dec = new TextDecoder();
  let buf = "";
  let last = lastId;
  for await (const chunk of body) {
    buf += dec.decode(chunk, { stream: true });
    for (let cut = buf.indexOf("\n\n"); cut >= 0; cut = buf.indexOf("\n\n")) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let id: string | undefined;
      let data: string | undefined;
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (id === undefined || data === undefined) continue;
      last = id;
      const op = JSON.parse(data) as OperationEvent;
      console.log(json ? JSON.stringify({ id: Number(id), operation: op }) : eventLine(id, op));
    }
  }
  return last;
}

/** Follows the event stream until Ctrl-C, reconnecting after the last event seen. */
async function follow(opts: GlobalOpts & { key?: string; type?: string; after?: string }) {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  let last = opts.after;
  while (!stop.signal.aborted) {
    const query = new URLSearchParams({
      ...(opts.key ? { keyId: opts.key } : {}),
      ...(opts.type ? { type: opts.type } : {}),
      ...(last !== undefined ? { after: last } : {}),
    }).toString();
    try {
      const res = await signed(opts, "GET", `/v1/events${query ? `?${query}` : ""}`, undefined, stop.signal);
      last = await readStream(res.body!, opts.json === true, last);
    } catch (e) {
      if (stop.signal.aborted) break;
      if (e instanceof ApiProblem && e.status < 500) throw e;
      console.error(`event stream interrupted (${e instanceof Error ? e.message : String(e)}): reconnecting`);
    }
    if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A webhook subscription as the API lists it. */
interface Webhook {
  id: string;
  url: string;
  events?: string[];
  createdAt: string;
  delivery?: {
    lastAttemptAt?: string;
    lastStatus?: number;
    lastError?: string;
    consecutiveFailures: number;
    nextRetryAt?: string;
    delivered: number;
    givenUp: number;
  };
}

function webhookLine(w: Webhook): string {
  const d = w.delivery;
  const state = d
    ? [
        `delivered ${d.delivered}`,
        d.consecutiveFailures > 0 ? `failing ${d.consecutiveFailures}x (${d.lastError ?? d.lastStatus})` : "",
        d.nextRetryAt ? `retry ${d.nextRetryAt}` : "",
        d.givenUp > 0 ? `given up ${d.givenUp}` : "",
      ]
        .filter(Boolean)
        .join(", ")
    : "";
  return `${w.id}  ${w.url}  events ${w.events?.join(",") ?? "all"}${state ? `  ${state}` : ""}`;
}

/** Adds `events` and `webhooks` to `program`. */
export function registerEventCommands(program: Command): void {
  globals(
    program
      .command("events")
      .description(SUMMARY.events)
      .option("--key <id>", "only this key's operations")
      .option("--type <type>", "dkg, sign or refresh")
      .option("--after <revision>", "start after this event id (default: from now on)"),
  ).action(action(async (o: GlobalOpts & { key?: string; type?: string; after?: string }) => follow(o)));

  const webhooks = program.command("webhooks").description(SUMMARY.webhooks);
  globals(
    webhooks
      .command("add")
      .description("subscribe a URL to the tenant's operation events (admins)")
      .argument("<url>")
      .option("--events <types>", "comma-separated: created, progress, succeeded, failed (default: all)"),
  ).action(
    action(async (url: string, o: GlobalOpts & { events?: string }) => {
      const body = { url, ...(o.events ? { events: o.events.split(",").map((e) => e.trim()) } : {}) };
      const w = (await (await signed(o, "POST", "/v1/webhooks", body)).json()) as Webhook;
      console.log(
        o.json ? JSON.stringify(w) : `webhook ${w.id} -> ${w.url} (events ${w.events?.join(",") ?? "all"})`,
      );
    }),
  );
  globals(webhooks.command("list").description("the tenant's webhooks with their delivery state")).action(
    action(async (o: GlobalOpts) => {
      const { webhooks: list } = (await (await signed(o, "GET", "/v1/webhooks")).json()) as {
        webhooks: Webhook[];
      };
      if (o.json) console.log(JSON.stringify(list));
      else if (list.length === 0) console.log("no webhooks");
      else for (const w of list) console.log(webhookLine(w));
    }),
  );
  globals(webhooks.command("remove").description("remove a webhook (admins)").argument("<id>")).action(
    action(async (id: string, o: GlobalOpts) => {
      await signed(o, "DELETE", `/v1/webhooks/${encodeURIComponent(id)}`);
      console.log(o.json ? JSON.stringify({ removed: id }) : `removed webhook ${id}`);
    }),
  );
}
