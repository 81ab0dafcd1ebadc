/**
 * HTTPS of the API from files: the certificate is served, a client CA makes client certificates
 * mandatory, a reload serves a renewed certificate from the next connection on, and a reload with
 * broken files keeps the current one. Certificates are made here with openssl.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { httpsOptions, reloadTls, type TlsFiles } from "../src/tls.js";
import { appUnderTest } from "./app-under-test.js";

const dir = mkdtempSync(join(tmpdir(), "custody-tls-"));
const file = (n: string) => join(dir, n);
const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });

/** A CA (`name`.pem / .key). */
function ca(name: string) {
  openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    file(`${name}.key`),
    "-out",
    file(`${name}.pem`),
  );
}
/** A certificate for `cn` signed by CA `by`, with SAN 127.0.0.1 (`name`.pem / .key). */
function leaf(name: string, cn: string, by: string, usage: "serverAuth" | "clientAuth") {
  openssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    `/CN=${cn}`,
    "-keyout",
    file(`${name}.key`),
    "-out",
    file(`${name}.csr`),
  );
  writeFileSync(file(`${name}.ext`), `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=${usage}\n`);
  openssl(
    "x509",
    "-req",
    "-in",
    file(`${name}.csr`),
    "-CA",
    file(`${by}.pem`),
    "-CAkey",
    file(`${by}.key`),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    file(`${name}.ext`),
    "-out",
    file(`${name}.pem`),
  );
}

let app: FastifyInstance;
let port: number;
const files: TlsFiles = {
  certFile: file("server.pem"),
  keyFile: file("server.key"),
  clientCaFile: file("clients.pem"),
};

before(async () => {
  ca("server-ca");
  ca("clients");
  ca("strangers");
  leaf("server", "api-one", "server-ca", "serverAuth");
  leaf("alice", "alice", "clients", "clientAuth");
  leaf("mallory", "mallory", "strangers", "clientAuth");
  app = await appUnderTest({ https: httpsOptions(files) });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as { port: number }).port;
});
after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** GET /healthz over a new TLS connection; resolves with the status and the server's certificate CN. */
function get(client?: string): Promise<{ status: number; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/healthz",
        ca: readFileSync(file("server-ca.pem")),
        agent: false,
        ...(client
          ? { cert: readFileSync(file(`${client}.pem`)), key: readFileSync(file(`${client}.key`)) }
          : {}),
      },
      (res) => {
        const cn = new X509Certificate(
          (res.socket as unknown as { getPeerX509Certificate(): X509Certificate }).getPeerX509Certificate()
            .raw,
        ).subject;
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, cn }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("HTTPS", { timeout: 60_000 }, () => {
  test("serves its certificate and requires a client certificate from the client CA", async () => {
    const ok = await get("alice");
    assert.equal(ok.status, 200);
    assert.match(ok.cn, /CN=api-one/);
    await assert.rejects(get(), "no client certificate: the handshake fails");
    await assert.rejects(get("mallory"), "a client certificate from another CA: refused");
  });

  test("a reload serves the renewed certificate; broken files keep the current one", async () => {
    leaf("server", "api-two", "server-ca", "serverAuth");
    assert.equal(reloadTls(app.server as Server, files), undefined);
    assert.match((await get("alice")).cn, /CN=api-two/);
    writeFileSync(file("server.pem"), "not a certificate");
    assert.match(reloadTls(app.server as Server, files) ?? "", /.+/);
    const still = await get("alice");
    assert.equal(still.status, 200);
    assert.match(still.cn, /CN=api-two/);
  });

  test("without a client CA, no client certificate is asked for", () => {
    const o = httpsOptions({ certFile: file("alice.pem"), keyFile: file("alice.key") });
    assert.equal(o.requestCert, false);
    assert.equal(o.rejectUnauthorized, false);
    assert.equal(o.ca, undefined);
  });
});
