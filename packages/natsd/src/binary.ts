/**
 * Locates the nats-server binary: `$NATS_SERVER_BIN`, Debian's `/usr/sbin/nats-server`, then `PATH`.
 * @module
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Raised when no nats-server binary can be found. */
export class NatsServerNotFoundError extends Error {
  override readonly name = "NatsServerNotFoundError";
}

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** Absolute path of the nats-server binary to run. */
export function findNatsServer(): string {
  const env = process.env.NATS_SERVER_BIN;
  if (env) {
    if (executable(env)) return env;
    throw new NatsServerNotFoundError(`NATS_SERVER_BIN=${env} is not executable`);
  }
  const candidates = [
    "/usr/sbin/nats-server",
    ...(process.env.PATH ?? "").split(delimiter).map((d) => join(d, "nats-server")),
  ];
  const found = candidates.find(executable);
  if (!found) {
    throw new NatsServerNotFoundError(
      "nats-server not found: install the Debian package nats-server or set NATS_SERVER_BIN",
    );
  }
  return found;
}
