import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { numberToBytesBE, numberToBytesLE } from "@noble/curves/utils.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { bip340Suite } from "../src/ciphersuite.js";
const parses = (f) => {
    try {
        f();
        return true;
    }
    catch {
        return false;
    }
};
function ed25519BadPoints() {
    const out = ED25519_TORSION_SUBGROUP.map((h, i) => [
        `small-order point #${i}`,
        hexToBytes(h),
    ]);
    const T = ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1]);
    out.push(["mixed-order point P+T", ed25519.Point.BASE.multiply(7n).add(T).toBytes()]);
    const p = 2n ** 255n - 19n;
    out.push(["non-canonical y = p", numberToBytesLE(p, 32)]);
    out.push(["non-canonical y = p + 1 (identity alias)", numberToBytesLE(p + 1n, 32)]);
    const negZero = new Uint8Array(32);
    negZero[0] = 1;
    negZero[31] = 0x80;
    out.push(["non-canonical x = 0 with sign bit", negZero]);
    let y = 2n;
    while (parses(() => ed25519.Point.fromBytes(numberToBytesLE(y, 32))))
        y++;
    out.push(["off-curve y", numberToBytesLE(y, 32)]);
    return out;
}
function secp256k1BadPoints() {
    const out = [["all-zero (infinity) encoding", new Uint8Array(33)]];
    const compressed = (x, prefix = 2) => Uint8Array.of(prefix, ...numberToBytesBE(x, 32));
    let x = 1n;
    while (parses(() => secp256k1.Point.fromBytes(compressed(x))))
        x++;
    out.push(["off-curve x", compressed(x)]);
    let valid = 1n;
    while (!parses(() => secp256k1.Point.fromBytes(compressed(valid))))
        valid++;
    out.push(["non-canonical x + p", compressed(valid + secp256k1.Point.CURVE().p)]);
    out.push(["invalid prefix 0x05", compressed(valid, 5)]);
    out.push(["uncompressed prefix in a 33-byte slot", compressed(valid, 4)]);
    return out;
}
/** Same-length invalid element encodings for a suite. */
export function badPoints(suite) {
    return suite === bip340Suite ? secp256k1BadPoints() : ed25519BadPoints();
}
/** Same-length invalid scalar encodings (non-canonical: ≥ the group order). */
export function badScalars(suite) {
    const n = suite.Fn.ORDER;
    const enc = (v) => (suite.Fn.isLE ? numberToBytesLE(v, 32) : numberToBytesBE(v, 32));
    return [
        ["scalar = order", enc(n)],
        ["scalar = order + 1", enc(n + 1n)],
        ["scalar = 2^256 - 1", new Uint8Array(32).fill(0xff)],
    ];
}
/** A random valid element (not the identity). */
export function randomPoint(suite) {
    return suite.mulBase(suite.randomScalar()).toBytes();
}
/** Copy of `payload` with `bytes` written at `offset`. */
export function patch(payload, offset, bytes) {
    const out = payload.slice();
    out.set(bytes, offset);
    return out;
}
/** Adds 1 to the scalar at `offset` (a canonical but wrong value). */
export function bumpScalar(suite, payload, offset) {
    const z = suite.decodeScalar(payload.slice(offset, offset + suite.scalarLength));
    return patch(payload, offset, suite.encodeScalar(suite.Fn.add(z, 1n)));
}
/** Flips the lowest bit of the byte at `offset`. */
export function flip(payload, offset) {
    const out = payload.slice();
    out[offset] ^= 1;
    return out;
}
/** The payload without its last byte. */
export const truncate = (p) => p.slice(0, -1);
/** The payload with one extra zero byte. */
export const extend = (p) => Uint8Array.of(...p, 0);
/** Rewrites the payload of messages of `round` sent by `from` (optionally only towards `to`). */
export function rewrite(round, from, f, to) {
    return (msg, dest) => msg.round === round && msg.from === from && (to === undefined || dest === to)
        ? { ...msg, payload: f(msg.payload) }
        : msg;
}
//# sourceMappingURL=bad.js.map