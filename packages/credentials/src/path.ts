/**
 * The canonical encoding of a request target (path and query), the one form a request signature
 * covers. HTTP clients re-encode what they are given (WHATWG URL percent-encodes `'` in a query but
 * not in a path, `"` and spaces everywhere, non-ASCII as UTF-8...), so the signer and the verifier
 * each canonicalise the target they have and compare the results, never the raw strings.
 *
 * The rule: split the target at the first `?`; the path at `/`, the query at `&` and each query
 * field at its first `=`. Each piece is taken as bytes (the UTF-8 of its characters, with every
 * `%XX` decoded; a `%` not followed by two hex digits stays a literal `%`), then written back with
 * `A–Z a–z 0–9 - . _ ~` as themselves and every other byte as `%XX` in upper case. In the query a
 * `+` is a space (as the server's query parser reads it). An empty query is dropped. Two targets
 * with the same canonical form mean the same to the server's router and query parser.
 * @module
 */
import { AuthError } from "./errors.js";

/** Longest request target accepted. */
const MAX_TARGET_LENGTH = 16_384;

const enc = new TextEncoder();
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const hexValue = (c: number) => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
const unreserved = (b: number) =>
  (b >= 0x41 && b <= 0x5a) ||
  (b >= 0x61 && b <= 0x7a) ||
  (b >= 0x30 && b <= 0x39) ||
  b === 0x2d ||
  b === 0x2e ||
  b === 0x5f ||
  b === 0x7e;

/** The canonical form of one path segment or query name/value. */
function component(piece: string, plusIsSpace: boolean): string {
  const bytes = enc.encode(piece);
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i]!;
    if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]!) && isHex(bytes[i + 2]!)) {
      b = hexValue(bytes[i + 1]!) * 16 + hexValue(bytes[i + 2]!);
      i += 2;
    } else if (b === 0x2b && plusIsSpace) b = 0x20;
    out += unreserved(b) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * The canonical form of a request target (`/path?query`), as defined in this module.
 * @throws AuthError `malformed` when the target does not start with `/`, is too long, or has a
 *   `.` or `..` path segment (in any encoding: HTTP clients resolve those before sending)
 */
export function canonicalPath(target: string): string {
  if (typeof target !== "string" || !target.startsWith("/") || target.length > MAX_TARGET_LENGTH)
    throw new AuthError("malformed", "request target is malformed");
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  const segments = path
    .slice(1)
    .split("/")
    .map((s) => {
      const c = component(s, false);
      if (c === "." || c === "..") throw new AuthError("malformed", "request path has a dot segment");
      return c;
    });
  const fields = query.split("&").map((f) => {
    const eq = f.indexOf("=");
    return eq < 0
      ? component(f, true)
      : `${component(f.slice(0, eq), true)}=${component(f.slice(eq + 1), true)}`;
  });
  return `/${segments.join("/")}${query === "" ? "" : `?${fields.join("&")}`}`;
}
