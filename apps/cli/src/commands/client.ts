/**
 * Client commands: keys create/list/show/refresh and sign. They talk to the API only, wait for the
 * operation, and print a human summary or, with --json, one JSON object.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ApiProblem, CustodyClient, type Key, type Operation } from "@custody/sdk";
import type { Command } from "commander";
import { type ClientFiles, loadClient } from "../dev-authority.js";

/** Default location of the dev profile. */
export const DEFAULT_PROFILE = ".custody/dev/profile.json";

/** Options every client command takes. */
export interface GlobalOpts {
  api?: string;
  profile?: string;
  seed?: string;
  credential?: string;
  json?: boolean;
  timeout?: string;
}

/**
 * The API client: URL from --api, $CUSTODY_API_URL or the profile; identity (NKey seed file and
 * credential file) from --seed/--credential or the profile's admin client. Requests are signed.
 */
export function client(opts: GlobalOpts): CustodyClient {
  const file = resolve(opts.profile ?? DEFAULT_PROFILE);
  const profile = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as { apiUrl: string; client?: ClientFiles })
    : undefined;
  const url = opts.api ?? process.env.CUSTODY_API_URL ?? profile?.apiUrl;
  if (!url) throw new Error(`no API given: pass --api URL or start \`custody dev\` (no ${file})`);
  const files =
    opts.seed && opts.credential ? { seedFile: opts.seed, credentialFile: opts.credential } : profile?.client;
  if (!files)
    throw new Error("no client credential: pass --seed FILE --credential FILE or use the dev profile");
  return new CustodyClient(url, loadClient(files));
}

const keyJson = (k: Key) => ({
  id: k.id,
  scheme: k.scheme,
  threshold: k.threshold,
  parties: k.parties.length,
  partyIds: k.parties,
  publicKey: k.publicKey,
  epoch: k.epoch,
  status: k.status,
  ...(k.label ? { label: k.label } : {}),
  ...(k.chainCode ? { chainCode: k.chainCode } : {}),
  ...(k.xpub ? { xpub: k.xpub } : {}),
});

function printKey(k: Key, json?: boolean) {
  if (json) return console.log(JSON.stringify(keyJson(k)));
  console.log(`key ${k.id}${k.label ? ` (${k.label})` : ""}`);
  console.log(
    `  scheme      ${k.scheme}, ${k.threshold}-of-${k.parties.length} (parties ${k.parties.join(", ")})`,
  );
  console.log(`  status      ${k.status}, epoch ${k.epoch}`);
  if (k.publicKey) console.log(`  public key  ${k.publicKey}`);
  if (k.xpub) console.log(`  xpub        ${k.xpub}`);
}

async function finish(c: CustodyClient, op: Operation, opts: GlobalOpts): Promise<Operation> {
  const done = await c.wait(op, Number(opts.timeout ?? 120) * 1000);
  if (done.status === "pending")
    throw new Error(`operation ${done.id} still pending after ${opts.timeout ?? 120}s`);
  if (done.status === "failed") {
    const e = done.error;
    throw new Error(
      `operation ${done.id} failed: ${e?.code}: ${e?.message}${e && e.culprits.length > 0 ? ` (culprits: ${e.culprits.join(", ")})` : ""}`,
    );
  }
  return done;
}

/** Wraps an action: prints API problems and errors to stderr, exit code 1. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ApiProblem) console.error(`error: ${e.message}`);
      else console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    }
  };
}

/** Adds the options every client command takes (API, profile, client identity, output) to `cmd`. */
export const globals = (cmd: Command) =>
  cmd
    .option("--api <url>", "API base URL (default: from the dev profile)")
    .option("--profile <file>", "profile file", DEFAULT_PROFILE)
    .option("--seed <file>", "client NKey seed file (default: the profile's admin client)")
    .option("--credential <file>", "client credential file")
    .option("--json", "print one JSON object")
    .option("--timeout <seconds>", "how long to wait for the operation", "120");

/** Adds the client commands to `program`. */
export function registerClientCommands(program: Command): void {
  const keys = program.command("keys").description("create, list, show and refresh threshold keys");

  globals(
    keys
      .command("create")
      .description("create a key by distributed key generation")
      .requiredOption("--scheme <scheme>", "ed25519 | bip340 | ecdsa-secp256k1")
      .requiredOption("--threshold <t>", "signers needed")
      .requiredOption("--parties <n>", "share holders")
      .option("--label <label>", "a name for the key"),
  ).action(
    action(async (o: GlobalOpts & { scheme: string; threshold: string; parties: string; label?: string }) => {
      const c = client(o);
      const op = await c.createKey({
        scheme: o.scheme,
        threshold: Number(o.threshold),
        parties: Number(o.parties),
        label: o.label,
      });
      const done = await finish(c, op, o);
      printKey(await c.getKey(done.keyId), o.json);
    }),
  );

  globals(keys.command("list").description("list keys")).action(
    action(async (o: GlobalOpts) => {
      const list = await client(o).listKeys();
      if (o.json) return console.log(JSON.stringify(list.map(keyJson)));
      if (list.length === 0) console.log("no keys");
      for (const k of list)
        console.log(
          `${k.id}  ${k.scheme.padEnd(15)} ${k.threshold}-of-${k.parties.length}  epoch ${k.epoch}  ${k.status}  ${k.publicKey ?? ""}`,
        );
    }),
  );

  globals(keys.command("show").description("show a key").argument("<id>")).action(
    action(async (id: string, o: GlobalOpts) => printKey(await client(o).getKey(id), o.json)),
  );

  globals(
    keys
      .command("refresh")
      .description("refresh a key's shares (same public key, next epoch)")
      .argument("<id>"),
  ).action(
    action(async (id: string, o: GlobalOpts) => {
      const c = client(o);
      await finish(c, await c.refresh(id), o);
      printKey(await c.getKey(id), o.json);
    }),
  );

  globals(
    program
      .command("sign")
      .description("sign a message with a key")
      .requiredOption("--key <id>", "key id")
      .requiredOption("--message <hex>", "message (ecdsa-secp256k1: 32-byte digest), hex")
      .option("--path <path>", "BIP32 non-hardened path, e.g. m/44/60/0/0/5"),
  ).action(
    action(async (o: GlobalOpts & { key: string; message: string; path?: string }) => {
      const c = client(o);
      const done = await finish(c, await c.sign(o.key, { message: o.message, path: o.path }), o);
      const s = done.signature!;
      if (o.json) {
        return console.log(
          JSON.stringify({
            signature: s.signature,
            publicKey: s.publicKey,
            keyId: s.keyId,
            epoch: s.epoch,
            ...(s.recoveryId !== undefined ? { recoveryId: s.recoveryId } : {}),
            ...(s.der ? { der: s.der } : {}),
            ...(s.path ? { path: s.path } : {}),
          }),
        );
      }
      console.log(`signature   ${s.signature}`);
      console.log(`public key  ${s.publicKey}${s.path ? ` (path ${s.path})` : ""}`);
      console.log(`key         ${s.keyId}, epoch ${s.epoch}, signers ${done.participants.join(", ")}`);
      if (s.recoveryId !== undefined) console.log(`recovery id ${s.recoveryId}`);
    }),
  );
}
