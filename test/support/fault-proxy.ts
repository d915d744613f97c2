// An HTTP proxy in front of a stand-in service (kagent's A2A endpoint) that
// injects faults per request: connections refused (down), answers delayed
// or never given, bytes that are not HTTP, a 200 that is not what was asked
// for, an event stream cut or corrupted part way. Faults that garble an
// answer forward the request first, as a real fault after the service took
// the request would: whatever the client then does, the service has seen it.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault =
  /** forwarded, answered as the service answers */
  | { kind: "pass" }
  /** forwarded; the answer held back this long */
  | { kind: "delay"; ms: number }
  /** forwarded; never answered (the client gives up) */
  | { kind: "hang" }
  /** forwarded; answered with bytes that are not HTTP, then the connection closed */
  | { kind: "garbage-bytes" }
  /** forwarded; answered 200 with an HTML page instead of the service's answer */
  | { kind: "garbage-http" }
  /** forwarded; `events` server-sent events passed on, then the connection reset */
  | { kind: "cut-after-events"; events: number }
  /** forwarded; after `events` server-sent events, one whose data is not JSON */
  | { kind: "garbage-event-after"; events: number };

export interface ProxiedCall {
  /** the JSON-RPC method of the request body, or "" */
  method: string;
  fault: Fault["kind"];
}

export interface FaultProxy {
  /** http://127.0.0.1:<port>, the same across down() and up() */
  readonly url: string;
  /** picks each request's fault from its JSON-RPC method; default: every request passes */
  rule: (method: string) => Fault;
  readonly calls: ProxiedCall[];
  /** stops listening and drops every connection: connections are refused until up() */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const GARBAGE_BYTES = Buffer.from("\u0000\u00ff\u0013garbage, not HTTP\r\n\r\n", "latin1");

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const calls: ProxiedCall[] = [];

  const forward = (req: IncomingMessage, body: Buffer, onResponse: (res: IncomingMessage) => void, res: ServerResponse): void => {
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, onResponse);
    out.on("error", () => { res.socket?.destroy(); });
    // The client went away: so does the proxied request, as a cut connection would.
    res.on("close", () => { if (!res.writableFinished) out.destroy(); });
    out.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let method = "";
    try {
      const parsed: unknown = JSON.parse(body.toString("utf8"));
      if (typeof parsed === "object" && parsed !== null && "method" in parsed && typeof parsed.method === "string") method = parsed.method;
    } catch {
      // no JSON-RPC body: the rule sees ""
    }
    const fault = proxy.rule(method);
    calls.push({ method, fault: fault.kind });
    forward(req, body, (up) => {
      switch (fault.kind) {
        case "pass":
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        case "delay":
          setTimeout(() => {
            if (res.destroyed) return;
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          }, fault.ms);
          return;
        case "hang":
          up.resume();
          return;
        case "garbage-bytes":
          up.resume();
          res.socket?.end(GARBAGE_BYTES);
          return;
        case "garbage-http":
          up.resume();
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<html><body>Service Unavailable</body></html>\n");
          return;
        case "cut-after-events":
        case "garbage-event-after": {
          if (fault.events > 0) res.writeHead(up.statusCode ?? 502, up.headers);
          let seen = 0;
          let pending = "";
          let faulted = false;
          up.setEncoding("utf8");
          up.on("data", (text: string) => {
            if (res.destroyed || faulted) return;
            // Events end at a blank line; pass whole events and count them.
            pending += text;
            let passed = "";
            for (let end = pending.indexOf("\n\n"); end !== -1 && seen < fault.events; end = pending.indexOf("\n\n")) {
              passed += pending.slice(0, end + 2);
              pending = pending.slice(end + 2);
              seen++;
            }
            if (seen < fault.events) {
              if (passed !== "") res.write(passed);
              return;
            }
            faulted = true;
            up.destroy();
            if (fault.kind === "garbage-event-after") {
              res.end(`${passed}data: {garbage\n\n`);
              return;
            }
            // Closed without the chunked body's end, once what was passed on is out: the client reads a broken stream.
            if (passed !== "") res.write(passed, () => res.socket?.destroy());
            else res.socket?.destroy();
          });
          up.on("end", () => { if (!res.destroyed && !faulted) res.end(pending); });
          return;
        }
      }
    }, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => { res.socket?.destroy(); });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let listening = true;

  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (!listening) {
        resolve();
        return;
      }
      listening = false;
      for (const s of sockets) s.destroy();
      server.close(() => { resolve(); });
    });

  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${String(port)}`,
    rule: () => ({ kind: "pass" }),
    calls,
    down: stop,
    up: () =>
      new Promise((resolve, reject) => {
        if (listening) {
          resolve();
          return;
        }
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          listening = true;
          server.off("error", reject);
          resolve();
        });
      }),
    close: stop,
  };
  return proxy;
}
