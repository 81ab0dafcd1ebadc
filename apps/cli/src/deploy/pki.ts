/**
 * The deployment's certificate authority, made with the `openssl` command like the dev PKI of
 * `packages/natsd`, but for named hosts: an EC P-256 CA, a certificate per NATS node and per API
 * host for its own address (server and client auth: routes connect outwards too), and a client
 * certificate per identity (CN = identity name). The CA key stays in the operator's directory.
 * @module
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";

/** A certificate and its key, copied into a host's bundle. */
export interface IssuedPair {
  readonly certFile: string;
  readonly keyFile: string;
}

const openssl = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });

function ecKey(cwd: string, file: string) {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", file], cwd);
  chmodSync(join(cwd, file), 0o600);
}

/** The `subjectAltName` value for a host address (IP or DNS name). */
const san = (address: string) => (isIP(address) ? `IP:${address}` : `DNS:${address}`);

/** A CA under `dir` (`ca.key`, `ca.pem`) that issues into host bundles. */
export class DeploymentCa {
  private constructor(private readonly dir: string) {}

  /** Creates the CA in `dir` (which must be new or empty). */
  static create(dir: string, name: string): DeploymentCa {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    ecKey(dir, "ca.key");
    openssl(
      ["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "3650"].concat([
        "-subj",
        `/O=${name}/CN=${name} CA`,
        "-out",
        "ca.pem",
      ]),
      dir,
    );
    return new DeploymentCa(dir);
  }

  /** The CA certificate (public). */
  get caFile(): string {
    return join(this.dir, "ca.pem");
  }

  /** Copies the CA certificate to `file`. */
  copyCa(file: string): void {
    copyFileSync(this.caFile, file);
  }

  /** A server certificate for `addresses` (serverAuth and clientAuth), written to `out` (key 0600). */
  server(cn: string, addresses: readonly string[], out: IssuedPair): void {
    this.issue(
      cn,
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${addresses.map(san).join(",")}\n`,
      out,
    );
  }

  /** A client certificate of identity `cn` (clientAuth only), written to `out` (key 0600). */
  client(cn: string, out: IssuedPair): void {
    this.issue(
      cn,
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
      out,
    );
  }

  private issue(cn: string, ext: string, out: IssuedPair): void {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(cn)) throw new RangeError(`invalid certificate name ${cn}`);
    const work = join(this.dir, "issue");
    mkdirSync(work, { recursive: true, mode: 0o700 });
    try {
      ecKey(work, "leaf.key");
      openssl(["req", "-new", "-key", "leaf.key", "-subj", `/CN=${cn}`, "-out", "leaf.csr"], work);
      writeFileSync(join(work, "leaf.ext"), ext);
      openssl(
        [
          "x509",
          "-req",
          "-in",
          "leaf.csr",
          "-CA",
          "../ca.pem",
          "-CAkey",
          "../ca.key",
          "-CAcreateserial",
        ].concat(["-days", "825", "-sha256", "-extfile", "leaf.ext", "-out", "leaf.pem"]),
        work,
      );
      copyFileSync(join(work, "leaf.pem"), out.certFile);
      copyFileSync(join(work, "leaf.key"), out.keyFile);
      chmodSync(out.keyFile, 0o600);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
