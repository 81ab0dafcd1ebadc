/**
 * Errors crossing a thread boundary: a ProtocolError keeps its kind and culprits (structured clone
 * would keep only the message), anything else becomes a plain Error with its message.
 * @module
 */
import { ProtocolError } from "@custody/core";

/** An error as plain data. */
export interface WireError {
  readonly kind?: string;
  readonly message: string;
  readonly culprits?: number[];
}

/** `e` as plain data. */
export function errorToWire(e: unknown): WireError {
  if (!(e instanceof ProtocolError)) return { message: String((e as Error)?.message ?? e) };
  // The reason without the culprits that `message` adds, so the rebuilt error does not repeat them.
  return {
    kind: e.kind,
    message: e.reason,
    culprits: [...e.culprits],
  };
}

/** The error `w` describes. */
export function errorFromWire(w: WireError): Error {
  return w.kind
    ? new ProtocolError(w.kind as ProtocolError["kind"], w.message, w.culprits ?? [])
    : new Error(w.message);
}
