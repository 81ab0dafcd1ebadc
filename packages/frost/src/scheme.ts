/**
 * Assembles a {@link Scheme} from a ciphersuite: the same DKG, signing and refresh rounds for
 * every curve, with the curve-specific parts taken from the {@link Ciphersuite}.
 * @module
 */
import { ProtocolError, type Scheme, type SignatureOutput, type Step } from "@custody/core";
import { assertDerivationPath } from "./bip32.js";
import type { Ciphersuite } from "./ciphersuite.js";
import { startKeygen } from "./keygen/round1.js";
import { startRefresh } from "./refresh/round1.js";
import { decodeShare, encodeShare, type FrostShare, keyElements } from "./share.js";
import { type FrostSignParams, startSign } from "./sign/round1.js";

/** Highest round number used by any FROST protocol here (DKG and refresh: 3; signing: 2). */
export const FROST_MAX_ROUNDS = 3;

/**
 * Accepts any byte-string message. With derivation (bip340) a path must be at most 255
 * non-hardened indices (0..2^31-1); without it (ed25519) any non-empty path is rejected.
 */
function signInputChecker(suite: Ciphersuite) {
  return (message: Uint8Array, path?: readonly number[]): void => {
    if (!(message instanceof Uint8Array)) throw new ProtocolError("bad-input", "message must be bytes");
    if (path === undefined) return;
    if (suite.derivation) assertDerivationPath(path);
    else if (!Array.isArray(path) || path.length > 0)
      throw new ProtocolError("bad-input", `${suite.name} keys do not support derivation paths`);
  };
}

/** A FROST {@link Scheme}: its `sign` also takes the BIP341 Taproot option (bip340 only). */
export interface FrostScheme extends Scheme<FrostShare> {
  /** Starts threshold signing; see {@link FrostSignParams}. */
  sign(params: FrostSignParams): Step<SignatureOutput>;
}

/** Builds the {@link FrostScheme} for one ciphersuite. */
export function createScheme(suite: Ciphersuite): FrostScheme {
  const checkSignInput = signInputChecker(suite);
  return Object.freeze({
    name: suite.name,
    maxRounds: FROST_MAX_ROUNDS,
    keygen: (params) => startKeygen(suite, params),
    sign: (params) => startSign(suite, params, checkSignInput),
    refresh: (params) => startRefresh(suite, params),
    encodeShare: (share) => encodeShare(suite, share),
    decodeShare: (bytes) => decodeShare(suite, bytes),
    info: (share) => {
      if (share.scheme !== suite.name) throw new ProtocolError("bad-input", `not a ${suite.name} share`);
      return {
        publicKey: suite.publicKey(keyElements(suite, share).groupKey),
        ...(share.chainCode !== undefined
          ? { chainCode: share.chainCode.slice(), derivationKey: share.groupKey.slice() }
          : {}),
        threshold: share.threshold,
        parties: [...share.parties],
        self: share.self,
      };
    },
    checkSignInput,
  } satisfies FrostScheme);
}
