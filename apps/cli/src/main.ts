#!/usr/bin/env node
/**
 * The `custody` command.
 * @module
 */
import { Command } from "commander";
import { registerAuditCommands } from "./commands/audit.js";
import { registerClientCommands } from "./commands/client.js";
import { registerCredentialCommands } from "./commands/credentials.js";
import { registerIdentityCommands } from "./commands/identities.js";
import { registerRequestHeadersCommand } from "./commands/request-headers.js";
import { registerServeCommands } from "./commands/serve.js";
import { registerTenantCommands } from "./commands/tenants.js";

const program = new Command()
  .name("custody")
  .description("Self-hostable MPC custody: threshold keys, threshold signing, proactive refresh")
  .version("0.1.0");
registerServeCommands(program);
registerClientCommands(program);
registerCredentialCommands(program);
registerAuditCommands(program);
registerTenantCommands(program);
registerIdentityCommands(program);
registerRequestHeadersCommand(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
