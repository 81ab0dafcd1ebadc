/**
 * SHA-256 of one buffer through node's native implementation (`node:crypto`, I/O-free), for the
 * thousands of short hashes per signing session (OT-extension PRG and random-OT outputs). Uses the
 * one-shot `crypto.hash` (Node ≥ 20.12) when present, else `createHash`. Output is plain SHA-256:
 * identical to `@noble/hashes`.
 * @module
 */
import * as nodeCrypto from "node:crypto";

type OneShot = (algorithm: string, data: Uint8Array, encoding: "hex" | "buffer") => string | Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;

/** SHA-256 of `data` as 64 lowercase hex characters. */
export const sha256Hex: (data: Uint8Array) => string = oneShot
  ? (data) => oneShot("sha256", data, "hex") as string
  : (data) => nodeCrypto.createHash("sha256").update(data).digest("hex");

/** SHA-256 of `data` (32 bytes). */
export const sha256Native: (data: Uint8Array) => Uint8Array = oneShot
  ? (data) => oneShot("sha256", data, "buffer") as Buffer
  : (data) => nodeCrypto.createHash("sha256").update(data).digest();
