// The platform's floor for the fixed-rate figure: node:https on the same
// certificate, answering every request with a fixed AdmissionReview of the
// gateway's size and doing nothing else. Measured with the same generator at
// the same rate, its latency is what this machine, its kernel, TLS over
// loopback and the generator cost before any policy work. Prints its port.
import { createServer } from "node:https";
import { readFileSync } from "node:fs";

const [certFile, keyFile] = process.argv.slice(2);
if (!certFile || !keyFile) throw new Error("usage: floor-server.ts CERT KEY");
const body = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "00000000-0000-0000-0000-000000000000", allowed: false, status: { code: 403, reason: "Forbidden", message: "x".repeat(160), status: "Failure" } } });
const server = createServer({ cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") }, (req, res) => {
  req.on("data", () => undefined);
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
