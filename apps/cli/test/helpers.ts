/**
 * Shared helpers of the end-to-end tests: a local stack in a temporary directory and independent
 * signature verifiers (OpenSSL through node:crypto for Ed25519, libsecp256k1 through tiny-secp256k1
 * for BIP340 and ECDSA).
 * @module
 */
import { createPublicKey, verify as opensslVerify } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ecc from "tiny-secp256k1";
import { Stack, type StackOptions, workerName } from "../src/index.js";

export { workerName };

/** Starts a stack in a fresh temporary directory. */
export async function startTestStack(o: Omit<StackOptions, "dir"> = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "custody-e2e-"));
  return Stack.start({
    heartbeatMs: 500,
    roundTimeoutMs: 8000,
    joinTimeoutMs: 8000,
    ackWaitMs: 6000,
    ...o,
    dir,
    output: "files",
  });
}

/** Stops a stack and removes its directory (kept when KEEP_E2E is set, for debugging). */
export async function stopTestStack(stack: Stack | undefined): Promise<void> {
  if (!stack) return;
  await stack.stop();
  if (!process.env.KEEP_E2E) rmSync(stack.options.dir, { recursive: true, force: true });
}

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** Verifies an Ed25519 signature with OpenSSL (node:crypto). */
export function verifyEd25519(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, "hex")]),
    format: "der",
    type: "spki",
  });
  return opensslVerify(null, message, key, Buffer.from(signatureHex, "hex"));
}

/** Verifies a BIP340 signature over a 32-byte message with libsecp256k1 (tiny-secp256k1). */
export function verifyBip340(xOnlyHex: string, message32: Uint8Array, signatureHex: string): boolean {
  return ecc.verifySchnorr(message32, Buffer.from(xOnlyHex, "hex"), Buffer.from(signatureHex, "hex"));
}

/** Lines of a process log that parse as JSON. */
export function logRecords(stack: Stack, name: string): Record<string, unknown>[] {
  const file = join(stack.options.dir, "logs", `${name}.log`);
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Names of the process logs. */
export function logNames(stack: Stack): string[] {
  return readdirSync(join(stack.options.dir, "logs")).map((f) => f.replace(/\.log$/, ""));
}

/** Polls `cond` until true or `timeoutMs` passed. */
export async function eventually(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
