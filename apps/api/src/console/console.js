// The operator console: a read-only view of the caller's tenant. It holds no data of its own and
// never stores anything: the operator loads a credential and its client seed into this tab, the
// seed becomes a non-extractable WebCrypto Ed25519 key (the text is dropped), and every API call
// is a GET signed here exactly as docs/api-auth.md specifies. Live: operation events stream from
// GET /v1/events; liveness and the audit chain are polled; everything is re-read now and then.

import { claimsOf, signedHeaders, signingKey } from "./sign.js";

const STATUS_EVERY_MS = 5000;
const FULL_EVERY_MS = 30_000;
const RECENT = 50;
const $ = (id) => document.getElementById(id);

/** A refused request: its problem type, reason and detail, as the API sent them. */
class ApiProblem extends Error {
  constructor(status, body) {
    const type = body?.type ?? `HTTP ${status}`;
    const reason = body?.reason ? ` (${body.reason})` : "";
    super(`${type}${reason}: ${body?.detail ?? "request failed"}`);
  }
}

/** A signed GET; the parsed JSON body. @throws ApiProblem */
async function get(session, target, signal) {
  const res = await fetch(target, {
    headers: await signedHeaders(session, target),
    cache: "no-store",
    credentials: "omit",
    signal,
  });
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiProblem(res.status, body);
  return body;
}

// --- rendering (text only: every value goes in through textContent) ---

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const ago = (iso) => `${Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))} s ago`;

/** One table cell: text, or `{ text, cls, title }`. */
function cell(v) {
  const td = document.createElement("td");
  const c = typeof v === "object" && v !== null ? v : { text: v };
  td.textContent = c.text === undefined || c.text === null ? "" : String(c.text);
  if (c.cls) td.className = c.cls;
  if (c.title) td.title = c.title;
  return td;
}

/** Replaces a table body's rows; `row` maps an item to its cells. */
function rows(id, items, row, empty) {
  const body = $(id);
  body.replaceChildren(
    ...items.map((item) => {
      const tr = document.createElement("tr");
      tr.dataset.id = item.id ?? "";
      tr.append(...row(item).map(cell));
      return tr;
    }),
  );
  if (items.length === 0) {
    const tr = document.createElement("tr");
    const td = cell({ text: empty, cls: "muted" });
    td.colSpan = 9;
    tr.append(td);
    body.append(tr);
  }
}

const badge = (ok, yes, no) => ({ text: ok ? yes : no, cls: ok ? "ok" : "bad" });
const statusCls = { succeeded: "ok", active: "ok", failed: "bad", pending: "warn", creating: "warn" };
const status = (s) => ({ text: s, cls: statusCls[s] ?? "" });
const failure = (op) =>
  op.error ? { text: op.error.code, cls: "bad failure", title: op.error.message } : "";

function renderStatus(view) {
  rows(
    "parties",
    view.parties,
    (p) => [p.party, badge(p.live, "live", "down"), p.liveWorkers],
    "no worker heard",
  );
  rows(
    "workers",
    view.workers,
    (w) => [w.party, w.workerId, badge(w.live, "live", "down"), ago(w.lastSeen), w.activeSessions],
    "no worker heard",
  );
  const a = view.audit;
  const text = {
    intact: `intact: all ${a.entries} entries link`,
    verifying: `verifying: ${a.verified} of ${a.entries} entries link so far`,
    broken: `BROKEN at entry ${a.brokenAt}: ${a.reason} (${a.verified} entries link before it)`,
    unavailable: `unavailable: ${a.reason ?? "not read"}`,
  }[a.status];
  const p = $("audit");
  p.textContent = `${text} — checked ${when(a.checkedAt)}`;
  p.className = { intact: "ok", broken: "bad" }[a.status] ?? "warn";
  p.dataset.status = a.status;
}

function renderKeys(keys) {
  rows(
    "keys",
    keys,
    (k) => [
      k.id,
      k.scheme,
      `${k.threshold} of ${k.parties.length}`,
      status(k.status),
      k.epoch,
      k.label,
      when(k.createdAt),
    ],
    "no keys",
  );
}

function renderOperations(ops) {
  rows(
    "operations",
    ops,
    (o) => [o.id, o.type, o.keyId, status(o.status), o.progress?.phase, failure(o), when(o.updatedAt)],
    "no operations",
  );
}

function renderDeadLetters(ops) {
  rows(
    "dead-letters",
    ops,
    (o) => [
      o.id,
      o.type,
      o.keyId,
      failure(o),
      o.error?.message,
      (o.error?.culprits ?? []).join(", "),
      when(o.updatedAt),
    ],
    "no dead letters",
  );
}

function showError(e) {
  const p = $("error");
  p.hidden = e === undefined;
  p.textContent = e === undefined ? "" : String(e.message ?? e);
}

// --- the live board ---

/** A signed-in tab: its key, what it shows, and the timers and stream to stop on sign-out. */
class Board {
  constructor(session) {
    this.session = session;
    this.operations = new Map();
    this.abort = new AbortController();
    this.timers = [];
    this.lastEventId = undefined;
    this.pendingRefresh = undefined;
  }

  async start() {
    await Promise.all([this.refreshAll(), this.refreshStatus()]);
    this.timers.push(setInterval(() => this.refreshStatus(), STATUS_EVERY_MS));
    this.timers.push(setInterval(() => this.refreshAll(), FULL_EVERY_MS));
    void this.follow();
  }

  stop() {
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.pendingRefresh);
  }

  /** Runs `fn`, showing a refusal instead of throwing; false when it failed. */
  async guarded(fn) {
    try {
      await fn();
      showError(undefined);
      $("refreshed").textContent = `refreshed ${new Date().toLocaleTimeString()}`;
      return true;
    } catch (e) {
      if (!this.abort.signal.aborted) showError(e);
      return false;
    }
  }

  refreshStatus() {
    return this.guarded(async () => renderStatus(await get(this.session, "/v1/status", this.abort.signal)));
  }

  refreshAll() {
    return this.guarded(async () => {
      const signal = this.abort.signal;
      const [keys, ops, dead] = await Promise.all([
        get(this.session, "/v1/keys", signal),
        get(this.session, `/v1/operations?limit=${RECENT}`, signal),
        get(this.session, `/v1/dead-letters?limit=${RECENT}`, signal),
      ]);
      renderKeys(keys.keys);
      this.operations = new Map(ops.operations.map((o) => [o.id, o]));
      renderOperations(ops.operations);
      renderDeadLetters(dead.operations);
    });
  }

  /** Keys and dead letters change when operations end: re-read them shortly after (coalesced). */
  soon() {
    clearTimeout(this.pendingRefresh);
    this.pendingRefresh = setTimeout(() => this.refreshAll(), 300);
  }

  /** An operation event: shown at once, newest first. */
  onOperation(op) {
    this.operations.set(op.id, op);
    const recent = [...this.operations.values()]
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
      .slice(0, RECENT);
    this.operations = new Map(recent.map((o) => [o.id, o]));
    renderOperations(recent);
    if (op.type !== "sign" || op.status !== "pending") this.soon();
  }

  /** Follows GET /v1/events (a signed fetch: EventSource cannot send headers), reconnecting. */
  async follow() {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const target = this.lastEventId === undefined ? "/v1/events" : `/v1/events?after=${this.lastEventId}`;
      try {
        const res = await fetch(target, {
          headers: await signedHeaders(this.session, target),
          cache: "no-store",
          credentials: "omit",
          signal,
        });
        if (!res.ok) throw new ApiProblem(res.status, await res.json().catch(() => undefined));
        setLive("live", "ok");
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          for (let cut = buf.indexOf("\n\n"); cut >= 0; cut = buf.indexOf("\n\n")) {
            this.onBlock(buf.slice(0, cut));
            buf = buf.slice(cut + 2);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        showError(e);
      }
      setLive("reconnecting", "warn");
      await new Promise((r) => setTimeout(r, 2000));
      if (!signal.aborted) void this.refreshAll();
    }
  }

  onBlock(block) {
    const fields = {};
    for (const line of block.split("\n")) {
      const i = line.indexOf(": ");
      if (i > 0) fields[line.slice(0, i)] = line.slice(i + 2);
    }
    if (fields.id !== undefined && /^\d+$/.test(fields.id)) this.lastEventId = fields.id;
    if (fields.event === "operation" && fields.data !== undefined) this.onOperation(JSON.parse(fields.data));
  }
}

function setLive(text, cls) {
  const b = $("live");
  b.textContent = text;
  b.className = `badge ${cls}`;
}

// --- sign-in ---

let board;

async function signIn(event) {
  event.preventDefault();
  const err = $("signin-error");
  err.hidden = true;
  const credential = $("credential").value.trim();
  const seed = $("seed").value;
  // The seed's text leaves the page now, whatever happens next.
  $("seed").value = "";
  $("files").value = "";
  try {
    const claims = claimsOf(credential);
    if (claims.role !== "auditor" && claims.role !== "admin")
      throw new Error(`a ${claims.role} credential cannot open the console: use an auditor (or admin) one`);
    const session = { credential, key: await signingKey(seed), claims };
    const candidate = new Board(session);
    // The first read proves the credential and seed belong together (the API checks the signature).
    await get(session, "/v1/status");
    $("credential").value = "";
    $("who").textContent =
      `${claims.name} · ${claims.role} · tenant ${claims.tenant} · expires ${when(claims.exp * 1000)}`;
    $("signin").hidden = true;
    $("board").hidden = false;
    $("signout").hidden = false;
    board = candidate;
    await board.start();
  } catch (e) {
    err.textContent = String(e.message ?? e);
    err.hidden = false;
  }
}

function signOut() {
  board?.stop();
  board = undefined;
  for (const id of ["parties", "workers", "keys", "operations", "dead-letters"]) $(id).replaceChildren();
  $("audit").textContent = "";
  $("refreshed").textContent = "";
  $("who").textContent = "";
  showError(undefined);
  $("board").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  setLive("signed out", "");
}

/** Files picked in the form: a seed (`SU…`) goes to the seed field, anything else to the credential. */
async function loadFiles() {
  for (const file of $("files").files ?? []) {
    const text = (await file.text()).trim();
    if (/^SU[A-Z2-7]+$/.test(text)) $("seed").value = text;
    else $("credential").value = text;
  }
}

$("signin-form").addEventListener("submit", (e) => void signIn(e));
$("signout").addEventListener("click", signOut);
$("files").addEventListener("change", () => void loadFiles());
