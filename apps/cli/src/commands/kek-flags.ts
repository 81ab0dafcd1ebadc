/**
 * The KEK flags of `custody worker` and `custody kek init`, and the store configuration they mean.
 * Kept apart from the server commands so that `kek init` loads neither the API nor the worker.
 * @module
 */
import type { KekConfig } from "@custody/store";

/** A non-negative integer flag value; throws for anything else. */
export const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
};

/** The party's KEK configuration from the worker's flags (checked by the store: exactly one source). */
export function kekOf(o: KekFlags): KekConfig {
  const pkcs11 = o.kekPkcs11Module
    ? {
        module: o.kekPkcs11Module,
        token: o.kekToken,
        slot: o.kekSlot === undefined ? undefined : int(o.kekSlot),
        pinFile: o.kekPinFile,
        pinEnv: o.kekPinEnv,
        keyLabel: o.kekLabel ?? "custody-kek",
        retiredKeyLabels: o.kekRetiredLabel,
      }
    : undefined;
  return { file: o.kek, pkcs11, retiredFile: o.kekRetiredFile, insecureFileKek: o.insecureFileKek === true };
}

/** The KEK flags of `custody worker` (and `custody kek init`). */
export interface KekFlags {
  kek?: string;
  insecureFileKek?: boolean;
  kekPkcs11Module?: string;
  kekToken?: string;
  kekSlot?: string;
  kekPinFile?: string;
  kekPinEnv?: string;
  kekLabel?: string;
  kekRetiredLabel?: string[];
  kekRetiredFile?: string;
}
