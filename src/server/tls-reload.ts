// Serving certificate files that change under a running server (a renewed
// Secret, cert-manager): watched (file-watch.ts) and swapped into the TLS
// context without a restart.
import { readFile } from "node:fs/promises";
import type { Server as HttpsServer } from "node:https";
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import type { Logger } from "../log.ts";
import { watchFiles, type FileWatch } from "./file-watch.ts";

export interface KeyPair {
  cert: string;
  key: string;
}

/** Each error names the file and what is wrong with it, in one line. */
export async function readKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const read = (file: string) => readFile(file, "utf8").catch((err: unknown) => {
    throw new Error(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  });
  const [cert, key] = await Promise.all([read(certFile), read(keyFile)]);
  // Refuse a half-written pair before it reaches the TLS stack.
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new Error(`${certFile}: not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error(`${keyFile}: not a PEM private key (expected "-----BEGIN ... PRIVATE KEY-----")`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`${certFile} and ${keyFile} do not belong together`);
  return { cert, key };
}

export class CertificateReloader {
  private watching: FileWatch | undefined;
  private current: string;
  private readonly server: HttpsServer;
  private readonly certFile: string;
  private readonly keyFile: string;
  private readonly log: Logger;
  private readonly onReload: ((pair: KeyPair) => void) | undefined;
  reloads = 0;

  constructor(server: HttpsServer, certFile: string, keyFile: string, initial: KeyPair, log: Logger, onReload?: (pair: KeyPair) => void) {
    this.server = server;
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.log = log;
    this.onReload = onReload;
    this.current = initial.cert + initial.key;
  }

  start(pollMs = 10_000): void {
    this.watching = watchFiles([this.certFile, this.keyFile], () => void this.reload(), this.log, "the certificate files", pollMs);
  }

  async reload(): Promise<boolean> {
    let pair: KeyPair;
    try {
      pair = await readKeyPair(this.certFile, this.keyFile);
    } catch (err) {
      this.log.warn("certificate files changed but cannot be used yet; keeping the current certificate", { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
    if (pair.cert + pair.key === this.current) return false;
    this.server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: "TLSv1.2" });
    this.current = pair.cert + pair.key;
    this.reloads++;
    this.log.info("serving certificate reloaded", { certFile: this.certFile, notAfter: new X509Certificate(pair.cert).validTo });
    this.onReload?.(pair);
    return true;
  }

  stop(): void {
    this.watching?.stop();
  }
}
