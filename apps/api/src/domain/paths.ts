/**
 * BIP32 path strings. Only non-hardened derivation exists for threshold keys (the parties never
 * hold the private key), so `'` and `h` components are refused.
 * @module
 */

/** Largest non-hardened index. */
const MAX_INDEX = 2 ** 31 - 1;

/** Parses `m/44/60/0/0/5` into indices; returns an error text for anything else. */
export function parsePath(path: string): number[] | string {
  const parts = path.split("/");
  if (parts[0] !== "m") return "a path starts with m";
  if (parts.length > 256) return "path too long";
  const out: number[] = [];
  for (const p of parts.slice(1)) {
    if (/['hH]$/.test(p)) return "hardened derivation is not possible for threshold keys";
    if (!/^(0|[1-9][0-9]{0,9})$/.test(p)) return `invalid path component ${JSON.stringify(p.slice(0, 16))}`;
    const n = Number(p);
    if (n > MAX_INDEX) return `path component ${p} is out of range`;
    out.push(n);
  }
  return out;
}
