/**
 * The deployment's certificate authorities, made with the `openssl` command like the dev PKI of
 * `packages/natsd`, but for named hosts. Two EC P-256 CAs, both keys in the operator's directory:
 * the broker CA issues each NATS node's and API host's server certificate (serverAuth only) and a
 * client certificate per identity (CN = identity name, clientAuth only); the route CA issues only
 * the NATS nodes' route certificates (server and client auth: a node dials its peers too), and the
 * route port trusts nothing else, so no client certificate can join the cluster as a route.
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
const leafExt = (eku: string, addresses: readonly string[]) =>
  `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=${eku}\nsubjectAltName=${addresses.map(san).join(",")}\n`;

/** A CA under `dir` (`<base>.key`, `<base>.pem`) that issues into host bundles. */
export class DeploymentCa {
  private constructor(
    private readonly dir: string,
    private readonly base: string,
  ) {}

  /** Creates the CA `base` (`ca`, `route-ca`) named `cn` in `dir`. */
  static create(dir: string, base: string, org: string, cn: string): DeploymentCa {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    ecKey(dir, `${base}.key`);
    openssl(
      ["req", "-x509", "-new", "-key", `${base}.key`, "-sha256", "-days", "3650"].concat([
        "-subj",
        `/O=${org}/CN=${cn}`,
        "-out",
        `${base}.pem`,
      ]),
      dir,
    );
    chmodSync(join(dir, `${base}.pem`), 0o644);
    return new DeploymentCa(dir, base);
  }

  /** The CA certificate (public). */
  get caFile(): string {
    return join(this.dir, `${this.base}.pem`);
  }

  /** Copies the CA certificate to `file` (mode 0644). */
  copyCa(file: string): void {
    copyFileSync(this.caFile, file);
    chmodSync(file, 0o644);
  }

  /** A server certificate for `addresses` (serverAuth only), written to `out` (key 0600). */
  server(cn: string, addresses: readonly string[], out: IssuedPair): void {
    this.issue(cn, leafExt("serverAuth", addresses), out);
  }

  /** A route certificate of a NATS node (serverAuth and clientAuth: it dials its peers too). */
  route(cn: string, addresses: readonly string[], out: IssuedPair): void {
    this.issue(cn, leafExt("serverAuth,clientAuth", addresses), out);
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
    const work = join(this.dir, `issue-${this.base}`);
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
          `../${this.base}.pem`,
          "-CAkey",
          `../${this.base}.key`,
          "-CAcreateserial",
        ].concat(["-days", "825", "-sha256", "-extfile", "leaf.ext", "-out", "leaf.pem"]),
        work,
      );
      chmodSync(join(this.dir, `${this.base}.srl`), 0o644);
      copyFileSync(join(work, "leaf.pem"), out.certFile);
      chmodSync(out.certFile, 0o644);
      copyFileSync(join(work, "leaf.key"), out.keyFile);
      chmodSync(out.keyFile, 0o600);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
