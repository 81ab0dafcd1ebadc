/**
 * A serialisable description of one protocol run, so the same session can be built on the main
 * thread or inside a worker thread. Results come out encoded (a share as bytes, a signature as
 * plain data), ready for storage or publication.
 * @module
 */
import { mapStep, type Scheme, type SignatureOutput, type Step } from "@custody/core";

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
    }
  | { readonly op: "refresh"; readonly scheme: string; readonly self: number; readonly share: Uint8Array };

/** The encoded outcome of a session. */
export type SessionOutput = { readonly share: Uint8Array } | { readonly signature: SignatureOutput };

/** The first step of the session described by `spec`, with its result encoded. */
export function beginSession(
  schemes: ReadonlyMap<string, Scheme<unknown>>,
  spec: SessionSpec,
  sessionId: Uint8Array,
): Step<SessionOutput> {
  const scheme = schemes.get(spec.scheme);
  if (!scheme) throw new Error(`scheme ${spec.scheme} is not supported`);
  const asShare = (s: unknown): SessionOutput => ({ share: scheme.encodeShare(s) });
  switch (spec.op) {
    case "keygen":
      return mapStep(
        scheme.keygen({ sessionId, self: spec.self, parties: spec.parties, threshold: spec.threshold }),
        asShare,
      );
    case "refresh":
      return mapStep(
        scheme.refresh({ sessionId, self: spec.self, share: scheme.decodeShare(spec.share) }),
        asShare,
      );
    case "sign":
      return mapStep(
        scheme.sign({
          sessionId,
          self: spec.self,
          share: scheme.decodeShare(spec.share),
          signers: spec.signers,
          message: spec.message,
          path: spec.path,
        }),
        (signature): SessionOutput => ({ signature }),
      );
  }
}
