/**
 * The unit that protocol rounds exchange. Transport framing (session id, signatures, encryption)
 * is added outside the protocol packages.
 * @module
 */
import type { PartyId } from "./party.js";

/** Destination of a message: one party, or every other participant (`"all"`, a broadcast). */
export type Recipient = PartyId | "all";

/** One protocol message. `payload` is the round's own encoding, opaque to the driver. */
export interface ProtocolMessage {
  /** Round that produced the message (1-based). */
  readonly round: number;
  /** Sender. */
  readonly from: PartyId;
  /** Receiver, or `"all"` for a broadcast. */
  readonly to: Recipient;
  /** Round-specific encoded content. */
  readonly payload: Uint8Array;
}
