/**
 * A small certificate authority for mTLS at the broker, made with the `openssl` command: an EC P-256
 * CA, one server certificate for 127.0.0.1/localhost and one client certificate per identity
 * (CN = identity name). Cluster routes trust a second CA of their own, whose only certificate is
 * the nodes' route certificate: a route is not subject to any account's permissions, so no client
 * certificate (a party's, the API's) may ever open one. mTLS is defence in depth for clients: the
 * broker still authenticates every client connection by its NKey.
 * Files are created once and reused; keys are mode 0600.
 * @module
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A certificate and its key. */
export interface CertPair {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What a TLS client needs. */
export interface ClientTls extends CertPair {
  readonly caFile: string;
}

/** The files of a dev PKI. */
export interface DevPki {
  readonly caFile: string;
  readonly server: CertPair;
  /** The CA that cluster routes trust (it signs nothing but {@link DevPki.route}). */
  readonly routeCaFile: string;
  /** The nodes' route certificate (server and client auth: routes connect in both directions). */
  readonly route: CertPair;
  /** A client's certificate, creating it when missing. */
  client(name: string): ClientTls;
}

const openssl = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });

function key(file: string, cwd: string) {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", file], cwd);
  chmodSync(join(cwd, file), 0o600);
}

function issue(cwd: string, name: string, subject: string, ext: string, ca = "ca") {
  if (existsSync(join(cwd, `${name}.pem`))) return;
  key(`${name}.key`, cwd);
  openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], cwd);
  writeFileSync(join(cwd, `${name}.ext`), ext);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-days",
      "825",
      "-sha256",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    ],
    cwd,
  );
}

function authority(dir: string, name: string, cn: string) {
  if (existsSync(join(dir, `${name}.pem`))) return;
  key(`${name}.key`, dir);
  openssl(
    ["req", "-x509", "-new", "-key", `${name}.key`, "-sha256", "-days", "3650"].concat([
      "-subj",
      `/O=custody-dev/CN=${cn}`,
      "-out",
      `${name}.pem`,
    ]),
    dir,
  );
}

/** Creates (or reuses) a dev PKI in `dir`. */
export function createDevPki(dir: string): DevPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  authority(dir, "ca", "custody dev CA");
  authority(dir, "route-ca", "custody dev route CA");
  issue(
    dir,
    "server",
    "/O=custody-dev/CN=nats-server",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  issue(
    dir,
    "route",
    "/O=custody-dev/CN=nats-route",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    "route-ca",
  );
  const caFile = join(dir, "ca.pem");
  return {
    caFile,
    server: { certFile: join(dir, "server.pem"), keyFile: join(dir, "server.key") },
    routeCaFile: join(dir, "route-ca.pem"),
    route: { certFile: join(dir, "route.pem"), keyFile: join(dir, "route.key") },
    client(name: string) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`invalid identity name ${name}`);
      issue(
        dir,
        `client-${name}`,
        `/O=custody-dev/CN=${name}`,
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
      );
      return { caFile, certFile: join(dir, `client-${name}.pem`), keyFile: join(dir, `client-${name}.key`) };
    },
  };
}

/** The `tls` block of a server's configuration: require a client certificate from the CA. */
export function serverTlsConfig(pki: DevPki) {
  return {
    cert_file: pki.server.certFile,
    key_file: pki.server.keyFile,
    ca_file: pki.caFile,
    verify: true,
    timeout: 2,
  };
}

/** The `tls` block of a node's cluster routes: its route certificate, peers verified against the route CA. */
export function routeTlsConfig(pki: DevPki) {
  return {
    cert_file: pki.route.certFile,
    key_file: pki.route.keyFile,
    ca_file: pki.routeCaFile,
    verify: true,
    timeout: 2,
  };
}
