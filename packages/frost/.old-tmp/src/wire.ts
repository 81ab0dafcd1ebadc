/**
 * Round-payload helpers shared by every FROST round: strict decoding that turns any malformed
 * payload into a `bad-message` abort naming the sender, and the common session input checks.
 * @module
 */
import { decodeWith, type PartyId, ProtocolError, type ProtocolMessage, type Reader } from "@custody/core";
import type { Ciphersuite, GroupElement } from "./ciphersuite.js";

/**
 * Decodes `msg.payload` with `parse`; decode and validation errors become a `bad-message`
 * ProtocolError blaming `msg.from`. ProtocolErrors raised by `parse` pass through unchanged.
 */
export function parsePayload<T>(msg: ProtocolMessage, what: string, parse: (r: Reader) => T): T {
  try {
    return decodeWith(msg.payload, parse);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError("bad-message", `${what}: ${(e as Error).message}`, [msg.from], { cause: e });
  }
}

/** Reads one strictly validated element. */
export function readPoint(suite: Ciphersuite, r: Reader): GroupElement {
  return suite.decodePoint(r.fixed(suite.pointLength));
}

/** Reads one canonical scalar. */
export function readScalar(suite: Ciphersuite, r: Reader): bigint {
  return suite.decodeScalar(r.fixed(suite.scalarLength));
}

/** Builds a broadcast message. */
export function broadcast(round: number, from: PartyId, payload: Uint8Array): ProtocolMessage {
  return { round, from, to: "all", payload };
}

/** Rejects a session id that is not 32 bytes (`bad-input`). */
export function assertSessionId(sessionId: Uint8Array): void {
  if (!(sessionId instanceof Uint8Array) || sessionId.length !== 32)
    throw new ProtocolError("bad-input", "sessionId must be 32 bytes");
}

/** Every party of `parties` except `self`. */
export function others(parties: readonly PartyId[], self: PartyId): PartyId[] {
  return parties.filter((p) => p !== self);
}
