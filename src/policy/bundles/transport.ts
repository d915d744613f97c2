// How bundle services and registries are reached: TLS with the system roots
// plus a CA file, a client certificate for mutual TLS, and a bearer token
// read from a file at every request (a rotated projected token is used as
// soon as the kubelet writes it). The files are read again whenever they
// change, so renewed certificates need no restart.
//
// Credentials go only where they were meant to: redirects are followed
// here, not by fetch, and an Authorization header is sent to the origin it
// was given for and nowhere else (a registry's blob redirect to an object
// store gets none); https is never downgraded to http; and nothing secret
// is sent over plain http except to a loopback address.
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { getCACertificates } from "node:tls";
import type * as Undici from "undici";
import type { Agent, Response } from "undici";
import { describeFileError } from "../../file-errors.ts";
import { AgentgateError } from "../../errors.ts";

/**
 * What messages call each setting of bundle sourcing. The defaults are the
 * config's own words; the CLI passes its flags, so that a message read in
 * /readyz or a log long after the start names what the operator typed.
 */
export interface SourcingNames {
  bundle: string;
  bearerTokenFile: string;
  clientCert: string;
  clientKey: string;
  ca: string;
  registryCredentials: string;
  verificationKey: string;
  /** how to turn the embedded default bundle off, for a fork stacked on it */
  defaultOff: string;
}

export const CONFIG_NAMES: Readonly<SourcingNames> = {
  bundle: "bundle",
  bearerTokenFile: "bearer token file",
  clientCert: "client certificate",
  clientKey: "client key",
  ca: "CA file",
  registryCredentials: "registry credentials",
  verificationKey: "verification key",
  defaultOff: "policy.defaultBundle: false",
};

/** How remote bundles are reached and authenticated to (files are paths, read again when they change). */
export interface RemoteAccess {
  bearerTokenFile?: string;
  /**
   * The origins the bearer token is for: those of the bundle locations
   * themselves. A registry's token realm, a redirect's target or another
   * host never gets it, so a token meant for one bundle service cannot be
   * collected by another.
   */
  bearerOrigins?: readonly string[];
  /** mutual TLS: a client certificate and its private key, always both */
  clientCertificate?: { certFile: string; keyFile: string };
  caFile?: string;
  names?: SourcingNames;
}

/** A file of remote access that cannot be used; `field` is its setting (a key of SourcingNames). */
export class RemoteAuthError extends AgentgateError {
  constructor(field: keyof SourcingNames, message: string) {
    super("input", message, { field });
    this.name = "RemoteAuthError";
  }
}

const MAX_REDIRECTS = 10;

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  // Exactly localhost: in a pod, "x.localhost" goes through the search
  // domains first and can resolve to a Service in a namespace named localhost.
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/** Whether a URL may carry credentials: https, or plain http to this machine. */
export function maySendSecrets(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}

/** A URL as errors and logs show it: no query (a presigned URL's signature is a secret) and no user info. */
export function showUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

async function readAccessFile(field: keyof SourcingNames, names: SourcingNames, file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new RemoteAuthError(field, `${names[field]} ${file}: cannot read: ${describeFileError(err)}`);
  }
}

/** The certificates of a PEM bundle, checked; one line naming the file and what it is for otherwise. */
export function checkCaPem(pem: string, name: string, file: string): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new RemoteAuthError("ca", `${name} ${file}: no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new RemoteAuthError("ca", `${name} ${file}: certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`);
    }
  });
}

/** A client certificate and its key, checked to belong together. */
export function checkKeyPair(cert: string, key: string, certFile: string, keyFile: string, names: SourcingNames = CONFIG_NAMES): void {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new RemoteAuthError("clientCert", `${names.clientCert} ${certFile}: not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new RemoteAuthError("clientKey", `${names.clientKey} ${keyFile}: not a PEM private key (expected "-----BEGIN ... PRIVATE KEY-----")`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new RemoteAuthError("clientKey", `${names.clientKey} ${keyFile}: is not the key of ${names.clientCert} ${certFile}`);
}

/** The bearer token in a file: its content without surrounding whitespace, not empty. */
export async function readBearerToken(file: string, names: SourcingNames = CONFIG_NAMES): Promise<string> {
  const token = (await readAccessFile("bearerTokenFile", names, file)).trim();
  if (token === "") throw new RemoteAuthError("bearerTokenFile", `${names.bearerTokenFile} ${file}: is empty`);
  if (/[\r\n]/.test(token)) throw new RemoteAuthError("bearerTokenFile", `${names.bearerTokenFile} ${file}: holds more than one line; expected the token alone`);
  return token;
}

/** Why a request failed, in one line: the cause's code says whether it was TLS, DNS or the connection. */
function describeFetchError(err: unknown, url: URL, redirected: boolean, signal: AbortSignal, clientCert: boolean, names: SourcingNames): string {
  const at = redirected ? ` (redirected to ${showUrl(url)})` : "";
  if (signal.aborted) return `GET failed${at}: ${signal.reason instanceof Error ? signal.reason.message : String(signal.reason)}`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  // Node's advice to run with --use-system-ca is not what a gateway's operator can do; a CA file is.
  // OpenSSL's "<id>:error:<code>:SSL routines:<function>:<reason>:<file>:<line>:…" says it in its reason.
  const raw = (cause instanceof Error ? cause.message : String(cause)).replace(/; if the root CA is installed locally.*$/s, "");
  const message = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(raw)?.[1] ?? raw;
  const tls = typeof code === "string" && (/CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|SSL|TLS/.test(code));
  // A TLS 1.3 server that wants a client certificate may just close the connection after the handshake.
  const closed = !tls && !clientCert && url.protocol === "https:" && (code === "UND_ERR_SOCKET" || code === "ECONNRESET");
  const hint = closed
    ? `; if the server requires a client certificate, give ${names.clientCert}`
    : !tls ? "" : /ALERT_CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/.test(code)
      ? `; the server requires a client certificate it trusts (${names.clientCert})`
      : `; the server's certificate does not verify against the system roots and ${names.ca}`;
  return `GET failed${at}: ${tls ? "TLS: " : ""}${message.split("\n")[0] ?? ""}${typeof code === "string" && !message.includes(code) ? ` (${code})` : ""}${hint}`;
}

export interface GetOptions {
  headers?: Record<string, string>;
  /** sent to the URL's origin only (not after a redirect elsewhere), and only where maySendSecrets */
  authorization?: string;
  signal: AbortSignal;
}

/**
 * undici, imported at the first remote request: a gateway that serves its
 * embedded or a local bundle never loads it (7–10 MB of resident memory).
 */
let undici: Promise<typeof Undici> | undefined;
const loadUndici = (): Promise<typeof Undici> => (undici ??= import("undici"));

/** One client for every remote bundle: its TLS settings and bearer token. */
export class RemoteClient {
  private readonly access: RemoteAccess;
  /** what messages call each setting */
  readonly names: SourcingNames;
  private agent: Agent | undefined;
  private agentKey = "";

  private constructor(access: RemoteAccess) {
    this.access = access;
    this.names = access.names ?? CONFIG_NAMES;
  }

  /** Checks every file now, so a mistake stops the start with one line naming the file. */
  static async open(access: RemoteAccess): Promise<RemoteClient> {
    const client = new RemoteClient(access);
    if (access.bearerTokenFile !== undefined) await readBearerToken(access.bearerTokenFile, client.names);
    await client.dispatcher();
    return client;
  }

  /** No TLS files, no token: fetch's defaults. */
  static plain(names?: SourcingNames): RemoteClient {
    return new RemoteClient(names ? { names } : {});
  }

  get hasBearerToken(): boolean {
    return this.access.bearerTokenFile !== undefined;
  }

  /** `Bearer <token>` from the file as it is now for a request to `target`; undefined without a token file or for an origin it is not for. */
  async bearerAuthorization(target: URL): Promise<string | undefined> {
    const file = this.access.bearerTokenFile;
    if (file === undefined || !(this.access.bearerOrigins ?? []).includes(target.origin)) return undefined;
    return `Bearer ${await readBearerToken(file, this.names)}`;
  }

  /** The undici agent for the TLS files as they are now; undefined: the defaults (no TLS file given). */
  private async dispatcher(): Promise<Agent | undefined> {
    const { clientCertificate, caFile } = this.access;
    const certFile = clientCertificate?.certFile;
    const keyFile = clientCertificate?.keyFile;
    if (certFile === undefined && caFile === undefined) return undefined;
    // Before the files are compared, so that no await falls between the comparison and the swap below.
    const { Agent } = await loadUndici();
    const [cert, key, ca] = await Promise.all([
      certFile !== undefined ? readAccessFile("clientCert", this.names, certFile) : undefined,
      keyFile !== undefined ? readAccessFile("clientKey", this.names, keyFile) : undefined,
      caFile !== undefined ? readAccessFile("ca", this.names, caFile) : undefined,
    ]);
    const fingerprint = createHash("sha256").update(cert ?? "").update("\0").update(key ?? "").update("\0").update(ca ?? "").digest("hex");
    if (this.agent && fingerprint === this.agentKey) return this.agent;
    if (ca !== undefined && caFile !== undefined) checkCaPem(ca, this.names.ca, caFile);
    if (cert !== undefined && key !== undefined && certFile !== undefined && keyFile !== undefined) checkKeyPair(cert, key, certFile, keyFile, this.names);
    // In addition to the default roots: a registry that redirects blob
    // downloads to a public object store must still be reachable.
    const agent = new Agent({
      connect: {
        ...(ca !== undefined ? { ca: [...getCACertificates("default"), ca] } : {}),
        ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
      },
    });
    const previous = this.agent;
    this.agent = agent;
    this.agentKey = fingerprint;
    // Requests still on the old agent finish; close() waits for them.
    void previous?.close().catch(() => undefined);
    return agent;
  }

  /**
   * GET following redirects (at most ten) by the rules above; resolves
   * with the first answer that is not a redirect, whatever its status.
   */
  async get(url: URL, opts: GetOptions): Promise<Response> {
    const dispatcher = await this.dispatcher();
    const { fetch } = await loadUndici();
    const origin = url.origin;
    let current = url;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.authorization !== undefined && current.origin === origin && maySendSecrets(current)) headers.authorization = opts.authorization;
      let res: Response;
      try {
        res = await fetch(current, { headers, signal: opts.signal, redirect: "manual", ...(dispatcher ? { dispatcher } : {}) });
      } catch (err) {
        throw new Error(describeFetchError(err, current, hop > 0, opts.signal, this.access.clientCertificate !== undefined, this.names), { cause: err });
      }
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      await res.body?.cancel();
      const location = res.headers.get("location");
      if (location === null) throw new Error(`GET ${showUrl(current)} answered HTTP ${res.status} without a Location`);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new Error(`GET ${showUrl(current)} redirected to ${JSON.stringify(location)}, which is not a URL`);
      }
      if (next.protocol !== "https:" && next.protocol !== "http:") throw new Error(`GET ${showUrl(current)} redirected to a ${next.protocol}// URL; only http(s) is followed`);
      if (current.protocol === "https:" && next.protocol === "http:") throw new Error(`GET ${showUrl(current)} redirected to ${showUrl(next)}: refused, a redirect from https to plain http`);
      if (hop + 1 >= MAX_REDIRECTS) throw new Error(`GET ${showUrl(url)} redirected more than ${MAX_REDIRECTS} times`);
      current = next;
    }
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    await agent?.close();
  }
}

/** A response body read whole, refused once it passes `limit` bytes (whatever Content-Length said). */
export async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await res.body?.cancel();
    throw new Error(`${what} of ${declared} bytes is over the limit of ${limit} bytes`);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    // Leaving the loop by throwing cancels the rest of the download.
    if (size > limit) throw new Error(`${what} is over the limit of ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
