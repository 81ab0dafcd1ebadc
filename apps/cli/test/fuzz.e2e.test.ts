/**
 * Fuzzing the HTTP API with thousands of generated bodies, paths and queries, all correctly signed
 * (including quotes, spaces, non-ASCII and every other character fetch re-encodes in paths and
 * queries), so they reach validation: every request gets exactly the status a small model of the
 * API's validation predicts, every refusal is an RFC 9457 problem, no correctly signed request gets
 * 401, nothing gets a 5xx or hangs, and no key or operation appears.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { canonicalPath, signRequest } from "@custody/credentials";
import { CustodyClient } from "@custody/sdk";
import type { Stack } from "../src/index.js";
import { startTestStack, stopTestStack } from "./helpers.js";

let stack: Stack | undefined;
let api: CustodyClient;
let keyId: string;

before(async () => {
  stack = await startTestStack({ parties: 3 });
  api = new CustodyClient(stack.apiUrl, stack.admin);
  const op = await api.wait(await api.createKey({ scheme: "ed25519", threshold: 2, parties: 3 }), 60_000);
  keyId = op.keyId;
});
after(() => stopTestStack(stack));

/** A small seeded generator (xorshift), so a failure can be reproduced from its case number. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function value(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * (depth > 2 ? 7 : 9));
  const strs = [
    "",
    "ed25519",
    "ecdsa-secp256k1",
    "bip340",
    "m/0",
    "m/0'",
    "zz",
    "00",
    "ab".repeat(40),
    "\u0000",
    "💥",
    "m/4294967296",
    "-1",
    "1e309",
  ];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [0, -1, 1, 2, 3, 255, 256, 2 ** 31, 2 ** 53, -0.5, 1e308][Math.floor(r() * 11)];
    case 3:
      return strs[Math.floor(r() * strs.length)];
    case 4:
      return "x".repeat(Math.floor(r() * 5000));
    case 5:
      return Math.floor(r() * 1000);
    case 6:
      return (r() * 1e6).toString(16);
    case 7:
      return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    default: {
      const keys = [
        "scheme",
        "threshold",
        "parties",
        "label",
        "message",
        "path",
        "__proto__",
        "constructor",
        "extra",
      ];
      const o: Record<string, unknown> = {};
      for (const k of keys) if (r() < 0.4) o[k] = value(r, depth + 1);
      return o;
    }
  }
}

function isValidCreate(b: unknown): boolean {
  if (!b || typeof b !== "object" || Array.isArray(b)) return false;
  const o = b as Record<string, unknown>;
  const allowed = new Set(["scheme", "threshold", "parties", "label"]);
  return (
    Object.keys(o).every((k) => allowed.has(k)) &&
    ["ed25519", "bip340", "ecdsa-secp256k1"].includes(o.scheme as string) &&
    Number.isInteger(o.threshold) &&
    Number.isInteger(o.parties) &&
    (o.threshold as number) >= 2 &&
    (o.threshold as number) <= (o.parties as number)
  );
}

function isValidSign(b: unknown): boolean {
  if (!b || typeof b !== "object" || Array.isArray(b)) return false;
  const o = b as Record<string, unknown>;
  return (
    typeof o.message === "string" &&
    /^([0-9a-fA-F]{2})*$/.test(o.message) &&
    o.path === undefined &&
    Object.keys(o).length === 1
  );
}

async function send(method: string, path: string, text: string | undefined) {
  const headers = signRequest(
    stack!.admin.seed,
    stack!.admin.credential,
    method,
    path,
    new TextEncoder().encode(text ?? ""),
  );
  // The raw target goes to fetch, which re-encodes some characters: the API must still accept it.
  const res = await fetch(`${stack!.apiUrl}${path}`, {
    method,
    headers: { ...(text !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: text,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

/** Fastify's default longest path parameter (decoded characters). */
const MAX_PARAM = 100;
const ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The path parameter the router sees: the decoded `index`th segment of what fetch sends. */
function param(path: string, index: number): string | undefined {
  try {
    return decodeURIComponent(new URL(path, "http://127.0.0.1").pathname.split("/")[index] ?? "");
  } catch {
    return undefined;
  }
}

/** The status of GET /v1/keys/{id} or /v1/operations/{id}?wait=..., for ids that name nothing. */
function expectedRead(path: string): number {
  const id = param(path, 3);
  if (id === undefined) return 400;
  if (id.length > MAX_PARAM) return 414;
  if (!ID.test(id)) return 400;
  const query = new URL(path, "http://127.0.0.1").searchParams;
  if (path.startsWith("/v1/operations/")) {
    const keys = [...query.keys()];
    const w = query.get("wait") ?? "";
    // The query schema: only `wait`, a number 0..60 (a numeric string is coerced).
    if (keys.some((k) => k !== "wait") || keys.length > 1) return 400;
    if (keys.length === 1 && (w === "" || Number.isNaN(Number(w)) || Number(w) < 0 || Number(w) > 60))
      return 400;
  }
  return 404;
}

const problems: string[] = [];

/** Sends one case and checks its status against the expected one (collected, asserted at the end). */
async function check(
  label: string,
  method: string,
  path: string,
  text: string | undefined,
  expected: number,
) {
  const res = await send(method, path, text);
  const what = `${label}: ${method} ${JSON.stringify(path).slice(0, 160)} ${text?.slice(0, 60) ?? ""}`;
  if (res.status === 401)
    problems.push(`${what} -> 401 for a correctly signed request: ${res.body.slice(0, 200)}`);
  else if (res.status !== expected)
    problems.push(`${what} -> ${res.status}, expected ${expected}: ${res.body.slice(0, 200)}`);
  if (res.status >= 400) {
    assert.match(res.type, /^application\/problem\+json/, `${what} -> ${res.status} ${res.type}`);
    const p = JSON.parse(res.body) as { type: string; status: number };
    assert.match(p.type, /^urn:custody:problem:[a-z-]+$/);
    assert.equal(p.status, res.status);
  }
  return res;
}

test("thousands of generated request bodies get their expected 4xx problems, never a 5xx", async () => {
  const before = (await api.listKeys()).length;
  const r = rng(20261127);
  const raw = ["{", "[]", "null", "1", '"s"', '{"scheme":', "\u0000", "{}".repeat(1000)];
  let cases = 0;
  for (let i = 0; i < 2400; i++) {
    const target = i % 3;
    let body = value(r);
    if (target === 0 && isValidCreate(body)) (body as Record<string, unknown>).threshold = 0;
    if (target === 1 && isValidSign(body)) body = { ...(body as object), extra: 1 };
    const text = r() < 0.05 ? raw[Math.floor(r() * raw.length)] : JSON.stringify(body);
    const path =
      target === 0
        ? "/v1/keys"
        : target === 1
          ? `/v1/keys/${keyId}/sign`
          : [
              `/v1/keys/${encodeURIComponent(JSON.stringify(value(r)) ?? "u")}`,
              `/v1/operations/${encodeURIComponent(JSON.stringify(value(r)) ?? "u")}?wait=${encodeURIComponent(JSON.stringify(value(r)) ?? "")}`,
            ][i % 2]!;
    const method = target === 2 ? "GET" : "POST";
    // Every body is invalid by construction (valid ones were spoiled above): 400, whatever the path.
    await check(
      `case ${i}`,
      method,
      path,
      method === "GET" ? undefined : text,
      target === 2 ? expectedRead(path) : 400,
    );
    cases++;
  }
  assert.equal(cases, 2400);
  assert.deepEqual(problems.splice(0), [], "every request got its expected status");
  assert.equal((await api.listKeys()).length, before, "no key appeared");
  assert.equal((await fetch(`${stack!.apiUrl}/healthz`)).status, 200);
});

/** Characters of generated targets: printable ASCII (quotes included) and some non-ASCII. */
const ALPHABET = [
  ...Array.from({ length: 0x5f }, (_, k) => String.fromCharCode(0x20 + k)),
  "\u00e9",
  "\u00a0",
  "\u{1F4A5}",
  "\u4e2d",
];

function text(r: () => number, max: number, exclude: string): string {
  let out = "";
  const n = 1 + Math.floor(r() * max);
  while (out.length < n) {
    const c = ALPHABET[Math.floor(r() * ALPHABET.length)]!;
    if (!exclude.includes(c)) out += c;
  }
  return out;
}

test("targets with quotes and every other printable character are accepted as signed", async () => {
  const r = rng(20261201);
  for (let i = 0; i < 600; i++) {
    const kind = i % 4;
    let path: string;
    let expected: number;
    // fetch trims spaces at the end of a URL: every raw target ends in a non-space.
    if (kind === 0) {
      // Any query on a route without a query schema: 200. fetch encodes `'`, `"`, `<`, `>` and
      // spaces in a query, passes the rest through; "#" would start a fragment.
      path = `/v1/keys/${keyId}?${text(r, 40, "#")}&end`;
      expected = 200;
    } else if (kind === 1) {
      // A raw key id: "#" ends the path, "/" and "\\" add segments, "?" starts the query and "%" an escape.
      path = `/v1/keys/${text(r, 30, "#/\\?%")}x`;
      expected = expectedRead(path);
    } else if (kind === 2) {
      path = `/v1/operations/${text(r, 20, "#/\\?%")}x?wait=${text(r, 8, "#&%+")}0`;
      expected = expectedRead(path);
    } else {
      // What the SDK sends: the canonical target, whatever characters the caller used.
      const id = text(r, 20, "");
      path = canonicalPath(`/v1/keys/${keyId}?q=${id}&${id}`);
      expected = 200;
    }
    await check(`quoted ${i}`, "GET", path, undefined, expected);
  }
  assert.deepEqual(problems.splice(0), [], "every request got its expected status");
});
