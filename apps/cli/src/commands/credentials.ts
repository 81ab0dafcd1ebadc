/**
 * `custody credentials revoke <credential-or-id>`: an admin revokes a client credential of its
 * tenant through the API. From the next request on, the API and every party refuse it.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { CREDENTIAL_ID } from "@custody/runtime";
import type { Command } from "commander";
import { action, client, type GlobalOpts, globals } from "./client.js";

/** What to revoke: an id (64 hex digits), a file holding a credential, or the credential itself. */
function target(arg: string): { id: string } | { credential: string } {
  const s = arg.trim();
  if (CREDENTIAL_ID.test(s)) return { id: s };
  if (existsSync(s)) return { credential: readFileSync(s, "utf8").trim() };
  return { credential: s };
}

/** Adds `credentials revoke` to `program`. */
export function registerCredentialCommands(program: Command): void {
  const credentials = program.command("credentials").description("client credentials of the API");
  globals(
    credentials
      .command("revoke")
      .description(
        "revoke a client credential of your tenant (admin only); the API and every party refuse it",
      )
      .argument("<credential-or-id>", "the credential, a file holding it, or its id (64 hex digits)")
      .option("--reason <text>", "why (kept with the revocation)"),
  ).action(
    action(async (arg: string, o: GlobalOpts & { reason?: string }) => {
      const r = await client(o).revokeCredential(target(arg), o.reason);
      if (o.json) return console.log(JSON.stringify(r));
      console.log(`revoked credential ${r.id} of tenant ${r.tenant} at ${r.revokedAt}`);
    }),
  );
}
