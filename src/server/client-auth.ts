// API-server authentication by TLS client certificate (`serve
// --client-ca-file`). Without it /validate answers anyone who can reach the
// Service; with it only a caller holding a certificate from that CA, which
// the cluster's admin gives the API server through its admission
// configuration (a kubeconfig whose user is named after the webhook's host).
//
// The TLS handshake asks every client for a certificate but admits those
// without one (requestCert, not rejectUnauthorized): kubelet probes and
// Prometheus cannot present one, and /healthz, /readyz and /metrics stay
// open. Only the admission endpoints check the verdict.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Server as HttpsServer } from "node:https";
import type { SecureContextOptions, TLSSocket } from "node:tls";
import type { Logger } from "../log.ts";
import { watchFiles, type FileWatch } from "./file-watch.ts";

export type ClientVerdict = { ok: true; name: string } | { ok: false; status: 401 | 403; error: string };

/** Every certificate of a PEM bundle, each a CA; one line naming the file and the problem otherwise. */
export function parseCaBundle(pem: string, file: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${file}: no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
  return blocks.map((block, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      throw new Error(`${file}: certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`);
    }
    if (!cert.ca) throw new Error(`${file}: certificate ${i + 1} of ${blocks.length} (${cert.subject.replace(/\n/g, ", ")}) is not a CA (basicConstraints CA:FALSE)`);
    return cert;
  });
}

export async function readCaBundle(file: string): Promise<string> {
  const pem = await readFile(file, "utf8").catch((err: unknown) => {
    throw new Error(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  });
  parseCaBundle(pem, file);
  return pem;
}

/** The subject CN of a peer certificate as node reports it (a string, or several). */
function commonNames(cn: string | string[] | undefined): string[] {
  if (cn === undefined) return [];
  return Array.isArray(cn) ? cn : [cn];
}

/** Whether the caller on this socket may use the admission endpoints. */
export function verdictFor(socket: TLSSocket, allowedNames: readonly string[]): ClientVerdict {
  const peer = socket.getPeerCertificate();
  // An empty object when the client sent no certificate.
  const presented = Object.keys(peer).length > 0;
  if (!presented) return { ok: false, status: 401, error: "a TLS client certificate signed by the gateway's client CA (Helm gateway.clientAuth) is required; none was presented" };
  if (!socket.authorized) {
    const why = socket.authorizationError instanceof Error ? socket.authorizationError.message : String(socket.authorizationError);
    return { ok: false, status: 401, error: `the TLS client certificate does not verify against the gateway's client CA (Helm gateway.clientAuth): ${why}` };
  }
  const names = commonNames(peer.subject.CN);
  if (allowedNames.length === 0) return { ok: true, name: names[0] ?? "" };
  const allowed = names.find((n) => allowedNames.includes(n));
  if (allowed === undefined) {
    return { ok: false, status: 403, error: `client certificate CN ${JSON.stringify(names.join(","))} is not among the gateway's allowed client names (Helm gateway.clientAuth.allowedNames: ${allowedNames.join(", ")})` };
  }
  return { ok: true, name: allowed };
}

export interface ClientAuthOptions {
  /** PEM of the CA (or CAs) that sign the API server's client certificate */
  caPem: string;
  /** subject CNs allowed; empty: any certificate the CA signed */
  allowedNames?: readonly string[];
}

export class ClientAuth {
  private caPem: string;
  private readonly allowedNames: readonly string[];
  private reapply: (() => void) | undefined;

  constructor(opts: ClientAuthOptions) {
    this.caPem = opts.caPem;
    this.allowedNames = opts.allowedNames ?? [];
  }

  /** For node:https createServer. */
  serverOptions(): { ca: string; requestCert: true; rejectUnauthorized: false } {
    return { ca: this.caPem, requestCert: true, rejectUnauthorized: false };
  }

  /**
   * A renewed serving certificate replaces the server's whole secure context
   * (tls-reload.ts, self-managed certificates): from here on every context
   * the server is given keeps the client CA, and a new CA keeps the serving
   * certificate of the moment.
   */
  attach(server: HttpsServer, serving: SecureContextOptions): void {
    const original = server.setSecureContext.bind(server);
    let current = serving;
    server.setSecureContext = (options: SecureContextOptions) => {
      current = options;
      original({ ...options, ca: this.caPem });
    };
    this.reapply = () => original({ ...current, ca: this.caPem });
  }

  /** Swaps the CA for new handshakes; connections already open keep their verdict. */
  setCa(pem: string): void {
    this.caPem = pem;
    this.reapply?.();
  }

  get ca(): string {
    return this.caPem;
  }

  verdict(socket: TLSSocket): ClientVerdict {
    return verdictFor(socket, this.allowedNames);
  }
}

/** The CA file reloaded when it changes (file-watch.ts); a file that does not parse keeps the CA in use. */
export class ClientCaReloader {
  private watching: FileWatch | undefined;
  private readonly auth: ClientAuth;
  private readonly file: string;
  private readonly log: Logger;
  reloads = 0;

  constructor(auth: ClientAuth, file: string, log: Logger) {
    this.auth = auth;
    this.file = file;
    this.log = log;
  }

  start(pollMs = 10_000): void {
    this.watching = watchFiles([this.file], () => void this.reload(), this.log, "the client CA", pollMs);
  }

  async reload(): Promise<boolean> {
    let pem: string;
    try {
      pem = await readCaBundle(this.file);
    } catch (err) {
      this.log.warn("client CA file changed but cannot be used; keeping the CA in use", { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
    if (pem === this.auth.ca) return false;
    this.auth.setCa(pem);
    this.reloads++;
    this.log.info("client CA reloaded", { file: this.file, certificates: parseCaBundle(pem, this.file).length });
    return true;
  }

  stop(): void {
    this.watching?.stop();
  }
}
