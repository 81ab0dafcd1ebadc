// Signed requests in the browser, as docs/api-auth.md specifies them, on WebCrypto alone: a client
// seed (`SU…`) becomes a non-extractable Ed25519 key, and each GET gets its four custody-* headers.
// No DOM here: apps/api/test/console.test.ts runs this module in Node against the spec's vectors.

const te = new TextEncoder();
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const PKCS8_ED25519 = [
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** RFC 4648 base32 without padding. */
function base32(text) {
  const out = [];
  let bits = 0;
  let value = 0;
  for (const c of text) {
    const v = B32.indexOf(c);
    if (v < 0) throw new Error("that is not a client seed (SU…)");
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  return new Uint8Array(out);
}

/** CRC-16/XMODEM. */
function crc16(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** A client seed (`SU…`) as a non-extractable Ed25519 signing key; the decoded bytes are wiped. */
export async function signingKey(seedText) {
  const raw = base32(seedText.trim());
  const pkcs8 = new Uint8Array(PKCS8_ED25519.length + 32);
  try {
    const crc = raw.length === 36 ? raw[34] | (raw[35] << 8) : -1;
    // A client seed starts with 0x90 | (0xA0 >> 5), (0xA0 & 31) << 3: seed prefix, user prefix.
    if (crc !== crc16(raw.subarray(0, 34)) || raw[0] !== 0x95 || raw[1] !== 0)
      throw new Error("that is not a client seed (SU…)");
    pkcs8.set(PKCS8_ED25519);
    pkcs8.set(raw.subarray(2, 34), PKCS8_ED25519.length);
    return await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  } finally {
    raw.fill(0);
    pkcs8.fill(0);
  }
}

const b64urlDecode = (s) =>
  Uint8Array.from(atob(s.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
const b64url = (bytes) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (h) => Uint8Array.from(h.match(/../g), (b) => Number.parseInt(b, 16));
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));

/** The claims of a credential (of its leaf, for a delegated one); the API checks them, this only reads them. */
export function claimsOf(credential) {
  const leaf = credential.split("~").at(-1) ?? "";
  let claims;
  try {
    claims = JSON.parse(new TextDecoder().decode(b64urlDecode(leaf.split(".")[0] ?? "")));
  } catch {
    throw new Error("that is not a credential");
  }
  if (typeof claims?.role !== "string" || typeof claims.tenant !== "string")
    throw new Error("that is not a credential");
  return claims;
}

/** `frame(domain, parts)` of @custody/core: u32 length before each, strings UTF-8, integers u64. */
function frame(domain, parts) {
  const encoded = [domain, ...parts].map((p) => {
    if (p instanceof Uint8Array) return p;
    if (typeof p === "string") return te.encode(p);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(p));
    return out;
  });
  const out = new Uint8Array(encoded.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let off = 0;
  for (const p of encoded) {
    view.setUint32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

const UNRESERVED = /^[A-Za-z0-9._~-]$/;
const TOKEN = /^(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})*$/;
/** A segment, name or value in canonical form: unreserved bytes as themselves, every other byte %XX. */
const canonicalToken = (t) =>
  TOKEN.test(t) &&
  [...t.matchAll(/%([0-9A-F]{2})/g)].every(
    ([, h]) => !UNRESERVED.test(String.fromCharCode(Number.parseInt(h, 16))),
  );

/** True when `target` is already in the canonical form of docs/api-auth.md (the console signs no other). */
export function isCanonical(target) {
  if (!target.startsWith("/") || target.length > 16_384) return false;
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  if (!path.split("/").every((s) => canonicalToken(s) && s !== "." && s !== "..")) return false;
  if (q < 0) return true;
  const query = target.slice(q + 1);
  return (
    query !== "" &&
    query.split("&").every((f) => {
      const i = f.indexOf("=");
      return i < 0 ? canonicalToken(f) : canonicalToken(f.slice(0, i)) && canonicalToken(f.slice(i + 1));
    })
  );
}

/** The signed bytes of a bodiless GET of the canonical `target`. */
export async function getRequestBytes(credential, target, timestamp, nonce) {
  const digest = await sha256(frame("custody/http-request/credential/v2", [credential]));
  return frame("custody/http-request/v2", [digest, "GET", target, unhex(EMPTY_SHA256), timestamp, nonce]);
}

/**
 * The signed-request headers of a bodiless GET by `session` ({ credential, key }).
 * @throws Error for a target that is not canonical
 */
export async function signedHeaders(session, target, timestamp = Date.now(), nonce = undefined) {
  if (!isCanonical(target)) throw new Error(`not a canonical target: ${target}`);
  const n = nonce ?? hex(crypto.getRandomValues(new Uint8Array(16)));
  const bytes = await getRequestBytes(session.credential, target, timestamp, n);
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", session.key, bytes));
  return {
    "custody-credential": session.credential,
    "custody-timestamp": String(timestamp),
    "custody-nonce": n,
    "custody-signature": b64url(signature),
  };
}
