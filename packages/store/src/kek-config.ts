/**
 * Choosing a party's KEK provider from its configuration: a PKCS#11 KEK, or (development only) a
 * hex KEK file, which is refused unless the operator says `insecure-file-kek`.
 * @module
 */
import { FileKek } from "./file-kek.js";
import { KekConfigError, type KekProvider, kekRing } from "./kek-provider.js";
import { Pkcs11Kek, type Pkcs11KekConfig } from "./pkcs11-kek.js";

/** A party's KEK configuration: exactly one of `file` and `pkcs11`. */
export interface KekConfig {
  /** A hex KEK file (development only). */
  readonly file?: string;
  /** A KEK in a PKCS#11 token. */
  readonly pkcs11?: Pkcs11KekConfig;
  /**
   * The party's former KEK file, while moving to `pkcs11`: its records still open, new ones are
   * wrapped in the token. A file KEK too, so it needs `insecureFileKek`.
   */
  readonly retiredFile?: string;
  /** The operator's explicit consent to a file KEK (`insecure-file-kek`). */
  readonly insecureFileKek?: boolean;
}

/**
 * The provider `config` names, connected and checked. Throws KekConfigError `insecure-file-kek`
 * for a file KEK without the flag, `invalid` unless exactly one source is given, and
 * KekUnavailableError when the PKCS#11 KEK cannot be used (never falling back to a file).
 */
export async function kekProviderFromConfig(config: KekConfig): Promise<KekProvider> {
  if ((config.file === undefined) === (config.pkcs11 === undefined))
    throw new KekConfigError("invalid", "configure exactly one KEK: a PKCS#11 key or a KEK file");
  if (config.retiredFile !== undefined && config.pkcs11 === undefined)
    throw new KekConfigError("invalid", "a retired KEK file is only for moving to a PKCS#11 KEK");
  if ((config.file !== undefined || config.retiredFile !== undefined) && config.insecureFileKek !== true)
    throw new KekConfigError(
      "insecure-file-kek",
      "a KEK file leaves every share open to whoever reads the file; use a PKCS#11 KEK, or insecure-file-kek for development",
    );
  if (config.file !== undefined) return FileKek.fromFile(config.file);
  const retired = config.retiredFile !== undefined ? [FileKek.fromFile(config.retiredFile)] : [];
  return kekRing(await Pkcs11Kek.open(config.pkcs11!), ...retired);
}
