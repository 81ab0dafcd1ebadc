/**
 * `ecdsaScheme`: the DKLs23 threshold ECDSA scheme on secp256k1 behind the runtime's `Scheme`
 * contract (DKG, three-round signing, full refresh, BIP32 non-hardened derivation).
 * @module
 */
import { ProtocolError, type Scheme, type ShareInfo } from "@custody/core";
import { checkPath } from "./bip32.js";
import { makeContext } from "./keygen/context.js";
import { startDkg } from "./keygen/round1.js";
import { baseOtReceiveJob, baseOtSenderFinishJob } from "./ot/base-ot.js";
import { decodeShare, type EcdsaShare, encodeShare } from "./share.js";
import { checkDigest, makeSignContext } from "./sign/context.js";
import { startSign } from "./sign/round1.js";

/** The DKLs23 ECDSA scheme (name `ecdsa-secp256k1`). */
export const ecdsaScheme: Scheme<EcdsaShare> = Object.freeze<Scheme<EcdsaShare>>({
  name: "ecdsa-secp256k1",
  maxRounds: 3,
  keygen(p) {
    return startDkg(makeContext(p.sessionId, p.self, p.parties, p.threshold, { kind: "keygen" }, p.parallel));
  },
  sign(p) {
    return startSign(makeSignContext(p));
  },
  refresh(p) {
    if (p.self !== p.share.self) throw new ProtocolError("bad-input", "self does not match the share");
    return startDkg(
      makeContext(
        p.sessionId,
        p.self,
        p.share.parties,
        p.share.threshold,
        { kind: "refresh", share: p.share },
        p.parallel,
      ),
    );
  },
  jobs: [baseOtReceiveJob, baseOtSenderFinishJob],
  encodeShare,
  decodeShare,
  info(share: EcdsaShare): ShareInfo {
    return {
      publicKey: share.publicKey,
      chainCode: share.chainCode,
      threshold: share.threshold,
      parties: share.parties,
      self: share.self,
    };
  },
  checkSignInput(message: Uint8Array, path?: readonly number[]) {
    checkDigest(message);
    if (path !== undefined) checkPath(path);
  },
});
