/**
 * Domain-separated, length-prefixed hashing for transcripts, commitments and challenges.
 * Every input is framed as `u32(len) || bytes`, after a framed domain tag, so no two different
 * input lists hash the same byte string.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";

/** One hash input: raw bytes, a UTF-8 string, or a non-negative safe integer (encoded as u64 BE). */
export type HashPart = Uint8Array | string | number | bigint;

function encodePart(part: HashPart): Uint8Array {
  if (part instanceof Uint8Array) return part;
  if (typeof part === "string") return utf8ToBytes(part);
  const v = BigInt(part);
  if (v < 0n || v >= 1n << 64n) throw new RangeError("hash part integer out of range");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
}

/** Frames `parts` as `u32(len)||bytes` each, after the framed domain tag. */
export function frame(domain: string, parts: readonly HashPart[]): Uint8Array {
  const encoded = [utf8ToBytes(domain), ...parts.map(encodePart)];
  const total = encoded.reduce((n, p) => n + 4 + p.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const p of encoded) {
    view.setUint32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/**
 * SHA-256 of the framed domain and parts.
 * @example transcriptHash("custody/frost/dkg/confirm/v1", [sessionId, keyBytes])
 */
export function transcriptHash(domain: string, parts: readonly HashPart[]): Uint8Array {
  return sha256(frame(domain, parts));
}

/** Incremental transcript: append framed parts, then take a digest. */
export class Transcript {
  private readonly parts: Uint8Array[] = [];
  constructor(private readonly domain: string) {}
  /** Appends a labelled value. */
  append(label: string, value: HashPart): this {
    this.parts.push(frame(label, [value]));
    return this;
  }
  /** SHA-256 over the domain and everything appended so far. */
  digest(): Uint8Array {
    return transcriptHash(this.domain, this.parts);
  }
}
