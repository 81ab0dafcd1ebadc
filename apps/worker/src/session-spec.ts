/**
 * A serialisable description of one protocol run, so the same session can be built on the main
 * thread or inside a worker thread. Results come out encoded (a share as bytes, a signature as
 * plain data), ready for storage or publication.
 * @module
 */
import {
  type BatchSignItem,
  inline,
  mapStep,
  type ParallelMap,
  ProtocolError,
  type Scheme,
  type SignatureOutput,
  type SignParams,
  type Step,
  signBatch,
} from "@custody/core";
import type { TaprootOption } from "@custody/frost";
import type { SignWork } from "@custody/proto";
import { TAPROOT_SCHEMES } from "./schemes.js";

/** Which protocol to run and with what. */
export type SessionSpec =
  | {
      readonly op: "keygen";
      readonly scheme: string;
      readonly self: number;
      readonly parties: number[];
      readonly threshold: number;
    }
  | {
      readonly op: "sign";
      readonly scheme: string;
      readonly self: number;
      readonly signers: number[];
      readonly share: Uint8Array;
      readonly message: Uint8Array;
      readonly path?: number[];
      /** Sign for the BIP341 Taproot output key (bip340 only). */
      readonly taproot?: TaprootOption;
    }
  | {
      /** Every item signed by its own protocol instance, all in one session (see `signBatch`). */
      readonly op: "sign-batch";
      readonly scheme: string;
      readonly self: number;
      readonly signers: number[];
      readonly share: Uint8Array;
      readonly items: readonly BatchSignItem[];
      /** Sign every item for the BIP341 Taproot output key of its (derived) key (bip340 only). */
      readonly taproot?: TaprootOption;
    }
  | { readonly op: "refresh"; readonly scheme: string; readonly self: number; readonly share: Uint8Array };

/** The encoded outcome of a session. */
export type SessionOutput =
  | { readonly share: Uint8Array }
  | { readonly signature: SignatureOutput }
  | { readonly signatures: SignatureOutput[] };

/** The Taproot option a sign work item carries: none, BIP86 (empty merkle root) or a merkle root. */
export function taprootOf(work: SignWork): TaprootOption | undefined {
  if (work.taproot === undefined) return undefined;
  const root = work.taproot.merkleRoot;
  return root.length === 0 ? {} : { merkleRoot: root };
}

/**
 * The first step of the session described by `spec`, with its result encoded. Key generation and
 * refresh run their independent jobs through `parallel`.
 */
export function beginSession(
  schemes: ReadonlyMap<string, Scheme<unknown>>,
  spec: SessionSpec,
  sessionId: Uint8Array,
  parallel: ParallelMap = inline,
): Step<SessionOutput> {
  const scheme = schemes.get(spec.scheme);
  if (!scheme) throw new Error(`scheme ${spec.scheme} is not supported`);
  const asShare = (s: unknown): SessionOutput => ({ share: scheme.encodeShare(s) });
  switch (spec.op) {
    case "keygen":
      return mapStep(
        scheme.keygen({
          sessionId,
          self: spec.self,
          parties: spec.parties,
          threshold: spec.threshold,
          parallel,
        }),
        asShare,
      );
    case "refresh":
      return mapStep(
        scheme.refresh({ sessionId, self: spec.self, share: scheme.decodeShare(spec.share), parallel }),
        asShare,
      );
    case "sign": {
      const params = {
        sessionId,
        self: spec.self,
        signers: spec.signers,
        message: spec.message,
        path: spec.path,
      };
      return mapStep(signerOf(schemes, spec)(params), (signature): SessionOutput => ({ signature }));
    }
    case "sign-batch": {
      const params = { sessionId, self: spec.self, signers: spec.signers };
      return mapStep(
        signBatch(signerOf(schemes, spec), params, spec.items),
        (signatures): SessionOutput => ({ signatures }),
      );
    }
  }
}

/** The signing protocol of `spec`'s scheme with its share decoded (for the Taproot output key when asked). */
function signerOf(
  schemes: ReadonlyMap<string, Scheme<unknown>>,
  spec: Extract<SessionSpec, { op: "sign" | "sign-batch" }>,
): (params: Omit<SignParams<unknown>, "share">) => Step<SignatureOutput> {
  if (spec.taproot === undefined) {
    const scheme = schemes.get(spec.scheme)!;
    const share = scheme.decodeShare(spec.share);
    return (params) => scheme.sign({ ...params, share });
  }
  const taproot = TAPROOT_SCHEMES.get(spec.scheme);
  if (!taproot) throw new ProtocolError("bad-input", `${spec.scheme} keys do not support taproot`);
  const share = taproot.decodeShare(spec.share);
  const option = spec.taproot;
  return (params) => taproot.sign({ ...params, share, taproot: option });
}
