/**
 * Hash oracles (spec dkls23.md §2): `H` (domain-separated, length-prefixed SHA-256), `HS`
 * (64-byte SHA-512 output reduced mod n, bias < 2^-256) and `HG` (RFC 9380 hash-to-curve,
 * secp256k1_XMD:SHA-256_SSWU_RO_). Group elements derived from hashes always come from `HG`,
 * never from `HS(·)·G`, so nobody knows their discrete logarithm (spec finding F1).
 * @module
 */
import { frame, type HashPart, transcriptHash } from "@custody/core";
import { secp256k1_hasher } from "@noble/curves/secp256k1.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { bytesToScalarMod, type Point } from "./group.js";
import { tag } from "./params.js";

/** `H(tag; parts)`: 32-byte SHA-256 over the framed tag and parts. */
export function H(name: string, parts: readonly HashPart[]): Uint8Array {
  return transcriptHash(tag(name), parts);
}

/** `HS(tag; parts)`: a scalar mod n from a 64-byte SHA-512 output. */
export function HS(name: string, parts: readonly HashPart[]): bigint {
  return bytesToScalarMod(sha512(frame(tag(name), parts)));
}

/** `HG(DST; msg)`: RFC 9380 hash-to-curve onto secp256k1 with the given domain separation tag. */
export function HG(dst: string, msg: Uint8Array): Point {
  return secp256k1_hasher.hashToCurve(msg, { DST: utf8ToBytes(tag(dst)) }) as Point;
}
