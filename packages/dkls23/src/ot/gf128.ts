/**
 * GF(2^128) arithmetic for the KOS packed consistency check (spec dkls23.md §4.5), modulus
 * `X^128 + X^7 + X^2 + X + 1`. Layout [CHOICE]: bit b of a 16-byte block is the coefficient of X^b,
 * stored at byte ⌊b/8⌋, bit b mod 8 (LSB first). Internally an element is four little-endian u32
 * words. Multiplication by a fixed element uses a table of its 128 shifts `χ·X^k` and masked XORs
 * (no data-dependent branches).
 * @module
 */

/** One field element: four u32 words, word w holding bits 32w..32w+31. */
export type Gf128 = Uint32Array;

/** Reads 16 bytes at `off` as a field element. */
export function gfFromBytes(b: Uint8Array, off = 0): Gf128 {
  const out = new Uint32Array(4);
  for (let w = 0; w < 4; w++) {
    const o = off + 4 * w;
    out[w] = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  }
  return out;
}

/** Writes a field element as 16 bytes at `off`. */
export function gfToBytes(a: Gf128, out = new Uint8Array(16), off = 0): Uint8Array {
  for (let w = 0; w < 4; w++) {
    const v = a[w]!;
    out[off + 4 * w] = v & 0xff;
    out[off + 4 * w + 1] = (v >>> 8) & 0xff;
    out[off + 4 * w + 2] = (v >>> 16) & 0xff;
    out[off + 4 * w + 3] = (v >>> 24) & 0xff;
  }
  return out;
}

/** `a·X mod p(X)`. */
function mulX(a: Gf128): Gf128 {
  const carry = a[3]! >>> 31;
  const out = new Uint32Array(4);
  out[3] = ((a[3]! << 1) | (a[2]! >>> 31)) >>> 0;
  out[2] = ((a[2]! << 1) | (a[1]! >>> 31)) >>> 0;
  out[1] = ((a[1]! << 1) | (a[0]! >>> 31)) >>> 0;
  out[0] = ((a[0]! << 1) ^ (-carry & 0x87)) >>> 0;
  return out;
}

/**
 * Multiplication table of a fixed element `c`: row k holds `c·X^k` (flattened, 4 words per row).
 * Build once per challenge, then {@link gfMulAcc} multiplies by `c` cheaply.
 */
export function gfTable(c: Gf128): Uint32Array {
  const t = new Uint32Array(128 * 4);
  let cur = c;
  for (let k = 0; k < 128; k++) {
    t.set(cur, 4 * k);
    cur = mulX(cur);
  }
  return t;
}

/** `acc ^= c·a`, where `table = gfTable(c)` and `a` is the 16 bytes of `src` at `off`. */
export function gfMulAcc(acc: Gf128, table: Uint32Array, src: Uint8Array, off: number): void {
  let r0 = acc[0]!;
  let r1 = acc[1]!;
  let r2 = acc[2]!;
  let r3 = acc[3]!;
  for (let byte = 0; byte < 16; byte++) {
    const v = src[off + byte]!;
    for (let bit = 0; bit < 8; bit++) {
      const m = -((v >>> bit) & 1);
      const k = 4 * (8 * byte + bit);
      r0 ^= table[k]! & m;
      r1 ^= table[k + 1]! & m;
      r2 ^= table[k + 2]! & m;
      r3 ^= table[k + 3]! & m;
    }
  }
  acc[0] = r0 >>> 0;
  acc[1] = r1 >>> 0;
  acc[2] = r2 >>> 0;
  acc[3] = r3 >>> 0;
}

/** `acc ^= a` where `a` is the 16 bytes of `src` at `off`. */
export function gfAddBytes(acc: Gf128, src: Uint8Array, off: number): void {
  const a = gfFromBytes(src, off);
  for (let w = 0; w < 4; w++) acc[w] = (acc[w]! ^ a[w]!) >>> 0;
}

/** General product `a·b` (used by tests and to build tables). */
export function gfMul(a: Gf128, b: Gf128): Gf128 {
  const acc = new Uint32Array(4);
  gfMulAcc(acc, gfTable(a), gfToBytes(b), 0);
  return acc;
}

/** Equality in constant time. */
export function gfEqual(a: Gf128, b: Gf128): boolean {
  return ((a[0]! ^ b[0]!) | (a[1]! ^ b[1]!) | (a[2]! ^ b[2]!) | (a[3]! ^ b[3]!)) === 0;
}
