/**
 * The canonical request target: fixed vectors, every printable ASCII character and some Unicode
 * in a path segment and in a query value, and the property the signature relies on: the target a
 * client signs and the target the server receives after an HTTP client (WHATWG URL, as fetch uses
 * it) re-encoded it have the same canonical form.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AuthError, canonicalPath } from "../src/index.js";

const malformed = (e: unknown) => e instanceof AuthError && e.code === "malformed";
/** What an HTTP client sends for `target` (fetch parses it as a WHATWG URL). */
const sent = (target: string) => {
  const u = new URL(target, "http://127.0.0.1:8080");
  return u.pathname + u.search;
};
const pct = (s: string) =>
  Array.from(new TextEncoder().encode(s), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(
    "",
  );

test("vectors", () => {
  const vectors: [string, string][] = [
    ["/", "/"],
    ["/v1/keys", "/v1/keys"],
    ["/v1/keys/key_1-A.b~c/sign", "/v1/keys/key_1-A.b~c/sign"],
    ["/v1/operations/op_1?wait=5", "/v1/operations/op_1?wait=5"],
    ["/v1/operations/op_1?wait='5'", "/v1/operations/op_1?wait=%275%27"],
    ["/v1/operations/op_1?wait=%275%27", "/v1/operations/op_1?wait=%275%27"],
    ["/v1/keys/%22m%2F0'%22", "/v1/keys/%22m%2F0%27%22"],
    ["/v1/keys/%6b%65%79", "/v1/keys/key"],
    ["/a%2fb/c", "/a%2Fb/c"],
    ["/a b?c d", "/a%20b?c%20d"],
    ["/a+b?c+d=e+f", "/a%2Bb?c%20d=e%20f"],
    ["/a?c%2Bd=e%2bf", "/a?c%2Bd=e%2Bf"],
    ["/a?x=1=2&y&&z=", "/a?x=1%3D2&y&&z="],
    ["/a?", "/a"],
    ["/a?b?c", "/a?b%3Fc"],
    ["/a%zz%4", "/a%25zz%254"],
    ["/a%", "/a%25"],
    ["/caf\u00e9?q=\u00e9", "/caf%C3%A9?q=%C3%A9"],
    ["/%F0%9F%92%A5", "/%F0%9F%92%A5"],
    ["/\u{1F4A5}", "/%F0%9F%92%A5"],
    ["/\ud800", "/%EF%BF%BD"],
    ["/a//b/", "/a//b/"],
    ["/a#b", "/a%23b"],
    ["/a\\b", "/a%5Cb"],
    ["/%00?q=%00", "/%00?q=%00"],
  ];
  for (const [input, canonical] of vectors) {
    assert.equal(canonicalPath(input), canonical, input);
    assert.equal(canonicalPath(canonical), canonical, `idempotent: ${input}`);
  }
});

test("dot segments, relative and absolute targets have no canonical form", () => {
  for (const bad of ["", "v1/keys", "http://x/v1", "/v1/.", "/v1/../x", "/v1/%2e%2E/x", "/.%2e", "/%2E"])
    assert.throws(() => canonicalPath(bad), malformed, bad);
  assert.throws(() => canonicalPath(`/${"a".repeat(20_000)}`), malformed);
  assert.equal(canonicalPath("/v1/.../x"), "/v1/.../x");
});

test("every printable ASCII character, in a path segment and in a query value", () => {
  const unreserved = /^[A-Za-z0-9._~-]$/;
  for (let code = 0x20; code <= 0x7e; code++) {
    const c = String.fromCharCode(code);
    // Literally in a segment: "/" and "?" keep their meaning, "%" alone is a literal percent.
    const seg = c === "/" ? "a/b" : c === "?" ? "a?b" : unreserved.test(c) ? `a${c}b` : `a${pct(c)}b`;
    assert.equal(canonicalPath(`/x/a${c}b`), `/x/${seg}`, `segment ${JSON.stringify(c)}`);
    // Percent-encoded in a segment: always the same byte, never a separator.
    const encoded = unreserved.test(c) ? `a${c}b` : `a${pct(c)}b`;
    assert.equal(canonicalPath(`/x/a${pct(c)}b`), `/x/${encoded}`, `encoded segment ${JSON.stringify(c)}`);
    // In a query value: "&" separates, "=" after the first is data, "+" is a space.
    const value = c === "&" ? "a&b" : c === "+" ? "a%20b" : unreserved.test(c) ? `a${c}b` : `a${pct(c)}b`;
    assert.equal(canonicalPath(`/x?q=a${c}b`), `/x?q=${value}`, `query ${JSON.stringify(c)}`);
  }
});

test("what a client signs and what fetch sends have the same canonical form", () => {
  const inputs: string[] = [];
  for (let code = 0x20; code <= 0x7e; code++) {
    const c = String.fromCharCode(code);
    // "#" starts a fragment and "\" is a path separator for an HTTP client: a client that uses
    // them sends canonicalPath(target) (checked below); every other character may be sent raw.
    if (c === "#" || c === "\\") continue;
    inputs.push(`/x/a${c}b`, `/x/a${c}b?q=a${c}b`, `/x?q=${c}&r=${c}${c}x`, `/x/${encodeURIComponent(c)}x`);
  }
  for (const u of ["\u00e9", "\u00a0", "\u{1F4A5}", "\u4e2d\u6587", "\ud800", "\u0301e", "\ufeff"])
    inputs.push(`/x/${u}`, `/x?q=${u}`, `/x/${encodeURIComponent(u === "\ud800" ? "\ufffd" : u)}?q=${u}`);
  for (const t of inputs) assert.equal(canonicalPath(sent(t)), canonicalPath(t), JSON.stringify(t));
  // The canonical form itself goes through an HTTP client unchanged, whatever it contains.
  for (let code = 0; code <= 0x7f; code++) {
    const c = String.fromCharCode(code);
    for (const t of [`/x/a${c}b?q=a${c}b`, `/x/${c}${c}${c}`, `/x?${c}=${c}`]) {
      const canonical = canonicalPath(t);
      assert.equal(sent(canonical), canonical, JSON.stringify(t));
    }
  }
});
