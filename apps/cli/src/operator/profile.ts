/**
 * What operator commands share: the dev profile written by `custody dev`, and a connection to the
 * control account as the operator's control admin.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { connectNats, readCreds } from "@custody/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Profile } from "../stack.js";

/** Reads the dev profile; fails with a hint when the stack never ran. */
export function readProfile(file: string): Profile {
  if (!existsSync(file)) throw new Error(`no profile ${file}: start \`custody dev\` first`);
  return JSON.parse(readFileSync(file, "utf8")) as Profile;
}

/** Connects to the control account as the operator's control admin (registry, audit, heartbeats). */
export function controlConnection(profile: Profile, name: string): Promise<NatsConnection> {
  return connectNats({
    servers: profile.natsUrls,
    credentials: readCreds(profile.operator.controlCreds),
    tls: profile.adminTls,
    name,
  });
}
