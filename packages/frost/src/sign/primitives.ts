/**
 * The RFC 9591 signing computations (§5.1 commit, §5.2 sign, §5.3 aggregate, §5.4 share
 * verification) over already validated group elements, for both ciphersuites. The results are
 * byte-for-byte those of noble's `ed25519_FROST` / `schnorr_FROST` (checked by the tests): for
 * `bip340` the BIP340 even-y rule negates the group key, verifying shares and signing share when
 * the group key has odd y, and the nonces and commitment shares when the group commitment has.
 *
 * Unlike noble's byte-oriented API, nothing here decodes a point again: the key's elements are
 * decoded and validated once per share object (`keyElements`), received nonce commitments once
 * on receipt, and the binding factors, group commitment and challenge once per signing
 * ({@link prepareSigning}), then shared by the signature share, every share verification and the
 * aggregation.
 * @module
 */
import type { PartyId } from "@custody/core";
import type { RNG } from "@noble/curves/abstract/frost.js";
import { concatBytes, equalBytes } from "@noble/curves/utils.js";
import type { Ciphersuite, GroupElement } from "../ciphersuite.js";
import { type FrostShare, type FrostShareFields, keyElements } from "../share.js";

/** One signer's public nonce commitments (hiding `D = d·G`, binding `E = e·G`). */
export interface NonceCommitment {
  readonly party: PartyId;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
  /**
   * The elements `[D, E]` when already decoded and validated (or computed locally); otherwise
   * {@link prepareSigning} decodes the encodings strictly.
   */
  readonly elements?: readonly [GroupElement, GroupElement] | undefined;
}

/** A signer's secret nonces; consumed (zeroed) by {@link signatureShare}. */
export interface SigningNonces {
  /** Hiding nonce `d` (scalar encoding). */
  readonly hiding: Uint8Array;
  /** Binding nonce `e` (scalar encoding). */
  readonly binding: Uint8Array;
  /** The commitment published for these nonces (`D`, `E` encodings). */
  readonly commitment: { readonly hiding: Uint8Array; readonly binding: Uint8Array };
}

/**
 * Round one: fresh hiding and binding nonces `H3(rng(32) || SerializeScalar(x_i))` and their
 * commitments. `rng` must be a fresh CSPRNG stream (the sign round passes one hedged with the
 * session id); a fixed `rng` is only for reproducing test vectors.
 */
export function commitNonces(
  suite: Ciphersuite,
  share: FrostShare,
  rng: RNG,
): { nonces: SigningNonces; commitment: NonceCommitment } {
  const { Fn } = suite;
  const sk = suite.encodeScalar(share.secretShare);
  const nonce = () => {
    const n = suite.hashes.H3(concatBytes(rng(32), sk));
    // Probability 2^-252; a zero nonce would commit to the identity, which no receiver accepts.
    if (Fn.is0(n)) throw new Error("zero nonce");
    return n;
  };
  const d = nonce();
  const e = nonce();
  const D = suite.mulBase(d);
  const E = suite.mulBase(e);
  const commitment: NonceCommitment = {
    party: share.self,
    hiding: D.toBytes(),
    binding: E.toBytes(),
    elements: [D, E],
  };
  return {
    nonces: {
      hiding: suite.encodeScalar(d),
      binding: suite.encodeScalar(e),
      commitment: { hiding: commitment.hiding, binding: commitment.binding },
    },
    commitment,
  };
}

/** One signer's entry of a {@link SigningPackage}. */
interface SignerEntry {
  readonly hiding: GroupElement;
  readonly binding: GroupElement;
  readonly bindingFactor: bigint;
  /** Lagrange coefficient at 0 over the signer set. */
  readonly lambda: bigint;
  /** The signer's verifying share, negated when the group key is BIP340-odd. */
  readonly verifyingShare: GroupElement;
}

/** Everything one signing computes once from the key, the commitment list and the message. */
export interface SigningPackage {
  readonly suite: Ciphersuite;
  readonly message: Uint8Array;
  /** Group commitment `R` (as aggregated, before any even-y adjustment). */
  readonly groupCommitment: GroupElement;
  /** Challenge `c`. */
  readonly challenge: bigint;
  /** bip340: the group key has odd y (signing shares are negated). */
  readonly negateKey: boolean;
  /** bip340: the group commitment has odd y (nonces are negated). */
  readonly negateNonces: boolean;
  readonly signers: ReadonlyMap<PartyId, SignerEntry>;
}

/**
 * Computes the binding factors, group commitment, challenge and per-signer values (RFC 9591
 * §4.4–§4.6) once for one signing.
 * @throws Error on a commitment list that is not a valid signer set of `key` or holds an invalid
 *   element encoding
 */
export function prepareSigning(
  suite: Ciphersuite,
  key: FrostShareFields,
  commitments: readonly NonceCommitment[],
  message: Uint8Array,
): SigningPackage {
  const { Fn, hashes } = suite;
  const keyEls = keyElements(suite, key);
  const list = [...commitments].sort((a, b) => a.party - b.party);
  if (list.length < key.threshold || list.length > key.parties.length)
    throw new Error(`wrong number of commitments: ${list.length}`);
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (!keyEls.verifying.has(c.party)) throw new Error(`party ${c.party} holds no share of this key`);
    if (i > 0 && list[i - 1]!.party === c.party) throw new Error(`duplicate commitment of party ${c.party}`);
  }
  const points = list.map(
    (c) => c.elements ?? ([suite.decodePoint(c.hiding), suite.decodePoint(c.binding)] as const),
  );
  const negateKey = hashes.hasEvenY !== undefined && !hashes.hasEvenY(keyEls.groupKey);
  const adjust = (p: GroupElement, negate: boolean) => (negate ? p.negate() : p);
  const groupKey = adjust(keyEls.groupKey, negateKey);
  const ids = list.map((c) => suite.encodeScalar(BigInt(c.party)));
  const encodedCommitments = concatBytes(...list.flatMap((c, i) => [ids[i]!, c.hiding, c.binding]));
  const rhoPrefix = concatBytes(groupKey.toBytes(), hashes.H4(message), hashes.H5(encodedCommitments));
  const bindingFactors = ids.map((id) => hashes.H1(concatBytes(rhoPrefix, id)));
  // R = Σ D_i + Σ ρ_i·E_i
  const groupCommitment = points.reduce(
    (acc, [D]) => acc.add(D),
    suite.msm(
      points.map(([, E]) => E),
      bindingFactors,
    ),
  );
  const negateNonces = hashes.hasEvenY !== undefined && !hashes.hasEvenY(groupCommitment);
  const challenge = hashes.challenge(groupCommitment, groupKey, message);
  const xs = list.map((c) => BigInt(c.party));
  const signers = new Map<PartyId, SignerEntry>();
  list.forEach((c, i) => {
    let num = Fn.ONE;
    let den = Fn.ONE;
    for (const x of xs) {
      if (x === xs[i]) continue;
      num = Fn.mul(num, x);
      den = Fn.mul(den, Fn.sub(x, xs[i]!));
    }
    signers.set(c.party, {
      hiding: points[i]![0],
      binding: points[i]![1],
      bindingFactor: bindingFactors[i]!,
      lambda: Fn.div(num, den),
      verifyingShare: adjust(keyEls.verifying.get(c.party)!, negateKey),
    });
  });
  return { suite, message, groupCommitment, challenge, negateKey, negateNonces, signers };
}

/**
 * Round two from a prepared package: this signer's share `z_i = d + e·ρ_i + λ_i·x_i·c` (with the
 * BIP340 negations). Zeroes `nonces`, so a second call with them fails.
 * @throws Error when the nonces were already used or the package does not carry their commitment
 */
export function signWithPackage(pkg: SigningPackage, share: FrostShare, nonces: SigningNonces): Uint8Array {
  const { suite } = pkg;
  const { Fn } = suite;
  const d0 = suite.decodeScalar(nonces.hiding);
  const e0 = suite.decodeScalar(nonces.binding);
  if (Fn.is0(d0) || Fn.is0(e0)) throw new Error("signing nonces already used");
  const own = pkg.signers.get(share.self);
  if (
    own === undefined ||
    !equalBytes(own.hiding.toBytes(), nonces.commitment.hiding) ||
    !equalBytes(own.binding.toBytes(), nonces.commitment.binding)
  )
    throw new Error("incorrect signer commitment");
  const sk = pkg.negateKey ? Fn.neg(share.secretShare) : share.secretShare;
  const d = pkg.negateNonces ? Fn.neg(d0) : d0;
  const e = pkg.negateNonces ? Fn.neg(e0) : e0;
  const z = Fn.add(Fn.add(d, Fn.mul(e, own.bindingFactor)), Fn.mul(Fn.mul(own.lambda, sk), pkg.challenge));
  (nonces.hiding as Uint8Array).fill(0);
  (nonces.binding as Uint8Array).fill(0);
  return suite.encodeScalar(z);
}

/**
 * Checks signer `party`'s share `z`: `z·G = ±(D + ρ·E) + (c·λ)·Y` (RFC 9591 §5.4; the sign is
 * BIP340's group commitment parity), variable time.
 */
export function verifyWithPackage(pkg: SigningPackage, party: PartyId, z: Uint8Array): boolean {
  const { suite } = pkg;
  const { Fn } = suite;
  const entry = pkg.signers.get(party);
  if (entry === undefined || z.length !== suite.scalarLength) return false;
  let zs: bigint;
  try {
    zs = suite.decodeScalar(z);
  } catch {
    return false;
  }
  const hiding = pkg.negateNonces ? entry.hiding.negate() : entry.hiding;
  const rho = pkg.negateNonces ? Fn.neg(entry.bindingFactor) : entry.bindingFactor;
  const rhs = hiding.add(
    suite.msm([entry.binding, entry.verifyingShare], [rho, Fn.mul(pkg.challenge, entry.lambda)]),
  );
  return suite.base.multiplyUnsafe(zs).equals(rhs);
}

/**
 * Sums the signature shares into the final signature `R || z` (scheme encoding). The caller
 * verifies the shares (and the result).
 * @throws Error unless there is exactly one share per signer of the package
 */
export function aggregateWithPackage(
  pkg: SigningPackage,
  shares: ReadonlyMap<PartyId, Uint8Array>,
): Uint8Array {
  const { suite } = pkg;
  if (shares.size !== pkg.signers.size) throw new Error("wrong number of signature shares");
  let z = suite.Fn.ZERO;
  for (const party of pkg.signers.keys()) {
    const share = shares.get(party);
    if (share === undefined) throw new Error(`missing signature share of party ${party}`);
    z = suite.Fn.add(z, suite.decodeScalar(share));
  }
  return suite.hashes.encodeSignature(pkg.groupCommitment, z);
}

/** Round two: this signer's share `z_i`. Zeroes `nonces`, so a second call with them fails. */
export function signatureShare(
  suite: Ciphersuite,
  share: FrostShare,
  nonces: SigningNonces,
  commitments: readonly NonceCommitment[],
  message: Uint8Array,
): Uint8Array {
  return signWithPackage(prepareSigning(suite, share, commitments, message), share, nonces);
}

/** Checks signer `party`'s share `z` against its verifying share (RFC 9591 §5.4). */
export function verifySignatureShare(
  suite: Ciphersuite,
  key: FrostShareFields,
  commitments: readonly NonceCommitment[],
  message: Uint8Array,
  party: PartyId,
  z: Uint8Array,
): boolean {
  return verifyWithPackage(prepareSigning(suite, key, commitments, message), party, z);
}

/** Sums the signature shares into the final signature `R || z` (scheme encoding). */
export function aggregateSignature(
  suite: Ciphersuite,
  key: FrostShareFields,
  commitments: readonly NonceCommitment[],
  message: Uint8Array,
  shares: ReadonlyMap<PartyId, Uint8Array>,
): Uint8Array {
  return aggregateWithPackage(prepareSigning(suite, key, commitments, message), shares);
}
