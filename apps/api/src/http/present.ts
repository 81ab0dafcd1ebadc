/**
 * Shapes records for clients (drops internal bookkeeping).
 * @module
 */

import type { KeyRecord, OperationRecord } from "../domain/records.js";
import { xpubOf } from "../domain/xpub.js";

/** A key for the API. */
export function presentKey(k: KeyRecord) {
  const { derivationKey, ...rest } = k;
  const root = derivationKey ?? k.publicKey;
  const xpub = root && k.chainCode ? xpubOf(root, k.chainCode) : undefined;
  return { ...rest, xpub };
}

/** An operation for the API. */
export function presentOperation(op: OperationRecord) {
  const { sessions: _s, request: _r, ...rest } = op;
  return rest;
}
