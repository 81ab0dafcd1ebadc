/**
 * @custody/cli: the `custody` command and the local stack it launches.
 * @module
 */

export type { ClientFiles, LoadedClient } from "./dev-authority.js";
export {
  authorityPublicPath,
  ensureAuthority,
  issueClient,
  loadClient,
  readAuthorities,
} from "./dev-authority.js";
export type { Profile, StackOptions, StackProcess } from "./stack.js";
export { CLI_MAIN, Stack, workerName } from "./stack.js";
