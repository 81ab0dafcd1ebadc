import { type LocalRun, type LocalRunOptions, type PartyId, ProtocolError, type Scheme, type SignatureOutput } from "@custody/core";
import type { FrostShare } from "../src/index.js";
/** A fresh 32-byte session id. */
export declare const sid: () => Uint8Array;
/** Parties 1..n. */
export declare const range: (n: number) => PartyId[];
/** Runs a DKG among `parties` with threshold `t`. */
export declare function keygen(scheme: Scheme<FrostShare>, parties: readonly PartyId[], t: number, options?: LocalRunOptions, sessionId?: Uint8Array<ArrayBufferLike>): LocalRun<FrostShare>;
/** Runs a DKG that must succeed; returns the shares by party. */
export declare function keygenOk(scheme: Scheme<FrostShare>, parties: readonly PartyId[], t: number): Map<PartyId, FrostShare>;
/** Runs signing by `signers`, each with its own share from `shares`. */
export declare function sign(scheme: Scheme<FrostShare>, shares: ReadonlyMap<PartyId, FrostShare>, signers: readonly PartyId[], message: Uint8Array, options?: LocalRunOptions, sessionId?: Uint8Array<ArrayBufferLike>): LocalRun<SignatureOutput>;
/** Runs a refresh among every holder in `shares`. */
export declare function refresh(scheme: Scheme<FrostShare>, shares: ReadonlyMap<PartyId, FrostShare>, options?: LocalRunOptions, sessionId?: Uint8Array<ArrayBufferLike>): LocalRun<FrostShare>;
/** Verifies with an implementation independent of noble. */
export declare function independentVerify(scheme: string, out: SignatureOutput, message: Uint8Array): boolean;
/** Asserts that every signer produced the same signature and that it verifies independently. */
export declare function assertSigned(scheme: Scheme<FrostShare>, run: LocalRun<SignatureOutput>, n: number, message: Uint8Array): SignatureOutput;
/** Asserts that `party` aborted with a ProtocolError of `kind` blaming exactly `culprits`. */
export declare function assertAbort(run: LocalRun<unknown>, party: PartyId, kind: string, culprits: readonly PartyId[]): ProtocolError;
//# sourceMappingURL=helpers.d.ts.map