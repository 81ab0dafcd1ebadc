/**
 * Client commands: keys create/list/show/refresh, sign and operations list/show/wait. They talk to the
 * API only, wait for the operation, and print a human summary or, with --json, one JSON object
 * (errors too). Every command that starts an operation sends an Idempotency-Key: a fresh one per
 * invocation, printed to stderr, or the one given with --idempotency-key, so a rerun after a
 * timeout or Ctrl-C resumes the same operation instead of starting a second one.
 * @module
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ApiProblem, CustodyClient, type Key, type Operation, type OperationQuery } from "@custody/sdk";
import type { Command } from "commander";
import { type ClientFiles, type LoadedClient, loadClient } from "../dev-authority.js";
import { SUMMARY } from "./summaries.js";

/** Default profile: `$CUSTODY_PROFILE`, else the one `custody dev` writes by default. */
export const DEFAULT_PROFILE = process.env.CUSTODY_PROFILE ?? ".custody/dev/profile.json";

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
 * Where the API is and who calls it: URL from --api, $CUSTODY_API_URL or the profile; identity
 * (NKey seed file and credential file) from --seed/--credential or the profile's admin client.
 */
export function target(opts: GlobalOpts): { url: string; identity: LoadedClient } {
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
  return { url, identity: loadClient(files) };
}

/** The API client of {@link target}; every request is signed. */
export function client(opts: GlobalOpts): CustodyClient {
  const t = target(opts);
  return new CustodyClient(t.url, t.identity);
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
  ...(k.taproot ? { taproot: k.taproot } : {}),
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
  if (k.taproot) console.log(`  taproot     ${k.taproot.address} (BIP86 output key ${k.taproot.outputKey})`);
}

/** How long a signing request asks the API to hold its answer for the end (`Prefer: wait`). */
const heldSeconds = (opts: GlobalOpts) => Math.min(30, Number(opts.timeout ?? 120));

async function finish(
  c: CustodyClient,
  op: Operation,
  opts: GlobalOpts,
  startedAt = Date.now(),
): Promise<Operation> {
  console.error(`operation ${op.id} (custody operations show ${op.id})`);
  const done = await c.wait(op, Math.max(0, startedAt + Number(opts.timeout ?? 120) * 1000 - Date.now()));
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

/**
 * Wraps an action: prints API problems and errors to stderr (one JSON object under --json: the
 * problem's fields, or `{ "error": message }`), exit code 1.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      // commander passes (...arguments, options, command): the options are second to last.
      const opts = args[args.length - 2] as { json?: boolean } | undefined;
      const message = e instanceof Error ? e.message : String(e);
      if (opts?.json)
        console.error(
          JSON.stringify(
            e instanceof ApiProblem ? { error: message, status: e.status, ...e.body } : { error: message },
          ),
        );
      else console.error(`error: ${message}`);
      process.exitCode = 1;
    }
  };
}

/** The Idempotency-Key of this invocation: the one given, or a fresh one (printed, to resume with). */
function idempotencyKey(o: { idempotencyKey?: string }): string {
  if (o.idempotencyKey) return o.idempotencyKey;
  const key = `cli-${randomBytes(12).toString("hex")}`;
  console.error(`idempotency key ${key} (rerun with --idempotency-key ${key} to resume this operation)`);
  return key;
}

/** Message bytes as hex from --message (hex, `0x` allowed), --message-file (raw bytes) or stdin (`-`). */
function messageHex(o: { message?: string; messageFile?: string }): string {
  if (o.message !== undefined && o.messageFile !== undefined)
    throw new Error("give either --message or --message-file, not both");
  if (o.messageFile !== undefined)
    return readFileSync(o.messageFile === "-" ? 0 : o.messageFile).toString("hex");
  if (o.message === undefined) throw new Error("give --message <hex> or --message-file <file|->");
  return o.message.replace(/^0x/i, "");
}

/**
 * The messages of `custody sign --batch FILE` (`-`: stdin): a JSON array of `{ "message": hex,
 * "path"?: "m/…" }` (or of hex strings), `0x` allowed. A path that is given must be one: `""` is
 * refused, not read as the root key (leave `path` out for that).
 */
function batchMessages(file: string): { message: string; path?: string }[] {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch (e) {
    throw new Error(`--batch: not a JSON file: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(v)) throw new Error("--batch: expected a JSON array of messages");
  return v.map((m: unknown, i) => {
    const item = typeof m === "string" ? { message: m } : (m as { message?: unknown; path?: unknown });
    if (typeof item?.message !== "string" || (item.path !== undefined && typeof item.path !== "string"))
      throw new Error(`--batch: item ${i} is not { "message": hex, "path"?: string }`);
    if (item.path !== undefined && item.path !== "m" && !item.path.startsWith("m/"))
      throw new Error(
        `--batch: item ${i} has path ${JSON.stringify(item.path.slice(0, 32))}, not a BIP32 path m/…`,
      );
    return {
      message: item.message.replace(/^0x/i, ""),
      ...(item.path !== undefined ? { path: item.path } : {}),
    };
  });
}

type Idem = { idempotencyKey?: string };

/** Adds the options every client command takes (API, profile, client identity, output) to `cmd`. */
export const globals = (cmd: Command) =>
  cmd
    .option("--api <url>", "API base URL (default: from the dev profile)")
    .option("--profile <file>", "profile file", DEFAULT_PROFILE)
    .option("--seed <file>", "client NKey seed file (default: the profile's admin client)")
    .option("--credential <file>", "client credential file")
    .option("--json", "print one JSON object")
    .option("--timeout <seconds>", "how long to wait for the operation", "120");

/** Adds --idempotency-key to a command that starts an operation. */
const resumable = (cmd: Command) =>
  cmd.option("--idempotency-key <key>", "resume the operation a previous invocation started with this key");

/** Adds the client commands to `program`. */
export function registerClientCommands(program: Command): void {
  const keys = program.command("keys").description(SUMMARY.keys);

  globals(
    resumable(
      keys
        .command("create")
        .description("create a key by distributed key generation")
        .requiredOption("--scheme <scheme>", "ed25519 | bip340 | ecdsa-secp256k1")
        .requiredOption("--threshold <t>", "signers needed")
        .requiredOption("--parties <n>", "share holders")
        .option("--label <label>", "a name for the key"),
    ),
  ).action(
    action(
      async (
        o: GlobalOpts & Idem & { scheme: string; threshold: string; parties: string; label?: string },
      ) => {
        const c = client(o);
        const op = await c.createKey(
          {
            scheme: o.scheme,
            threshold: Number(o.threshold),
            parties: Number(o.parties),
            label: o.label,
          },
          { idempotencyKey: idempotencyKey(o) },
        );
        const done = await finish(c, op, o);
        printKey(await c.getKey(done.keyId), o.json);
      },
    ),
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
    resumable(
      keys
        .command("refresh")
        .description("refresh a key's shares (same public key, next epoch)")
        .argument("<id>"),
    ),
  ).action(
    action(async (id: string, o: GlobalOpts & Idem) => {
      const c = client(o);
      await finish(c, await c.refresh(id, { idempotencyKey: idempotencyKey(o) }), o);
      printKey(await c.getKey(id), o.json);
    }),
  );

  globals(
    resumable(
      program
        .command("sign")
        .description(SUMMARY.sign)
        .requiredOption("--key <id>", "key id")
        .option("--message <hex>", "message (ecdsa-secp256k1: 32-byte digest), hex, `0x` allowed")
        .option("--message-file <file>", "message bytes from a file, or `-` for stdin")
        .option("--path <path>", "BIP32 non-hardened path, e.g. m/44/60/0/0/5")
        .option(
          "--batch <file>",
          'sign a batch in one operation: a JSON array of {"message": hex, "path"?: "m/…"} (`-`: stdin)',
        )
        .option("--taproot", "bip340: sign for the BIP341 Taproot output key (BIP86 without --merkle-root)")
        .option(
          "--merkle-root <hex>",
          "with --taproot: the script tree root (32 bytes hex) the output key commits to",
        ),
    ),
  ).action(
    action(
      async (
        o: GlobalOpts &
          Idem & {
            key: string;
            message?: string;
            messageFile?: string;
            path?: string;
            batch?: string;
            taproot?: boolean;
            merkleRoot?: string;
          },
      ) => {
        if (o.batch !== undefined) return signBatch(o);
        const c = client(o);
        const message = messageHex(o);
        if (o.merkleRoot !== undefined && !o.taproot) throw new Error("--merkle-root needs --taproot");
        const taproot = o.taproot
          ? o.merkleRoot === undefined
            ? {}
            : { merkleRoot: o.merkleRoot.replace(/^0x/i, "") }
          : undefined;
        const startedAt = Date.now();
        const started = await c.sign(
          o.key,
          { message, path: o.path, ...(taproot ? { taproot } : {}) },
          { idempotencyKey: idempotencyKey(o), waitSeconds: heldSeconds(o) },
        );
        const done = await finish(c, started, o, startedAt);
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
              ...(s.taproot ? { taproot: s.taproot } : {}),
            }),
          );
        }
        console.log(`signature   ${s.signature}`);
        console.log(`public key  ${s.publicKey}${s.path ? ` (path ${s.path})` : ""}`);
        if (s.taproot)
          console.log(
            `taproot     ${s.taproot.address} (internal key ${s.taproot.internalKey}${s.taproot.merkleRoot ? `, merkle root ${s.taproot.merkleRoot}` : ""})`,
          );
        console.log(`key         ${s.keyId}, epoch ${s.epoch}, signers ${done.participants.join(", ")}`);
        if (s.recoveryId !== undefined) console.log(`recovery id ${s.recoveryId}`);
      },
    ),
  );

  /**
   * `custody sign --batch`: one operation for every message; prints the signatures in order. The
   * file is checked before any credential is loaded or request sent.
   */
  async function signBatch(
    o: GlobalOpts &
      Idem & {
        key: string;
        batch?: string;
        message?: string;
        messageFile?: string;
        path?: string;
        taproot?: boolean;
        merkleRoot?: string;
      },
  ) {
    if (o.message !== undefined || o.messageFile !== undefined || o.path !== undefined)
      throw new Error("--batch takes its messages and paths from the file only");
    if (o.merkleRoot !== undefined && !o.taproot) throw new Error("--merkle-root needs --taproot");
    const taproot = o.taproot
      ? o.merkleRoot === undefined
        ? {}
        : { merkleRoot: o.merkleRoot.replace(/^0x/i, "") }
      : undefined;
    const messages = batchMessages(o.batch!);
    const c = client(o);
    const startedAt = Date.now();
    const started = await c.signBatch(
      o.key,
      { messages, ...(taproot ? { taproot } : {}) },
      { idempotencyKey: idempotencyKey(o), waitSeconds: heldSeconds(o) },
    );
    const done = await finish(c, started, o, startedAt);
    const sigs = done.signatures ?? [];
    if (o.json) return console.log(JSON.stringify({ operationId: done.id, signatures: sigs }));
    sigs.forEach((s, i) => {
      console.log(`${i}  ${s.signature}  ${s.publicKey}${s.path ? `  ${s.path}` : ""}`);
    });
    console.error(`${sigs.length} signatures, key ${o.key}, signers ${done.participants.join(", ")}`);
  }

  const ops = program.command("operations").description(SUMMARY.operations);
  globals(
    ops
      .command("list")
      .description("the tenant's operations, newest first")
      .option("--status <status>", "pending, succeeded or failed")
      .option("--type <type>", "dkg, sign or refresh")
      .option("--key <id>", "only this key's operations")
      .option("--limit <n>", "page size, 1-100", "20")
      .option("--cursor <cursor>", "the next page (printed at the end of a page)"),
  ).action(
    action(
      async (
        o: GlobalOpts & { status?: string; type?: string; key?: string; limit: string; cursor?: string },
      ) => {
        const page = await client(o).listOperations({
          status: o.status as OperationQuery["status"],
          type: o.type as OperationQuery["type"],
          keyId: o.key,
          limit: Number(o.limit),
          cursor: o.cursor,
        });
        if (o.json) return console.log(JSON.stringify(page));
        for (const op of page.operations)
          console.log(
            `${op.createdAt}  ${op.id}  ${op.type.padEnd(7)} ${op.status.padEnd(9)} key ${op.keyId}` +
              (op.error ? `  ${op.error.code}` : ""),
          );
        if (page.operations.length === 0) console.log("no operations");
        if (page.next) console.log(`more: custody operations list --cursor ${page.next}`);
      },
    ),
  );
  globals(ops.command("show").description("show an operation").argument("<id>")).action(
    action(async (id: string, o: GlobalOpts) => printOperation(await client(o).operation(id), o.json)),
  );
  globals(
    ops.command("wait").description("wait until an operation ends, then show it").argument("<id>"),
  ).action(
    action(async (id: string, o: GlobalOpts) => {
      const op = await client(o).wait(id, Number(o.timeout ?? 120) * 1000);
      printOperation(op, o.json);
      if (op.status !== "succeeded") process.exitCode = 1;
    }),
  );
}

function printOperation(op: Operation, json?: boolean) {
  if (json) return console.log(JSON.stringify(op));
  console.log(`operation ${op.id}: ${op.type} of key ${op.keyId}, ${op.status}`);
  console.log(`  parties     ${op.participants.join(", ")}`);
  if (op.error) console.log(`  error       ${op.error.code}: ${op.error.message}`);
  if (op.signature) console.log(`  signature   ${op.signature.signature}`);
}
