// `serve --metrics-listen`: the gateway's registry on a plain-HTTP port of
// its own. The webhook port serves /metrics too, but over TLS with a
// certificate Prometheus would have to be given the CA of; and the chart
// scrapes every agentgate process on one port name, `metrics`.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/** Listens on addr and answers GET /metrics; rejects with the listen error (address in use, not local). */
export async function listenMetrics(registry: Registry, addr: { host: string; port: number }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("this port serves /metrics only\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end("GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(req.method === "HEAD" ? undefined : text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics could not be collected\n"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(addr.port, addr.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

/** The port a listening server got (the one asked for, or the one picked for port 0). */
export function listeningPort(server: Server): number {
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}
