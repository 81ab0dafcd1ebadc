/**
 * `custody init`: creates a deployment (operator material and one bundle per host) from flags.
 * @module
 */
import { isIP } from "node:net";
import { resolve } from "node:path";
import type { Command } from "commander";
import { InitError, type InitKek, initDeployment } from "../deploy/init.js";
import { int } from "./kek-flags.js";
import { SUMMARY } from "./summaries.js";

/** Collects repeated `name=address` flags. */
function addressOf(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const m = /^([A-Za-z0-9]+)=(.+)$/.exec(value);
  if (!m) throw new InitError(`expected name=address, not ${value}`);
  return { ...previous, [m[1]!]: m[2]! };
}

/** Adds `init` to `program`. */
export function registerInitCommands(program: Command): void {
  program
    .command("init")
    .description(SUMMARY.init)
    .requiredOption(
      "--out <dir>",
      "new (or empty) directory for the operator's material and the host bundles",
    )
    .option("--nats-nodes <n>", "NATS nodes (n1..)", "3")
    .option("--parties <n>", "party hosts (party1..), one worker each", "3")
    .option("--api-hosts <n>", "API hosts (api1..)", "2")
    .option(
      "--nats-host <name=address>",
      "address of a NATS node (repeatable; default <name>.custody.internal)",
      addressOf,
    )
    .option(
      "--api-host <name=address>",
      "address of an API host (repeatable; default <name>.custody.internal)",
      addressOf,
    )
    .option("--nats-port <port>", "client port of every NATS node", "4222")
    .option("--cluster-port <port>", "route port of every NATS node", "6222")
    .option("--api-port <port>", "HTTPS port of every API host", "8443")
    .option(
      "--kek-pkcs11-module <file>",
      "PKCS#11 module on the party hosts",
      "/usr/lib/softhsm/libsofthsm2.so",
    )
    .option("--kek-pin-file <file>", "where each party host keeps its token's PIN", "/etc/custody/kek.pin")
    .option(
      "--kek-label <label>",
      "label of each party's KEK in its token (token custody-party<N>)",
      "custody-kek",
    )
    .option("--insecure-file-kek", "give each party bundle a KEK file instead (development only)")
    .action(
      async (o: {
        out: string;
        natsNodes: string;
        parties: string;
        apiHosts: string;
        natsHost?: Record<string, string>;
        apiHost?: Record<string, string>;
        natsPort: string;
        clusterPort: string;
        apiPort: string;
        kekPkcs11Module: string;
        kekPinFile: string;
        kekLabel: string;
        insecureFileKek?: boolean;
      }) => {
        const kek: InitKek = o.insecureFileKek
          ? { kind: "file" }
          : { kind: "pkcs11", module: o.kekPkcs11Module, pinFile: o.kekPinFile, label: o.kekLabel };
        const out = resolve(o.out);
        const d = await initDeployment({
          out,
          natsNodes: int(o.natsNodes),
          parties: int(o.parties),
          apiHosts: int(o.apiHosts),
          addresses: { ...o.natsHost, ...o.apiHost },
          natsPort: int(o.natsPort),
          clusterPort: int(o.clusterPort),
          apiPort: int(o.apiPort),
          kek,
        });
        for (const h of d.hosts)
          if (h.role === "nats" && h.address && isIP(h.address))
            console.warn(
              `warning: ${h.name} has an IP address; NATS clients check its certificate by host name`,
            );
        console.log(
          `deployment in ${out}: ${d.hosts.map((h) => h.name).join(", ")} (one directory per host)`,
        );
        console.log(`NATS ${d.natsUrls.join(",")}; API ${d.apiUrls.join(",")}`);
        console.log(`${out}/operator is offline material: keep it off every host (see its README.txt)`);
      },
    );
}
