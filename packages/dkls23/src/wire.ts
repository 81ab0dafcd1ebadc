/**
 * Payload decoding for received messages: any decode failure becomes a `bad-message`
 * ProtocolError naming the sender.
 * @module
 */
import { DecodeError, decodeWith, ProtocolError, type ProtocolMessage, type Reader } from "@custody/core";

/**
 * Decodes `msg.payload` with `parse`, requiring the whole payload to be consumed.
 * @throws ProtocolError `bad-message` blaming `msg.from` on truncation, trailing bytes or bad fields.
 */
export function decodeFrom<T>(msg: ProtocolMessage, what: string, parse: (r: Reader) => T): T {
  try {
    return decodeWith(msg.payload, parse);
  } catch (e) {
    if (e instanceof DecodeError)
      throw new ProtocolError("bad-message", `${what}: ${e.message}`, [msg.from], { cause: e });
    throw e;
  }
}
