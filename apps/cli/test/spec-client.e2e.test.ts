/**
 * A client written only from docs/api-auth.md, with node:crypto and fetch and no project code: it
 * decodes NKey seeds, canonicalises targets, frames and signs requests as the document says. It
 * reproduces every value of docs/api-auth-vectors.json, then creates a key and signs with it on a
 * running stack (which this test starts with the project's harness; the client part uses none of it).
 */
import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Stack } from "../src/index.js";
import { startTestStack, stopTestStack } from "./helpers.js";

// ---- the client, from the document ----

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding. */
function base32Decode(s: string): Buffer {
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** CRC-16/XMODEM, as NKeys append it (little-endian). */
function crc16(data: Buffer): number {
  let crc = 0;
  for (const b of data) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** An NKey (seed `S…` or public `U…`/`O…`): checks the checksum, returns the 32 key bytes. */
function nkeyBytes(text: string, isSeed: boolean): Buffer {
  const raw = base32Decode(text);
  const body = raw.subarray(0, raw.length - 2);
  assert.equal(raw.readUInt16LE(raw.length - 2), crc16(body), "NKey checksum");
  return body.subarray(isSeed ? 2 : 1);
}

const ed25519Private = (seed: string) =>
  createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), nkeyBytes(seed, true)]),
    format: "der",
    type: "pkcs8",
  });
const ed25519Public = (raw: Buffer) =>
  createPublicKey({
    key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), raw]),
    format: "der",
    type: "spki",
  });

/** `u32be(len(domain)) || domain || u32be(len(p)) || p || …`; numbers as 8-byte big-endian. */
function frame(domain: string, parts: (string | Buffer | number)[]): Buffer {
  const chunks = [domain, ...parts].map((p) => {
    if (typeof p === "number") {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(p));
      return b;
    }
    return typeof p === "string" ? Buffer.from(p, "utf8") : p;
  });
  return Buffer.concat(
    chunks.flatMap((c) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(c.length);
      return [len, c];
    }),
  );
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest();
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** The bytes of one segment, name or value: UTF-8, then `%XX` decoded (`+` is a space in the query). */
function componentBytes(s: string, query: boolean): Buffer {
  // A lone surrogate becomes U+FFFD.
  const wellFormed = s.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    "\uFFFD",
  );
  const utf8 = Buffer.from(wellFormed, "utf8");
  const out: number[] = [];
  for (let i = 0; i < utf8.length; i++) {
    const b = utf8[i]!;
    const hex = utf8.subarray(i + 1, i + 3).toString("latin1");
    if (b === 0x25 && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else out.push(query && b === 0x2b ? 0x20 : b);
  }
  return Buffer.from(out);
}

const encodeComponent = (bytes: Buffer) =>
  [...bytes]
    .map((b) => {
      const ch = String.fromCharCode(b);
      return b < 0x80 && UNRESERVED.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");

/** The canonical request target (docs/api-auth.md, steps 1–6). */
function canonicalTarget(target: string): string {
  assert.ok(target.startsWith("/") && target.length <= 16_384);
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  const segments = path.split("/").map((s) => encodeComponent(componentBytes(s, false)));
  assert.ok(!segments.some((s) => s === "." || s === ".."), "dot segment");
  const fields = query.split("&").map((f) => {
    const eq = f.indexOf("=");
    if (eq < 0) return encodeComponent(componentBytes(f, true));
    return `${encodeComponent(componentBytes(f.slice(0, eq), true))}=${encodeComponent(componentBytes(f.slice(eq + 1), true))}`;
  });
  return query === "" ? segments.join("/") : `${segments.join("/")}?${fields.join("&")}`;
}

/** The four headers of a request. */
function signedHeaders(
  seed: string,
  credential: string,
  method: string,
  target: string,
  body: string,
  at = Date.now(),
  nonce = randomBytes(16).toString("hex"),
) {
  const digest = sha256(frame("custody/http-request/credential/v2", [credential]));
  const bytes = frame("custody/http-request/v2", [
    digest,
    method.toUpperCase(),
    canonicalTarget(target),
    sha256(body),
    at,
    nonce,
  ]);
  return {
    bytes,
    digest,
    headers: {
      "custody-credential": credential,
      "custody-timestamp": String(at),
      "custody-nonce": nonce,
      "custody-signature": sign(null, bytes, ed25519Private(seed)).toString("base64url"),
    },
  };
}

// ---- the vectors ----

const V = JSON.parse(
  readFileSync(new URL("../../../../docs/api-auth-vectors.json", import.meta.url), "utf8"),
);

describe("a client written from docs/api-auth.md alone", { timeout: 240_000 }, () => {
  test("reproduces every value of the test vectors", () => {
    assert.equal(nkeyBytes(V.keys.client, false).toString("hex"), V.keys.clientRawPublicKey);
    assert.equal(nkeyBytes(V.keys.authority, false).toString("hex"), V.keys.authorityRawPublicKey);
    // The seed's public key is the client key.
    const pub = createPublicKey(ed25519Private(V.keys.clientSeed)).export({ format: "der", type: "spki" });
    assert.equal(Buffer.from(pub).subarray(12).toString("hex"), V.keys.clientRawPublicKey);
    // The root credential: claims JSON, signed by the authority.
    const [claims64, sig64] = (V.credential.credential as string).split(".");
    assert.deepEqual(JSON.parse(Buffer.from(claims64!, "base64url").toString("utf8")), V.credential.claims);
    const credBytes = frame("custody/credential/v1", [Buffer.from(claims64!, "base64url")]);
    assert.ok(
      verify(
        null,
        credBytes,
        ed25519Public(nkeyBytes(V.keys.authority, false)),
        Buffer.from(sig64!, "base64url"),
      ),
    );
    for (const { target, canonical } of V.canonicalTargets)
      assert.equal(canonicalTarget(target), canonical, target);
    for (const r of V.requests) {
      const s = signedHeaders(
        V.keys.clientSeed,
        V.credential.credential,
        r.method,
        r.target,
        r.body,
        r.timestampMs,
        r.nonce,
      );
      assert.equal(s.digest.toString("hex"), r.credentialDigest);
      assert.equal(s.bytes.toString("hex"), r.signedBytes);
      assert.equal(s.headers["custody-signature"], r.signature);
    }
    // A delegated credential: the leaf is signed by the issuer over the issuer's id and the leaf claims.
    const d = V.delegated;
    const issuerId = sha256(frame("custody/credential-id/v1", [d.issuerCredential]));
    assert.equal(issuerId.toString("hex"), d.issuerId);
    const [issuer, leaf] = (d.credential as string).split("~");
    assert.equal(issuer, d.issuerCredential);
    const [leafClaims64, leafSig64] = leaf!.split(".");
    const leafBytes = frame("custody/credential/delegated/v1", [
      issuerId,
      Buffer.from(leafClaims64!, "base64url"),
    ]);
    assert.equal(leafBytes.toString("hex"), d.signedBytes);
    assert.ok(
      verify(
        null,
        leafBytes,
        ed25519Public(nkeyBytes(V.keys.client, false)),
        Buffer.from(leafSig64!, "base64url"),
      ),
    );
    assert.equal(sha256(frame("custody/credential-id/v1", [d.credential])).toString("hex"), d.id);
    const r = d.request;
    const s = signedHeaders(d.leafSeed, d.credential, r.method, r.target, r.body, r.timestampMs, r.nonce);
    assert.equal(s.bytes.toString("hex"), r.signedBytes);
    assert.equal(s.headers["custody-signature"], r.signature);
  });

  describe("against a running stack", () => {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startTestStack({ parties: 3 });
    });
    after(() => stopTestStack(stack));

    async function call(method: string, target: string, body?: object) {
      const text = body === undefined ? "" : JSON.stringify(body);
      const { headers } = signedHeaders(stack!.admin.seed, stack!.admin.credential, method, target, text);
      const res = await fetch(`${stack!.apiUrl}${canonicalTarget(target)}`, {
        method,
        headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? text : undefined,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }
    async function settled(id: string) {
      for (let i = 0; i < 10; i++) {
        const op = await call("GET", `/v1/operations/${id}?wait=30`);
        assert.equal(op.status, 200);
        if (op.body.status !== "pending")
          return op.body as unknown as { status: string; keyId: string; signature?: { signature: string } };
      }
      throw new Error(`operation ${id} still pending`);
    }

    test("creates an Ed25519 key and signs; the signature verifies with node:crypto", async () => {
      const created = await call("POST", "/v1/keys", { scheme: "ed25519", threshold: 2, parties: 3 });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const dkg = await settled(created.body.id as string);
      assert.equal(dkg.status, "succeeded");
      const key = await call("GET", `/v1/keys/${dkg.keyId}`);
      const message = Buffer.from("written from the spec");
      const signing = await call("POST", `/v1/keys/${dkg.keyId}/sign`, { message: message.toString("hex") });
      assert.equal(signing.status, 202, JSON.stringify(signing.body));
      const done = await settled(signing.body.id as string);
      assert.equal(done.status, "succeeded");
      const ok = verify(
        null,
        message,
        ed25519Public(Buffer.from(key.body.publicKey as string, "hex")),
        Buffer.from(done.signature!.signature, "hex"),
      );
      assert.ok(ok, "the signature verifies under the key's public key");
      // A target with characters fetch re-encodes is signed in its canonical form and accepted.
      const quoted = await call("GET", `/v1/operations/${signing.body.id as string}?wait='0'`);
      assert.equal(quoted.status, 400, "authenticated, then refused for its value (not 401)");
      assert.equal(quoted.body.type, "urn:custody:problem:invalid-request");
    });
  });
});
