/**
 * Process commands: `custody dev` (the whole local stack), `custody api` and `custody worker` (their
 * settings from flags, environment or a config file: see `config.ts`).
 * @module
 */
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { startApi, type TlsFiles } from "@custody/api";
import { parseListen } from "@custody/runtime";
import { startWorker } from "@custody/worker";
import type { Command } from "commander";
import { readAuthorities } from "../dev-authority.js";
import { Stack } from "../stack.js";
import { addSettingFlags, brokerTlsOf, ConfigError, Settings } from "./config.js";
import { int, type KekFlags, kekOf } from "./kek-flags.js";
import { SUMMARY } from "./summaries.js";

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

  addSettingFlags(program.command("api").description(SUMMARY.api), "api").action(
    async (flags: Record<string, unknown>) => {
      const s = Settings.resolve("api", flags);
      const api = await startApi({
        servers: s.list("nats")!,
        credsFile: s.str("creds"),
        host: s.str("host"),
        port: s.int("port"),
        authorities: readAuthorities(s.str("authority")),
        tls: brokerTlsOf(s),
        webhookKeyFile: s.opt("webhook-key"),
        webhookPolicy: {
          firstDelayMs: s.optInt("webhook-first-retry-ms"),
          timeoutMs: s.optInt("webhook-timeout-ms"),
        },
        eventsKeepAliveMs: s.optInt("events-keepalive-ms"),
        https: httpsOf(s),
        metrics: s.opt("metrics") ? parseListen(s.str("metrics")) : undefined,
        signRate: signRateOf(s),
      });
      onSignals(() => api.stop());
      if (s.bool("print-url")) {
        console.log(`CUSTODY_API_URL=${api.url}`);
        if (api.metricsUrl) console.log(`CUSTODY_METRICS_URL=${api.metricsUrl}`);
      }
    },
  );

  addSettingFlags(program.command("worker").description(SUMMARY.worker), "worker").action(
    async (flags: Record<string, unknown>) => {
      const s = Settings.resolve("worker", flags);
      const jobThreads = jobThreadsOf(s);
      const slot = s.optInt("kek-slot");
      const kek: KekFlags = {
        kek: s.opt("kek"),
        insecureFileKek: s.bool("insecure-file-kek"),
        kekPkcs11Module: s.opt("kek-pkcs11-module"),
        kekToken: s.opt("kek-token"),
        kekSlot: slot === undefined ? undefined : String(slot),
        kekPinFile: s.opt("kek-pin-file"),
        kekPinEnv: s.opt("kek-pin-env"),
        kekLabel: s.str("kek-label"),
        kekRetiredLabel: s.list("kek-retired-label"),
        kekRetiredFile: s.opt("kek-retired-file"),
      };
      const w = await startWorker({
        party: s.int("party"),
        workerId: s.str("worker-id"),
        servers: s.list("nats")!,
        credsFile: s.str("creds"),
        kek: kekOf(kek),
        metrics: s.opt("metrics") ? parseListen(s.str("metrics")) : undefined,
        ledgerFile: s.str("ledger"),
        identityFile: s.str("identity"),
        directoryFile: s.str("directory"),
        authorities: readAuthorities(s.str("authority")),
        tls: brokerTlsOf(s),
        slots: s.int("slots"),
        heartbeatMs: s.int("heartbeat-ms"),
        roundTimeoutMs: s.int("round-timeout-ms"),
        joinTimeoutMs: s.int("join-timeout-ms"),
        progressMs: s.int("progress-ms"),
        jobThreads,
      });
      onSignals(() => w.stop(true));
    },
  );
}

/**
 * Helper threads per key-generation or refresh session. `auto` leaves a core to the worker's event
 * loop and one to the session thread itself: none on a host with fewer than 3 cores, where the
 * helpers would only compete with the session thread (and, on one machine, with the other parties).
 */
function jobThreadsOf(s: Settings): number {
  const v = s.str("job-threads");
  if (v === "auto") return Math.min(Math.max(availableParallelism() - 2, 0), MAX_JOB_THREADS);
  const n = /^[0-9]{1,2}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n <= MAX_JOB_THREADS))
    throw new ConfigError("bad-value", `job-threads must be auto or an integer from 0 to ${MAX_JOB_THREADS}`);
  return n;
}

/** Most helper threads a session may use (a 2-of-n DKG has n − 1 counterparties). */
const MAX_JOB_THREADS = 15;

/** The per-credential signing rate (messages); both values must be at least 1. */
function signRateOf(s: Settings): { perSecond: number; burst: number } {
  const perSecond = s.int("sign-rate");
  const burst = s.int("sign-burst");
  if (perSecond < 1 || burst < 1)
    throw new ConfigError("bad-value", "sign-rate and sign-burst must be at least 1");
  return { perSecond, burst };
}

/** The HTTPS files of `custody api`, or none: a certificate needs its key. */
function httpsOf(s: Settings): TlsFiles | undefined {
  const [certFile, keyFile, clientCaFile] = [
    s.opt("https-cert"),
    s.opt("https-key"),
    s.opt("https-client-ca"),
  ];
  if (!certFile && !keyFile && !clientCaFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError("missing-setting", "https-cert and https-key go together");
  return { certFile, keyFile, clientCaFile };
}
