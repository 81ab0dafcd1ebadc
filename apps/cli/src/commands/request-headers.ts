/**
 * `custody request-headers <METHOD> <target> [--body FILE|-]`: prints the four signed-request
 * headers of one request (fresh timestamp and nonce, valid once within the API's 60 s window), for
 * calling the API from curl or the OpenAPI page's "Try it out". The body must be sent byte for byte
 * as given; the target as printed (its canonical form).
 * @module
 */
import { readFileSync } from "node:fs";
import { canonicalPath, signRequest } from "@custody/credentials";
import type { Command } from "commander";
import { action, type GlobalOpts, globals, target } from "./client.js";
import { SUMMARY } from "./summaries.js";

/** Adds `request-headers` to `program`. */
export function registerRequestHeadersCommand(program: Command): void {
  globals(
    program
      .command("request-headers")
      .description(SUMMARY["request-headers"])
      .argument("<method>", "HTTP method, e.g. GET or POST")
      .argument("<target>", "path and query, e.g. /v1/keys")
      .option("--body <file>", "the exact request body (`-` for stdin)"),
  ).action(
    action(async (method: string, path: string, o: GlobalOpts & { body?: string }) => {
      const { url, identity } = target(o);
      const body = o.body === undefined ? new Uint8Array() : readFileSync(o.body === "-" ? 0 : o.body);
      const canonical = canonicalPath(path);
      const headers = signRequest(identity.seed, identity.credential, method.toUpperCase(), canonical, body);
      if (o.json)
        return console.log(
          JSON.stringify({ method: method.toUpperCase(), url: new URL(canonical, url).href, headers }),
        );
      console.log(`# ${method.toUpperCase()} ${new URL(canonical, url).href}`);
      for (const [name, value] of Object.entries(headers)) console.log(`-H '${name}: ${value}'`);
    }),
  );
}
