/**
 * Shapes records for clients (drops internal bookkeeping).
 * @module
 */

import type { KeyRecord, OperationRecord } from "../domain/records.js";
import { xpubOf } from "../domain/xpub.js";

/** A key for the API. */
export function presentKey(k: KeyRecord) {
  const xpub =
    k.scheme === "ecdsa-secp256k1" && k.publicKey && k.chainCode
      ? xpubOf(k.publicKey, k.chainCode)
      : undefined;
  return { ...k, xpub };
}

/** An operation for the API. */
export function presentOperation(op: OperationRecord) {
  const { sessions: _s, request: _r, ...rest } = op;
  return rest;
}
