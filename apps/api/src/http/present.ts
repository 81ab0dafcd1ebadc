/**
 * Shapes records for clients (drops internal bookkeeping).
 * @module
 */

import { Value } from "@sinclair/typebox/value";
import type { KeyRecord, OperationProgress, OperationRecord } from "../domain/records.js";
import { taprootView } from "../domain/taproot.js";
import { xpubOf } from "../domain/xpub.js";
import { Operation } from "./schemas.js";

/** A key for the API; a bip340 key also shows its BIP86 Taproot output key and address. */
export function presentKey(k: KeyRecord) {
  const { derivationKey, ...rest } = k;
  const root = derivationKey ?? k.publicKey;
  const xpub = root && k.chainCode ? xpubOf(root, k.chainCode) : undefined;
  const taproot = k.scheme === "bip340" && k.publicKey ? taprootView(k.publicKey) : undefined;
  return { ...rest, xpub, taproot };
}

/**
 * An operation for the API; a Taproot signature (each one of a batch) shows the output it was made for. A record
 * without progress reads as `queued` while pending, else as its terminal status.
 */
export function presentOperation(op: OperationRecord) {
  const { sessions: _s, request, ...base } = op;
  const rest = { ...base, progress: progressView(op) };
  const taproot = request?.taproot;
  const items = request?.items;
  if (rest.signatures && items?.some((i) => i.taproot))
    return { ...rest, signatures: rest.signatures.map((s, i) => ({ ...s, taproot: items[i]?.taproot })) };
  return rest.signature && taproot ? { ...rest, signature: { ...rest.signature, taproot } } : rest;
}

function progressView(op: OperationRecord): OperationProgress {
  if (op.progress) return op.progress;
  return op.status === "pending"
    ? { phase: "queued", attempt: 0, at: op.createdAt }
    : { phase: op.status, attempt: 0, at: op.updatedAt };
}

/**
 * An operation exactly as GET /v1/operations/{id} returns it (only the documented fields), for
 * bodies the route serializer does not shape: events and webhook deliveries.
 */
export function operationView(op: OperationRecord): unknown {
  return Value.Clean(Operation, structuredClone(presentOperation(op)));
}
