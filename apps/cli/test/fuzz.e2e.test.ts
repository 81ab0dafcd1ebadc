/**
 * Fuzzing the HTTP API with thousands of generated bodies, paths and headers (all correctly signed,
 * so they reach validation): every answer is a 4xx RFC 9457 problem, never a 5xx or a hang, and no
 * key or operation appears.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { signRequest } from "@custody/credentials";
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
  const res = await fetch(`${stack!.apiUrl}${path}`, {
    method,
    headers: { ...(text !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: text,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

test("thousands of generated request bodies get typed 4xx problems, never a 5xx", async () => {
  const before = (await api.listKeys()).length;
  const r = rng(20261127);
  const statuses = new Map<number, number>();
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
    const res = await send(method, path, method === "GET" ? undefined : text);
    cases++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    assert.ok(
      res.status >= 400 && res.status < 500,
      `case ${i}: ${method} ${path} ${text?.slice(0, 80)} -> ${res.status} ${res.body.slice(0, 200)}`,
    );
    assert.match(
      res.type,
      /^application\/problem\+json/,
      `case ${i}: ${method} ${path} -> ${res.status} ${res.type} ${res.body.slice(0, 200)}`,
    );
    const p = JSON.parse(res.body) as { type: string; status: number };
    assert.match(p.type, /^urn:custody:problem:[a-z-]+$/);
    assert.equal(p.status, res.status);
  }
  assert.equal(cases, 2400);
  assert.equal((await api.listKeys()).length, before, "no key appeared");
  assert.equal((await fetch(`${stack!.apiUrl}/healthz`)).status, 200);
});
