/**
 * Process commands: `custody dev` (the whole local stack), `custody api` and `custody worker`.
 * @module
 */
import { join, resolve } from "node:path";
import { startApi, type TlsFiles } from "@custody/api";
import { parseListen } from "@custody/runtime";
import { startWorker } from "@custody/worker";
import type { Command } from "commander";
import { readAuthorities } from "../dev-authority.js";
import { Stack } from "../stack.js";
import { int, type KekFlags, kekOf } from "./kek-flags.js";
import { SUMMARY } from "./summaries.js";

/**
 * Webhook retry timing from `CUSTODY_WEBHOOK_FIRST_RETRY_MS` and `CUSTODY_WEBHOOK_TIMEOUT_MS`
 * (unset: the API's defaults); tests shorten them, and the event stream's keep-alive interval
 * with `CUSTODY_EVENTS_KEEPALIVE_MS`.
 */
function webhookPolicyFromEnv(env: NodeJS.ProcessEnv) {
  const ms = (name: string) => (env[name] ? int(env[name]) : undefined);
  return { firstDelayMs: ms("CUSTODY_WEBHOOK_FIRST_RETRY_MS"), timeoutMs: ms("CUSTODY_WEBHOOK_TIMEOUT_MS") };
}

/** mTLS client settings when all three files are given. */
function tlsOf(o: { tlsCa?: string; tlsCert?: string; tlsKey?: string }) {
  if (!o.tlsCa && !o.tlsCert && !o.tlsKey) return undefined;
  if (!o.tlsCa || !o.tlsCert || !o.tlsKey) throw new Error("--tls-ca, --tls-cert and --tls-key go together");
  return { caFile: o.tlsCa, certFile: o.tlsCert, keyFile: o.tlsKey };
}

function onSignals(stop: () => Promise<void>) {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

/** Adds dev, api and worker to `program`. */
export function registerServeCommands(program: Command): void {
  program
    .command("dev")
    .description(SUMMARY.dev)
    .option("--parties <n>", "number of parties", "3")
    .option("--workers <n>", "workers per party", "1")
    .option("--port <port>", "API port", "8080")
    .option("--dir <dir>", "state directory", ".custody/dev")
    .option("--cluster", "run a 3-node JetStream cluster with R3 streams and buckets")
    .action(async (o: { parties: string; workers: string; port: string; dir: string; cluster?: boolean }) => {
      const stack = await Stack.start({
        dir: o.dir,
        parties: int(o.parties),
        workers: int(o.workers),
        apiPort: int(o.port),
        output: "files",
        cluster: o.cluster === true,
      });
      onSignals(() => stack.stop());
      console.log(`Custody is running: API ${stack.apiUrl} (docs ${stack.apiUrl}/docs)`);
      console.log(
        `API metrics ${stack.apiMetricsUrl} (each worker logs its own: "metrics" in its ready line)`,
      );
      console.log(`Webhook signing key (Ed25519, base64url): ${stack.webhookPublicKey}`);
      console.log(
        `NATS ${stack.natsUrls.join(",")}; ${o.parties} parties x ${o.workers} worker(s); logs in ${o.dir}/logs`,
      );
      const profile = join(o.dir, "profile.json");
      console.log(
        profile === join(".custody/dev", "profile.json")
          ? `profile ${profile}; press Ctrl-C to stop`
          : `profile ${profile}: in another terminal, export CUSTODY_PROFILE=${resolve(profile)}; press Ctrl-C to stop`,
      );
    });

  program
    .command("api")
    .description(SUMMARY.api)
    .requiredOption("--nats <urls>", "comma-separated NATS URLs")
    .requiredOption("--creds <file>", "NATS credentials file of the API identity (control account)")
    .requiredOption("--authority <file>", "public keys of trusted credential authorities (one per line)")
    .option("--host <host>", "listen address", "127.0.0.1")
    .option("--port <port>", "listen port (0: any free port)", "8080")
    .option("--print-url", "print CUSTODY_API_URL=<url> once listening")
    .option("--webhook-key <file>", "Ed25519 seed (64 hex digits) that signs webhook deliveries")
    .option("--tls-ca <file>", "CA of the broker's mTLS")
    .option("--tls-cert <file>", "client certificate for mTLS")
    .option("--tls-key <file>", "client certificate key for mTLS")
    .option("--https-cert <file>", "serve HTTPS with this PEM certificate chain (reloaded on SIGHUP)")
    .option("--https-key <file>", "the PEM private key of --https-cert")
    .option("--https-client-ca <file>", "require client certificates signed by this PEM CA (mutual TLS)")
    .option("--metrics <host:port>", "serve Prometheus metrics at http://host:port/metrics")
    .action(
      async (o: {
        nats: string;
        creds: string;
        authority: string;
        httpsCert?: string;
        httpsKey?: string;
        httpsClientCa?: string;
        metrics?: string;
        host: string;
        port: string;
        printUrl?: boolean;
        webhookKey?: string;
        tlsCa?: string;
        tlsCert?: string;
        tlsKey?: string;
      }) => {
        const api = await startApi({
          servers: o.nats.split(","),
          credsFile: o.creds,
          host: o.host,
          port: int(o.port),
          authorities: readAuthorities(o.authority),
          tls: tlsOf(o),
          webhookKeyFile: o.webhookKey,
          webhookPolicy: webhookPolicyFromEnv(process.env),
          eventsKeepAliveMs: process.env.CUSTODY_EVENTS_KEEPALIVE_MS
            ? int(process.env.CUSTODY_EVENTS_KEEPALIVE_MS)
            : undefined,
          https: httpsOf(o),
          metrics: o.metrics ? parseListen(o.metrics) : undefined,
        });
        onSignals(() => api.stop());
        if (o.printUrl) {
          console.log(`CUSTODY_API_URL=${api.url}`);
          if (api.metricsUrl) console.log(`CUSTODY_METRICS_URL=${api.metricsUrl}`);
        }
      },
    );

  program
    .command("worker")
    .description(SUMMARY.worker)
    .requiredOption("--party <n>", "party index (1..255)")
    .requiredOption("--worker-id <id>", "worker id, unique within the party")
    .requiredOption("--nats <urls>", "comma-separated NATS URLs")
    .requiredOption("--creds <file>", "NATS credentials file of this worker (control account)")
    .option("--kek <file>", "a key-encryption key file (development only: needs --insecure-file-kek)")
    .option("--insecure-file-kek", "accept a KEK file (development only; production keeps the KEK in an HSM)")
    .option("--kek-pkcs11-module <file>", "PKCS#11 module holding the party's KEK (e.g. libsofthsm2.so)")
    .option("--kek-token <label>", "label of the PKCS#11 token")
    .option("--kek-slot <id>", "slot id of the PKCS#11 token (instead of, or with, --kek-token)")
    .option("--kek-pin-file <file>", "file holding the token's user PIN")
    .option("--kek-pin-env <name>", "environment variable holding the token's user PIN")
    .option("--kek-label <label>", "label of the AES-256 KEK in the token", "custody-kek")
    .option("--kek-retired-label <labels...>", "labels of earlier KEKs in the token whose records still open")
    .option(
      "--kek-retired-file <file>",
      "the former KEK file while moving to PKCS#11 (needs --insecure-file-kek)",
    )
    .option("--metrics <host:port>", "serve Prometheus metrics at http://host:port/metrics")
    .requiredOption(
      "--ledger <file>",
      "this worker's local ledger of bans and active epochs (kept across restarts)",
    )
    .requiredOption("--identity <file>", "the party's identity key file (signs protocol messages)")
    .requiredOption("--directory <file>", "the party directory (every party's identity public key)")
    .requiredOption("--authority <file>", "public keys of trusted credential authorities (one per line)")
    .option("--slots <n>", "concurrent sessions", "4")
    .option("--tls-ca <file>", "CA of the broker's mTLS")
    .option("--tls-cert <file>", "client certificate for mTLS")
    .option("--tls-key <file>", "client certificate key for mTLS")
    .option("--heartbeat-ms <ms>", "heartbeat interval", "2000")
    .option("--round-timeout-ms <ms>", "session round timeout", "30000")
    .option("--join-timeout-ms <ms>", "session join timeout", "20000")
    .option("--progress-ms <ms>", "interval of in-progress signals (a third of the ack wait)", "10000")
    .action(
      async (
        o: KekFlags & {
          party: string;
          workerId: string;
          nats: string;
          creds: string;
          ledger: string;
          metrics?: string;
          identity: string;
          directory: string;
          authority: string;
          tlsCa?: string;
          tlsCert?: string;
          tlsKey?: string;
          slots: string;
          heartbeatMs: string;
          roundTimeoutMs: string;
          joinTimeoutMs: string;
          progressMs: string;
        },
      ) => {
        const w = await startWorker({
          party: int(o.party),
          workerId: o.workerId,
          servers: o.nats.split(","),
          credsFile: o.creds,
          kek: kekOf(o),
          metrics: o.metrics ? parseListen(o.metrics) : undefined,
          ledgerFile: o.ledger,
          identityFile: o.identity,
          directoryFile: o.directory,
          authorities: readAuthorities(o.authority),
          tls: tlsOf(o),
          slots: int(o.slots),
          heartbeatMs: int(o.heartbeatMs),
          roundTimeoutMs: int(o.roundTimeoutMs),
          joinTimeoutMs: int(o.joinTimeoutMs),
          progressMs: int(o.progressMs),
        });
        onSignals(() => w.stop(true));
      },
    );
}

/** The HTTPS files of `custody api`, or none: a certificate needs its key. */
function httpsOf(o: { httpsCert?: string; httpsKey?: string; httpsClientCa?: string }): TlsFiles | undefined {
  if (!o.httpsCert && !o.httpsKey && !o.httpsClientCa) return undefined;
  if (!o.httpsCert || !o.httpsKey) throw new Error("--https-cert and --https-key go together");
  return { certFile: o.httpsCert, keyFile: o.httpsKey, clientCaFile: o.httpsClientCa };
}
