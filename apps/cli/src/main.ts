#!/usr/bin/env node
/**
 * The `custody` command. Only the module of the command being run is loaded (the server commands
 * pull in the API, the workers and every protocol): `custody --help` lists the commands from their
 * summaries alone and starts in a fraction of the time.
 * @module
 */
import { Command } from "commander";
import { type CommandName, SUMMARY } from "./commands/summaries.js";

type Register = (program: Command) => void;

/** Which module registers each top-level command. */
const MODULES: Record<CommandName, () => Promise<Register>> = {
  dev: async () => (await import("./commands/serve.js")).registerServeCommands,
  api: async () => (await import("./commands/serve.js")).registerServeCommands,
  worker: async () => (await import("./commands/serve.js")).registerServeCommands,
  init: async () => (await import("./commands/init.js")).registerInitCommands,
  "nats-config": async () => (await import("./commands/nats-config.js")).registerNatsConfigCommands,
  provision: async () => (await import("./commands/provision.js")).registerProvisionCommands,
  keys: async () => (await import("./commands/client.js")).registerClientCommands,
  sign: async () => (await import("./commands/client.js")).registerClientCommands,
  operations: async () => (await import("./commands/client.js")).registerClientCommands,
  events: async () => (await import("./commands/events.js")).registerEventCommands,
  webhooks: async () => (await import("./commands/events.js")).registerEventCommands,
  credentials: async () => (await import("./commands/credentials.js")).registerCredentialCommands,
  audit: async () => (await import("./commands/audit.js")).registerAuditCommands,
  tenants: async () => (await import("./commands/tenants.js")).registerTenantCommands,
  identities: async () => (await import("./commands/identities.js")).registerIdentityCommands,
  kek: async () => (await import("./commands/kek.js")).registerKekCommands,
  backup: async () => (await import("./commands/backup.js")).registerBackupCommands,
  restore: async () => (await import("./commands/backup.js")).registerBackupCommands,
  "request-headers": async () =>
    (await import("./commands/request-headers.js")).registerRequestHeadersCommand,
};

const isCommand = (name: string | undefined): name is CommandName => name !== undefined && name in MODULES;

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name("custody")
    .description("Self-hostable MPC custody: threshold keys, threshold signing, proactive refresh")
    .version("0.1.0");
  // The command asked for: the first word (after `help`, for `custody help <command>`).
  const words = argv.slice(2).filter((a) => !a.startsWith("-"));
  const asked = words[0] === "help" ? words[1] : words[0];
  if (isCommand(asked)) (await MODULES[asked]())(program);
  else for (const [name, summary] of Object.entries(SUMMARY)) program.command(name).description(summary);
  await program.parseAsync(argv);
}

main(process.argv).catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
