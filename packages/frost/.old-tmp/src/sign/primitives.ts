/**
 * The RFC 9591 signing computations (§5.1 commit, §5.2 sign, §5.3 aggregate, §5.4 share
 * verification), delegated to noble's ciphersuite and adapted to our share type. For `bip340`
 * noble's `schnorr_FROST` applies the BIP340 even-y normalisation of the group key and of R.
 * @module
 */
import type { PartyId } from "@custody/core";
import type {
  FrostPublic,
  FrostSecret,
  NonceCommitments,
  Nonces,
  RNG,
} from "@noble/curves/abstract/frost.js";
import type { TArg } from "@noble/curves/utils.js";
import type { Ciphersuite } from "../ciphersuite.js";
import type { FrostShare, FrostShareFields } from "../share.js";

/** One signer's public nonce commitments (hiding `D = d·G`, binding `E = e·G`). */
export interface NonceCommitment {
  readonly party: PartyId;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/** A signer's secret nonces; consumed (zeroed) by {@link signatureShare}. */
export type SigningNonces = Nonces;

const identifier = (suite: Ciphersuite, p: PartyId) => suite.frost.Identifier.fromNumber(p);

function toPublic(suite: Ciphersuite, key: FrostShareFields): TArg<FrostPublic> {
  return {
    signers: { min: key.threshold, max: key.parties.length },
    commitments: [key.groupKey],
    verifyingShares: Object.fromEntries(
      key.parties.map((p) => [identifier(suite, p), key.verifyingShares.get(p)!] as const),
    ),
  };
}

function toCommitments(suite: Ciphersuite, list: readonly NonceCommitment[]): TArg<NonceCommitments[]> {
  return list.map((c) => ({ identifier: identifier(suite, c.party), hiding: c.hiding, binding: c.binding }));
}

function toSecret(suite: Ciphersuite, share: FrostShare): TArg<FrostSecret> {
  return { identifier: identifier(suite, share.self), signingShare: suite.encodeScalar(share.secretShare) };
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
  const { nonces, commitments } = suite.frost.commit(toSecret(suite, share), rng);
  return {
    nonces,
    commitment: { party: share.self, hiding: commitments.hiding, binding: commitments.binding },
  };
}

/** Round two: this signer's share `z_i`. Zeroes `nonces`, so a second call with them fails. */
export function signatureShare(
  suite: Ciphersuite,
  share: FrostShare,
  nonces: SigningNonces,
  commitments: readonly NonceCommitment[],
  message: Uint8Array,
): Uint8Array {
  return suite.frost.signShare(
    toSecret(suite, share),
    toPublic(suite, share),
    nonces,
    toCommitments(suite, commitments),
    message,
  );
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
  return suite.frost.verifyShare(
    toPublic(suite, key),
    toCommitments(suite, commitments),
    message,
    identifier(suite, party),
    z,
  );
}

/** Sums the signature shares into the final signature `R || z` (scheme encoding). */
export function aggregateSignature(
  suite: Ciphersuite,
  key: FrostShareFields,
  commitments: readonly NonceCommitment[],
  message: Uint8Array,
  shares: ReadonlyMap<PartyId, Uint8Array>,
): Uint8Array {
  return suite.frost.aggregate(
    toPublic(suite, key),
    toCommitments(suite, commitments),
    message,
    Object.fromEntries([...shares].map(([p, z]) => [identifier(suite, p), z] as const)),
  );
}
