/**
 * Parties are not a signing oracle: before contributing anything, a party checks for itself that a
 * client with a valid credential asked for exactly this work — the credential chains to a trusted
 * authority, the request signature verifies, the role and key grant allow it, and the signed body
 * matches the work item field by field (every message and path of a signing batch, in order), and the operation id (and a new key's id) are the ones the
 * request derives. The API cannot widen a request, invent one, or point it at another operation or
 * key. (That a request is served at most once is the served-request ledger's part, in the jobs.)
 * @module
 */

import { keyIdOf, operationIdOf } from "@custody/core";
import {
  type Action,
  AuthError,
  authorize,
  type CredentialClaims,
  type SignedRequest,
  verifyRequest,
} from "@custody/credentials";
import type { SignWork, WorkItem } from "@custody/proto";
import { PermanentFailure } from "@custody/runtime";

/** How old a client request may be when a party first sees it (queueing included). */
export const MAX_REQUEST_AGE_MS = 15 * 60_000;

const unauthorized = (why: string) => new PermanentFailure("unauthorized-request", why);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function body(req: SignedRequest): Record<string, unknown> {
  try {
    const v = JSON.parse(new TextDecoder().decode(req.body)) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw unauthorized("signed request body is not a JSON object");
}

function pathIndices(path: unknown): number[] {
  if (path === undefined || path === "m") return [];
  if (typeof path !== "string" || !path.startsWith("m/"))
    throw unauthorized("signed request has an invalid path");
  return path
    .slice(2)
    .split("/")
    .map((p) => (/^(0|[1-9][0-9]{0,9})$/.test(p) ? Number(p) : Number.NaN));
}

/**
 * The Taproot option of a signed sign body as the work item's merkle root would print it:
 * undefined without one, `""` for BIP86 (`{}`), else the lower-case 32-byte root.
 */
function taprootRoot(taproot: unknown): string | undefined {
  if (taproot === undefined) return undefined;
  const t = taproot as Record<string, unknown>;
  if (
    taproot === null ||
    typeof taproot !== "object" ||
    Array.isArray(taproot) ||
    Object.keys(t).some((k) => k !== "merkleRoot")
  )
    throw unauthorized("signed request has an invalid taproot option");
  if (t.merkleRoot === undefined) return "";
  if (typeof t.merkleRoot !== "string" || !/^[0-9a-fA-F]{64}$/.test(t.merkleRoot))
    throw unauthorized("signed request has an invalid taproot merkle root");
  return t.merkleRoot.toLowerCase();
}

const sameList = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A signing batch must be exactly the signed body's `messages`: as many items, each with the same
 * message and path at the same place, and nothing else signed (no top-level `message` or `path`).
 */
function checkBatch(b: Record<string, unknown>, work: SignWork): void {
  const items = b.messages;
  if (!Array.isArray(items) || items.length === 0 || b.message !== undefined || b.path !== undefined)
    throw unauthorized("signed request is not a signing batch");
  if (work.message.length > 0 || work.path.length > 0)
    throw unauthorized("a batch work item carries a message outside its items");
  if (items.length !== work.batch.length) throw unauthorized("batch size differs from the signed request");
  items.forEach((signed: unknown, i) => {
    const it = signed as Record<string, unknown>;
    if (
      signed === null ||
      typeof signed !== "object" ||
      Array.isArray(signed) ||
      Object.keys(it).some((k) => k !== "message" && k !== "path")
    )
      throw unauthorized(`signed batch item ${i} is not a message`);
    const want = work.batch[i]!;
    if (typeof it.message !== "string" || it.message.toLowerCase() !== hex(want.message))
      throw unauthorized(`message ${i} differs from the signed request`);
    if (!sameList(pathIndices(it.path), want.path))
      throw unauthorized(`derivation path ${i} differs from the signed request`);
  });
}

/**
 * Verifies the client request carried by `item` against the work it asks for.
 * @returns the client's claims
 * @throws PermanentFailure `unauthorized-request`
 */
export function checkClientRequest(
  item: WorkItem,
  authorities: readonly string[],
  now = Date.now(),
): CredentialClaims {
  const c = item.client;
  if (!c) throw unauthorized("work item carries no client request");
  const req: SignedRequest = {
    credential: c.credential,
    method: c.method,
    path: c.path,
    body: c.body,
    timestampMs: Number(c.timestampMs),
    nonce: c.nonce,
    signature: c.signature,
  };
  let claims: CredentialClaims;
  try {
    claims = verifyRequest(req, authorities, MAX_REQUEST_AGE_MS, now);
  } catch (e) {
    throw unauthorized(
      e instanceof AuthError ? `client request refused: ${e.code}` : "client request refused",
    );
  }
  if (claims.tenant !== item.tenant) throw unauthorized("client tenant differs from the work item's tenant");
  const identity = { tenant: item.tenant, credential: c.credential, nonce: c.nonce };
  if (item.operationId !== operationIdOf(identity))
    throw unauthorized("operation id is not the one the client's request derives");
  const op = item.op;
  let action: Action;
  let b: Record<string, unknown>;
  switch (op.case) {
    case "dkg":
      action = { kind: "create-key" };
      if (req.method !== "POST" || req.path !== "/v1/keys")
        throw unauthorized("request is not a key creation");
      b = body(req);
      if (
        b.scheme !== item.scheme ||
        b.threshold !== op.value.threshold ||
        b.parties !== op.value.parties.length
      )
        throw unauthorized("key creation parameters differ from the signed request");
      if (item.keyId !== keyIdOf(identity))
        throw unauthorized("key id is not the one the client's request derives");
      break;
    case "sign":
      action = { kind: "sign", keyId: item.keyId };
      if (req.method !== "POST" || req.path !== `/v1/keys/${item.keyId}/sign`)
        throw unauthorized("request is not this signing");
      b = body(req);
      if (op.value.batch.length > 0 || b.messages !== undefined) checkBatch(b, op.value);
      else {
        if (typeof b.message !== "string" || b.message.toLowerCase() !== hex(op.value.message))
          throw unauthorized("message differs from the signed request");
        if (!sameList(pathIndices(b.path), op.value.path))
          throw unauthorized("derivation path differs from the signed request");
      }
      if (taprootRoot(b.taproot) !== (op.value.taproot && hex(op.value.taproot.merkleRoot)))
        throw unauthorized("taproot option differs from the signed request");
      break;
    case "refresh":
      action = { kind: "refresh", keyId: item.keyId };
      if (req.method !== "POST" || req.path !== `/v1/keys/${item.keyId}/refresh`)
        throw unauthorized("request is not this refresh");
      break;
    default:
      throw unauthorized("work item without an operation");
  }
  try {
    authorize(claims, action);
  } catch (e) {
    throw unauthorized(e instanceof Error ? e.message : "forbidden");
  }
  return claims;
}
