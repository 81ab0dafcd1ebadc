/**
 * Pieces the session-transport tests share: a harness that plays a party by hand needs to sleep,
 * to tell "nobody answered yet" from a real failure, and to sign an envelope exactly as a party does.
 */
import { create, EnvelopeSchema } from "@custody/proto";
import { errors } from "@nats-io/transport-node";
import { envelopeSigningBytes, type PartyIdentity, signAs } from "../src/index.js";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True for the errors of a request nobody answered (yet): no responders, or no reply in time. */
export function unanswered(e: unknown): boolean {
  if (e instanceof errors.NoRespondersError || e instanceof errors.TimeoutError) return true;
  return e instanceof errors.RequestError && unanswered(e.cause);
}

/** A round-1 envelope from `identity`'s party to `to` (0: broadcast), signed over exactly these fields. */
export function signedEnvelope(
  identity: PartyIdentity,
  sid: Uint8Array,
  to: number,
  payload: Uint8Array,
  encrypted: boolean,
) {
  const from = identity.party;
  return create(EnvelopeSchema, {
    sessionId: sid,
    round: 1,
    from,
    to,
    payload,
    encrypted,
    signature: signAs(identity, envelopeSigningBytes(sid, 1, from, to, encrypted, payload)),
  });
}
