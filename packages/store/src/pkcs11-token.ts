/**
 * One logged-in session on a PKCS#11 token, kept open and reused: the module is loaded and
 * initialised once per process, the token found by label or slot id, the user logged in with the
 * PIN. An operation that finds the user logged out (or its key handles gone) logs in again, one
 * whose session was closed or whose token went away reconnects, each once; anything else fails
 * closed with {@link KekUnavailableError}. Every call into the module is synchronous, so operations
 * never interleave on the session, however many callers use it at once.
 * The PIN is kept only in a private field and never appears in an error or a log.
 * @module
 */
import { readFileSync } from "node:fs";
import pkcs11js from "pkcs11js";
import { KekConfigError, KekUnavailableError } from "./kek-provider.js";
import { SealError } from "./seal-error.js";

type Module = InstanceType<typeof pkcs11js.PKCS11>;
type Handle = Buffer;

/** Where the token is and how to log in to it. */
export interface Pkcs11TokenConfig {
  /** Path of the PKCS#11 module (shared library). */
  readonly module: string;
  /** Label of the token (what `softhsm2-util --show-slots` calls Label). */
  readonly token?: string;
  /** Slot id of the token, instead of (or with) its label. */
  readonly slot?: number;
  /** File holding the user PIN (trailing newline ignored). */
  readonly pinFile?: string;
  /** Environment variable holding the user PIN. */
  readonly pinEnv?: string;
}

/** What an operation gets: the module, the open session and the party's keys by label. */
export interface TokenContext {
  readonly p11: Module;
  readonly session: Handle;
  /** The handle of the AES KEK labelled `label` (checked once, then cached). */
  key(label: string): Handle;
}

const RELOGIN = new Set([
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  pkcs11js.CKR_KEY_HANDLE_INVALID,
]);
const RECONNECT = new Set([
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
]);
const modules = new Map<string, Module>();

/** The PKCS#11 return value (`CKR_*` code) of an error from the module, if it is one. */
export function ckr(e: unknown): number | undefined {
  return e instanceof pkcs11js.Pkcs11Error ? e.code : undefined;
}

/** A logged-in session on one token. */
export class Pkcs11Token {
  readonly #pin: string;
  readonly #keys = new Map<string, Handle>();
  #session: Handle | undefined;

  private constructor(
    private readonly config: Pkcs11TokenConfig,
    private readonly p11: Module,
    private readonly keyCheck: (p11: Module, session: Handle, label: string, key: Handle) => void,
    readonly flags: number,
  ) {
    this.#pin = readPin(config);
  }

  /**
   * Loads the module, opens a session (read-write when `readWrite`) and logs in. `keyCheck` vets
   * each key the first time it is looked up. Throws KekUnavailableError when any step fails.
   */
  static connect(
    config: Pkcs11TokenConfig,
    keyCheck: (p11: Module, session: Handle, label: string, key: Handle) => void,
    readWrite = false,
  ): Pkcs11Token {
    const flags = pkcs11js.CKF_SERIAL_SESSION | (readWrite ? pkcs11js.CKF_RW_SESSION : 0);
    const token = new Pkcs11Token(config, loadModule(config.module), keyCheck, flags);
    token.#reconnect();
    return token;
  }

  /** Runs `op` on the session, recovering once from a logout or a lost session (or reconnecting after one). */
  run<T>(op: (ctx: TokenContext) => T): T {
    if (!this.#session) this.#reconnect();
    try {
      return op(this.#context());
    } catch (e) {
      const code = ckr(e);
      if (code !== undefined && RELOGIN.has(code)) this.#relogin();
      else if (code !== undefined && RECONNECT.has(code)) this.#reconnect();
      else throw failClosed(e);
    }
    try {
      return op(this.#context());
    } catch (e) {
      throw failClosed(e);
    }
  }

  /** Closes the session (the module stays loaded for other users in the process); a later run() reconnects. */
  close(): void {
    const s = this.#session;
    this.#session = undefined;
    this.#keys.clear();
    if (s) {
      try {
        this.p11.C_CloseSession(s);
      } catch {
        // already gone with its token: nothing left to close
      }
    }
  }

  #context(): TokenContext {
    const session = this.#session!; // run() connects first
    return {
      p11: this.p11,
      session,
      key: (label) => {
        const cached = this.#keys.get(label);
        if (cached) return cached;
        const key = findKey(this.p11, session, label, this.#tokenName());
        this.keyCheck(this.p11, session, label, key);
        this.#keys.set(label, key);
        return key;
      },
    };
  }

  #relogin(): void {
    this.#keys.clear();
    this.#login(this.#session!);
  }

  #reconnect(): void {
    this.close();
    const slot = findSlot(this.p11, this.config, this.#tokenName());
    const session = guard(() => this.p11.C_OpenSession(slot, this.flags), "token-missing", this.#tokenName());
    this.#login(session);
    this.#session = session;
  }

  /**
   * Logs in with the PIN. Login state is per application: when another session of this process is
   * logged in already, it logs out and in again, so a wrong PIN is refused all the same (the other
   * sessions' owners log in again on their next operation).
   */
  #login(session: Handle): void {
    try {
      this.p11.C_Login(session, pkcs11js.CKU_USER, this.#pin);
    } catch (e) {
      if (ckr(e) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw this.#refused(e);
      try {
        this.p11.C_Logout(session);
        this.p11.C_Login(session, pkcs11js.CKU_USER, this.#pin);
      } catch (again) {
        throw this.#refused(again);
      }
    }
  }

  #refused(e: unknown): KekUnavailableError {
    return new KekUnavailableError("login-failed", `login to ${this.#tokenName()} refused (${errorName(e)})`);
  }

  #tokenName(): string {
    return this.config.token !== undefined ? `token "${this.config.token}"` : `slot ${this.config.slot}`;
  }
}

function loadModule(path: string): Module {
  const known = modules.get(path);
  if (known) return known;
  const p11 = new pkcs11js.PKCS11();
  try {
    p11.load(path);
  } catch {
    throw new KekUnavailableError("module-missing", `PKCS#11 module ${path} cannot be loaded`);
  }
  try {
    p11.C_Initialize();
  } catch (e) {
    if (ckr(e) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)
      throw new KekUnavailableError(
        "module-missing",
        `PKCS#11 module ${path} failed to initialise (${errorName(e)})`,
      );
  }
  modules.set(path, p11);
  return p11;
}

function findSlot(p11: Module, config: Pkcs11TokenConfig, name: string): Handle {
  const slots = guard(() => p11.C_GetSlotList(true), "token-missing", name).filter((slot) => {
    if (config.slot !== undefined && handleNumber(slot) !== config.slot) return false;
    if (config.token === undefined) return true;
    try {
      return p11.C_GetTokenInfo(slot).label.trimEnd() === config.token;
    } catch {
      return false; // a token that does not answer is not the one we look for
    }
  });
  if (slots.length > 1) throw new KekConfigError("invalid", `${slots.length} tokens match ${name}`);
  const slot = slots[0];
  if (!slot) throw new KekUnavailableError("token-missing", `no ${name} in PKCS#11 module ${config.module}`);
  return slot;
}

function findKey(p11: Module, session: Handle, label: string, name: string): Handle {
  p11.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  let found: Handle[];
  try {
    found = p11.C_FindObjects(session, 2);
  } finally {
    p11.C_FindObjectsFinal(session);
  }
  if (found.length > 1)
    throw new KekUnavailableError("key-unsuitable", `${name} holds several keys labelled "${label}"`);
  const key = found[0];
  if (!key) throw new KekUnavailableError("key-missing", `${name} holds no AES key labelled "${label}"`);
  return key;
}

function readPin(config: Pkcs11TokenConfig): string {
  let pin: string | undefined;
  let source = `environment variable ${config.pinEnv}`;
  if (config.pinFile !== undefined) {
    source = `PIN file ${config.pinFile}`;
    try {
      pin = readFileSync(config.pinFile, "utf8").replace(/\r?\n$/, "");
    } catch {
      throw new KekUnavailableError("pin-unreadable", `${source} cannot be read`);
    }
  } else if (config.pinEnv !== undefined) pin = process.env[config.pinEnv];
  if (!pin) throw new KekUnavailableError("pin-unreadable", `${source} holds no PIN`);
  return pin;
}

function guard<T>(f: () => T, reason: "token-missing", name: string): T {
  try {
    return f();
  } catch (e) {
    throw new KekUnavailableError(reason, `${name} unavailable (${errorName(e)})`);
  }
}

/** Our typed errors pass; any other failure of the module becomes KekUnavailableError `token-error`. */
function failClosed(e: unknown): Error {
  if (e instanceof KekUnavailableError || e instanceof SealError || e instanceof KekConfigError) return e;
  return new KekUnavailableError("token-error", `PKCS#11 operation failed (${errorName(e)})`);
}

function errorName(e: unknown): string {
  return e instanceof pkcs11js.Pkcs11Error ? e.message : e instanceof Error ? e.name : "error";
}

function handleNumber(h: Handle): number {
  return Number(h.length >= 8 ? h.readBigUInt64LE(0) : h.readUInt32LE(0));
}
