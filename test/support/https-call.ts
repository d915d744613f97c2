// One HTTPS request to a gateway under test, answered as status, body and
// the certificate it was served with. Without a CA the gateway's
// certificate is not checked (a test about what it answers); with one, only
// that CA is trusted (a test about which certificate it serves).
import { request as httpsRequest, type Agent } from "node:https";
import type { TLSSocket } from "node:tls";

export interface HttpsAnswer {
  status: number;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented */
  served: string;
}

export interface HttpsCallOptions {
  /** PEM: trust only this; default, trust anything */
  ca?: string;
  /** a request with no answer by then fails; default, none */
  timeoutMs?: number;
  /** keep-alive connections shared by the calls (load on a gateway); default, a connection a call */
  agent?: Agent;
}

export function httpsCall(port: number, method: string, path: string, body?: string | Buffer, opts: HttpsCallOptions = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const trust = opts.ca === undefined ? { rejectUnauthorized: false } : { ca: opts.ca };
    const req = httpsRequest({ host: "127.0.0.1", port, path, method, ...trust, agent: opts.agent ?? false, headers: { "content-type": "application/json" }, ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }) }, (res) => {
      const served = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? "";
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), served }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}
