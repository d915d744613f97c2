// The do-nothing webhook `npm run bench:apiserver` compares agentgate with:
// a node:https server that reads the AdmissionReview, parses it (any webhook
// must, to echo the request's uid) and allows it, with no patch. It runs as
// a child process, as the gateway does, and prints {"port": N} when it
// listens. Arguments: the serving certificate and key files.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const [certFile, keyFile] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) {
  console.error("usage: noop-webhook.ts <tls.crt> <tls.key>");
  process.exit(2);
}

const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    let uid = "";
    try {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request?: { uid?: unknown } };
      if (typeof review.request?.uid === "string") uid = review.request.uid;
    } catch {
      res.writeHead(400).end();
      return;
    }
    const body = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid, allowed: true } });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address !== null ? address.port : 0 })}\n`);
});
