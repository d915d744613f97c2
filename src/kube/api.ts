// The gateway's Kubernetes client: JSON over one keep-alive HTTPS pool, and
// watches as newline-delimited JSON, for the few dozen paths agentgate
// reads and writes. It replaces @kubernetes/client-node in every file on the
// gateway's path: that package loads every generated API and model with its
// KubeConfig, ~54 MB of resident memory per replica for the handful of
// calls an admission webhook makes (README, "Through kube-apiserver"). Credentials a
// kubeconfig gets from an exec plugin or an auth provider are the one thing
// it does not speak itself: for those it loads client-node and asks it for
// each request's headers.
import { readFileSync } from "node:fs";
import type { Agent as HttpAgentType, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { ClusterCredentials, KubeconfigEntries } from "./kubeconfig.ts";
import { classifyRequest, type RequestListener } from "./request-class.ts";

// node:http as Node's own module object, not an ES import: the ES namespace
// of node:http reads every export, and one of them loads Node's bundled
// fetch (undici), ~7 MB of RSS the process never uses (test/unit/serve-imports.test.ts).
const { Agent: HttpAgent, request: httpRequest } = process.getBuiltinModule("node:http");

/** An answer of the API server other than 2xx; `code` and `body` as client-node's ApiException has them, so src/kube/errors.ts reads both. */
export class KubeApiError extends Error {
  readonly code: number;
  /** the API server's Status (parsed), or the text of a body that is not JSON */
  readonly body: unknown;
  readonly headers: Record<string, string | undefined>;

  constructor(method: string, path: string, code: number, body: unknown, headers: Record<string, string | undefined> = {}) {
    const message = typeof body === "object" && body !== null && "message" in body && typeof body.message === "string" ? body.message : typeof body === "string" ? body.slice(0, 300) : "";
    super(`${method} ${path.split("?")[0] ?? path}: HTTP ${code}${message ? `: ${message}` : ""}`);
    this.name = "KubeApiError";
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}

/** A watch that received nothing for longer than its owner allows: its connection is taken for dead. */
export class WatchIdleError extends Error {
  constructor(path: string, idleMs: number) {
    super(`watch ${path}: nothing received for ${idleMs >= 1000 ? `${String(Math.round(idleMs / 1000))} s` : `${String(idleMs)} ms`}`);
    this.name = "WatchIdleError";
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptionsLean {
  query?: Query;
  body?: unknown;
  /** of the body; JSON unless a patch says which patch */
  contentType?: string;
  signal?: AbortSignal;
}

/** One event of a watch, as the API server sends it. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: Record<string, unknown>;
}

export interface KubeApiOptions {
  /** sent as User-Agent, so the API server's audit log names the process */
  userAgent?: string;
  /** told of every request as it is sent (the process's API-call metric) */
  onRequest?: RequestListener;
  /** a request (not a watch) that sends nothing back for this long fails (default 30 s) */
  timeoutMs?: number;
  /** how often TLS material kept in files is read again (default 5 minutes; tests shorten it) */
  tlsFilesMaxAgeMs?: number;
}

/** How long a token read from a file is used before the file is read again: projected ServiceAccount tokens rotate. */
const TOKEN_FILE_MAX_AGE_MS = 60_000;

/** How often TLS material kept in files is read again. */
const TLS_FILES_MAX_AGE_MS = 5 * 60_000;
/** How long a pool replaced by fresh TLS material lives on: past the longest watch (10 minutes). */
const RETIRED_POOL_MS = 15 * 60_000;

const pick = (m: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined }): { ca?: Buffer; cert?: Buffer; key?: Buffer } => ({ ...(m.ca ? { ca: m.ca } : {}), ...(m.cert ? { cert: m.cert } : {}), ...(m.key ? { key: m.key } : {}) });

/** The part of client-node's KubeConfig this client asks for delegated credentials. */
interface DelegatedAuth {
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

export class KubeApi {
  readonly server: URL;
  private readonly credentials: ClusterCredentials;
  private readonly entries: KubeconfigEntries | undefined;
  private agent: HttpsAgent | HttpAgentType;
  /** when the TLS files were last read, and what they held */
  private tlsRead: { at: number; ca?: Buffer; cert?: Buffer; key?: Buffer };
  private readonly userAgent: string;
  private readonly onRequest: RequestListener | undefined;
  private readonly timeoutMs: number;
  private readonly tlsFilesMaxAgeMs: number;
  private fileToken: { value: string; readAt: number } | undefined;
  private delegated: Promise<DelegatedAuth> | undefined;

  /** entries: the kubeconfig's, needed only when the credentials are delegated */
  constructor(credentials: ClusterCredentials, opts: KubeApiOptions = {}, entries?: KubeconfigEntries) {
    this.credentials = credentials;
    this.entries = entries;
    this.server = new URL(credentials.server);
    this.userAgent = opts.userAgent ?? "agentgate";
    this.onRequest = opts.onRequest;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.tlsFilesMaxAgeMs = opts.tlsFilesMaxAgeMs ?? TLS_FILES_MAX_AGE_MS;
    this.tlsRead = { at: Date.now(), ...pick(credentials) };
    this.agent = this.makeAgent(this.tlsRead);
  }

  private makeAgent(material: { ca?: Buffer; cert?: Buffer; key?: Buffer }): HttpsAgent | HttpAgentType {
    if (this.server.protocol === "http:") return new HttpAgent({ keepAlive: true });
    return new HttpsAgent({
      keepAlive: true,
      ...(material.ca ? { ca: material.ca } : {}),
      ...(material.cert ? { cert: material.cert } : {}),
      ...(material.key ? { key: material.key } : {}),
      rejectUnauthorized: !this.credentials.skipTLSVerify,
      ...(this.credentials.tlsServerName ? { servername: this.credentials.tlsServerName } : {}),
    });
  }

  /**
   * The pool, on TLS material read again from its files every few minutes:
   * a pod's ca.crt changes when the cluster's CA rotates, and a client
   * certificate file when it is renewed. A file that cannot be read keeps
   * what was read before. The replaced pool is closed once any watch on it
   * has ended.
   */
  private pool(): HttpsAgent | HttpAgentType {
    const files = this.credentials.files;
    const now = Date.now();
    if (!files || (files.ca === undefined && files.cert === undefined && files.key === undefined) || now - this.tlsRead.at < this.tlsFilesMaxAgeMs) return this.agent;
    const read = (file: string | undefined, had: Buffer | undefined): Buffer | undefined => {
      if (file === undefined) return had;
      try {
        return readFileSync(file);
      } catch {
        return had;
      }
    };
    const fresh = { ca: read(files.ca, this.tlsRead.ca), cert: read(files.cert, this.tlsRead.cert), key: read(files.key, this.tlsRead.key) };
    const same = (a: Buffer | undefined, b: Buffer | undefined): boolean => (a === undefined ? b === undefined : b !== undefined && a.equals(b));
    const changed = !same(fresh.ca, this.tlsRead.ca) || !same(fresh.cert, this.tlsRead.cert) || !same(fresh.key, this.tlsRead.key);
    this.tlsRead = { at: now, ...pick(fresh) };
    if (changed) {
      const old = this.agent;
      this.agent = this.makeAgent(fresh);
      setTimeout(() => old.destroy(), RETIRED_POOL_MS).unref();
    }
    return this.agent;
  }

  get<T = Record<string, unknown>>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, query ? { query } : {});
  }

  create<T = Record<string, unknown>>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>("POST", path, { body, ...(query ? { query } : {}) });
  }

  replace<T = Record<string, unknown>>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>("PUT", path, { body, ...(query ? { query } : {}) });
  }

  /** A JSON merge patch unless contentType says which patch. */
  patch<T = Record<string, unknown>>(path: string, body: unknown, contentType = "application/merge-patch+json", query?: Query): Promise<T> {
    return this.request<T>("PATCH", path, { body, contentType, ...(query ? { query } : {}) });
  }

  delete<T = Record<string, unknown>>(path: string, body?: unknown, query?: Query): Promise<T> {
    return this.request<T>("DELETE", path, { ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });
  }

  /** One request; a 2xx answer's JSON, else a KubeApiError. */
  async request<T>(method: string, path: string, opts: RequestOptionsLean = {}): Promise<T> {
    const res = await this.send(method, path, opts, false);
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw new KubeApiError(method, path, status, parseOrText(text), headersOf(res));
    if (text === "") return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(`${method} ${path.split("?")[0] ?? path}: the API server answered ${status} with a body that is not JSON`);
    }
  }

  /**
   * Watches path from query.resourceVersion: each event goes to onEvent as
   * it arrives. Resolves when the API server ends the watch (its timeout),
   * rejects on an answer other than 200, on an ERROR event (a KubeApiError
   * with the Status' code: 410 when the resourceVersion is too old), on a
   * broken connection, and when signal aborts. onConnected: the API server
   * accepted the watch. idleMs: a watch that receives nothing for this long
   * fails with a WatchIdleError (a connection that died without closing
   * looks connected until TCP gives up, which takes many minutes).
   */
  async watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, opts: { signal?: AbortSignal; onConnected?: () => void; idleMs?: number } = {}): Promise<void> {
    // idleMs covers the wait for the answer too: a watch sent on a pooled connection that died is never answered.
    const connecting = new AbortController();
    // set by the timer, so kept in an object the compiler does not narrow
    const wait: { unanswered: boolean } = { unanswered: false };
    const answerTimer = opts.idleMs === undefined ? undefined : setTimeout(() => { wait.unanswered = true; connecting.abort(); }, opts.idleMs);
    answerTimer?.unref();
    const signal = opts.signal ? AbortSignal.any([opts.signal, connecting.signal]) : connecting.signal;
    let res: IncomingMessage;
    try {
      res = await this.send("GET", path, { query: { ...query, watch: "true" }, signal }, true);
    } catch (err) {
      if (wait.unanswered) throw new WatchIdleError(path, opts.idleMs ?? 0);
      throw err;
    } finally {
      clearTimeout(answerTimer);
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) throw new KubeApiError("GET", path, status, parseOrText(await readAll(res)), headersOf(res));
    opts.onConnected?.();
    await new Promise<void>((resolve, reject) => {
      let buffered = "";
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        res.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      let idle: NodeJS.Timeout | undefined;
      const armIdle = (): void => {
        if (opts.idleMs === undefined) return;
        clearTimeout(idle);
        idle = setTimeout(() => fail(new WatchIdleError(path, opts.idleMs ?? 0)), opts.idleMs);
        idle.unref();
      };
      armIdle();
      res.on("close", () => clearTimeout(idle));
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        armIdle();
        buffered += chunk;
        for (let nl = buffered.indexOf("\n"); nl >= 0 && !failed; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line === "") continue;
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch {
            fail(new Error(`watch ${path}: the API server sent a line that is not JSON`));
            return;
          }
          if (event.type === "ERROR") {
            const code = typeof event.object.code === "number" ? event.object.code : 500;
            fail(new KubeApiError("GET", path, code, event.object));
            return;
          }
          try {
            onEvent(event);
          } catch (err) {
            fail(err);
            return;
          }
        }
      });
      let ended = false;
      res.on("end", () => {
        ended = true;
        if (!failed) resolve();
      });
      res.on("error", fail);
      // A connection that drops mid-watch, or an abort, closes the response without ending it.
      res.on("close", () => { if (!ended) fail(new Error(opts.signal?.aborted ? `watch ${path}: aborted` : `watch ${path}: connection closed`)); });
      opts.signal?.addEventListener("abort", () => fail(new Error(`watch ${path}: aborted`)), { once: true });
    });
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  private url(path: string, query: Query | undefined): URL {
    const url = new URL(this.server.pathname.replace(/\/+$/, "") + path, this.server);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  private bearer(): string | undefined {
    const { token, tokenFile } = this.credentials;
    if (token !== undefined) return token;
    if (tokenFile === undefined) return undefined;
    const now = Date.now();
    if (!this.fileToken || now - this.fileToken.readAt > TOKEN_FILE_MAX_AGE_MS) {
      try {
        this.fileToken = { value: readFileSync(tokenFile, "utf8").trim(), readAt: now };
      } catch (err) {
        // A token that cannot be read again is used until it is refused: the kubelet rewrites the file well before it expires.
        if (!this.fileToken) throw new Error(`cannot read the API token ${tokenFile}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    return this.fileToken.value;
  }

  private delegatedAuth(): Promise<DelegatedAuth> {
    this.delegated ??= (async () => {
      const k8s = await import("@kubernetes/client-node");
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions(this.entries);
      return kc;
    })();
    return this.delegated;
  }

  private async send(method: string, path: string, opts: RequestOptionsLean, streaming: boolean): Promise<IncomingMessage> {
    const url = this.url(path, opts.query);
    const headers: OutgoingHttpHeaders = { accept: "application/json", "user-agent": this.userAgent };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body));
      headers["content-type"] = opts.contentType ?? "application/json";
      headers["content-length"] = payload.length;
    }
    if (this.credentials.impersonate) headers["impersonate-user"] = this.credentials.impersonate;
    const options: RequestOptions = { method, agent: this.pool(), headers, ...(opts.signal ? { signal: opts.signal } : {}) };
    if (this.credentials.delegated) {
      // client-node fills in the Authorization header (and a client certificate an exec plugin returns)
      const extra: RequestOptions = { headers: {} };
      await (await this.delegatedAuth()).applyToHTTPSOptions(extra);
      Object.assign(headers, extra.headers);
      if (extra.cert !== undefined || extra.key !== undefined) {
        options.agent = false;
        Object.assign(options, { ca: this.credentials.ca, cert: extra.cert, key: extra.key, rejectUnauthorized: !this.credentials.skipTLSVerify });
      }
    } else {
      const token = this.bearer();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    if (this.onRequest) {
      const { verb, resource } = classifyRequest(method, url.pathname + url.search, typeof headers["content-type"] === "string" ? headers["content-type"] : "");
      this.onRequest(verb, resource);
    }
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === "http:" ? httpRequest : httpsRequest)(url, options, resolve);
      req.on("error", (err) => reject(new Error(`${method} ${path.split("?")[0] ?? path}: ${err.message}`, { cause: err })));
      if (!streaming) {
        req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer in ${this.timeoutMs / 1000} s`)));
      }
      req.end(payload);
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("connection closed before the answer ended")));
  });
}

function headersOf(res: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(res.headers)) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** A body that is not JSON (a proxy's HTML page) is still worth its first line. */
function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text.slice(0, 300);
  }
}
