/**
 * The signing key of a BIP32 child: the stored share with the path's total additive tweak `T`
 * applied consistently by every signer. Signing share `x_i + T`, verifying shares `Y_j + T·G`,
 * group key `P + T·G`; since Lagrange coefficients over any signer set sum to 1, the signers'
 * shares interpolate `x + T`, the child secret. The BIP340 even-y rule is not applied here: noble's
 * `schnorr_FROST` negates the (child) group key, verifying shares and signing share when the child
 * key has odd y, exactly as it does for an untweaked key, so the signature verifies under the
 * x-only child key.
 * @module
 */
import { equalBytes, ProtocolError } from "@custody/core";
import { deriveBip340Child } from "../bip32.js";
import type { Ciphersuite } from "../ciphersuite.js";
import { attachElements, FrostShare, keyElements } from "../share.js";

/**
 * Returns `share` itself for the empty path, otherwise the child's key share (kept in memory only,
 * never stored; it keeps the root's transcript and chain code).
 * @throws ProtocolError (`bad-input`) when the scheme or share has no chain code, or the path
 *   leads to an invalid child
 */
export function deriveSigningShare(
  suite: Ciphersuite,
  share: FrostShare,
  path: readonly number[],
): FrostShare {
  if (path.length === 0) return share;
  if (!suite.derivation)
    throw new ProtocolError("bad-input", `${suite.name} keys do not support derivation paths`);
  if (share.chainCode === undefined)
    throw new ProtocolError(
      "bad-input",
      "this share has no chain code (legacy share): derivation paths are unavailable",
    );
  const child = deriveBip340Child(share.groupKey, share.chainCode, path);
  if (child.tweak === 0n) return share;
  const { Fn } = suite;
  const shift = suite.mulBase(child.tweak);
  const root = keyElements(suite, share);
  const groupKey = root.groupKey.add(shift);
  const verifying = share.parties.map((p) => [p, root.verifying.get(p)!.add(shift)] as const);
  const secret = Fn.add(share.secretShare, child.tweak);
  if (secret === 0n || verifying.some(([, v]) => v.is0()))
    throw new ProtocolError("bad-input", "derivation path yields a degenerate key share");
  const key = groupKey.toBytes();
  if (!equalBytes(key, child.publicKey33))
    throw new ProtocolError("internal", "tweaked group key differs from the derived key");
  const derived = new FrostShare(
    {
      scheme: share.scheme,
      threshold: share.threshold,
      parties: share.parties,
      self: share.self,
      groupKey: key,
      verifyingShares: new Map(verifying.map(([p, v]) => [p, v.toBytes()])),
      transcript: share.transcript,
      chainCode: share.chainCode,
    },
    secret,
  );
  return attachElements(derived, { groupKey, verifying: new Map(verifying) });
}
