/**
 * HTTPS for the API from files: a certificate chain and key, optionally a CA whose client
 * certificates are required (mutual TLS in front of the signed requests). The files are read again
 * on reload (SIGHUP), so a renewed certificate is served without a restart; a reload that fails
 * keeps the current one and says why.
 * @module
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:https";

/** Where the API's TLS material is. */
export interface TlsFiles {
  /** PEM certificate chain of the API. */
  readonly certFile: string;
  /** PEM private key of that certificate. */
  readonly keyFile: string;
  /** PEM CA certificates that sign client certificates; with it, clients must present one. */
  readonly clientCaFile?: string;
}

/** The secure-context options the files give (read now). */
export function tlsContext(f: TlsFiles): { cert: Buffer; key: Buffer; ca?: Buffer } {
  return {
    cert: readFileSync(f.certFile),
    key: readFileSync(f.keyFile),
    ...(f.clientCaFile ? { ca: readFileSync(f.clientCaFile) } : {}),
  };
}

/** HTTPS server options: the context, and client certificates required when a client CA is given. */
export function httpsOptions(f: TlsFiles) {
  const required = f.clientCaFile !== undefined;
  return {
    ...tlsContext(f),
    requestCert: required,
    rejectUnauthorized: required,
    minVersion: "TLSv1.2" as const,
  };
}

/**
 * Reads the files again and makes `server` use them for new connections.
 * @returns an error message when the files could not be used (the old context stays)
 */
export function reloadTls(server: Server, f: TlsFiles): string | undefined {
  try {
    server.setSecureContext(tlsContext(f));
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
