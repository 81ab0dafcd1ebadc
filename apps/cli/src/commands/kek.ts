/**
 * `custody kek init`: generates a party's KEK inside its PKCS#11 token (AES-256, sensitive, never
 * extractable, encrypt/decrypt only), under a label the worker is then started with.
 * @module
 */
import { createPkcs11Kek } from "@custody/store";
import type { Command } from "commander";
import { type KekFlags, kekOf } from "./kek-flags.js";
import { SUMMARY } from "./summaries.js";

/** Adds `kek init` to `program`. */
export function registerKekCommands(program: Command): void {
  const kek = program.command("kek").description(SUMMARY.kek);
  kek
    .command("init")
    .description("create the party's KEK in its PKCS#11 token (refuses a label already taken)")
    .requiredOption("--kek-pkcs11-module <file>", "PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so)")
    .option("--kek-token <label>", "label of the token")
    .option("--kek-slot <id>", "slot id of the token")
    .option("--kek-pin-file <file>", "file holding the token's user PIN")
    .option("--kek-pin-env <name>", "environment variable holding the token's user PIN")
    .option("--kek-label <label>", "label of the new key", "custody-kek")
    .action(async (o: KekFlags) => {
      const { pkcs11 } = kekOf(o);
      const id = await createPkcs11Kek(pkcs11!);
      console.log(`created ${id}: start the party's workers with --kek-label ${o.kekLabel ?? "custody-kek"}`);
    });
}
