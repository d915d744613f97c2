// --tls-cert-file/--tls-key-file: a new pair written over the files is served
// without a restart, a half-written pair is not, and /metrics says which
// certificate is in use and when it expires.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { startGateway } from "../../src/cli/serve.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import { until } from "../support/until.ts";

function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? "";
      socket.end();
      resolve(fp);
    });
    socket.on("error", reject);
  });
}

function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/metrics", rejectUnauthorized: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

test("certificate files are reloaded when they change; /metrics shows the certificate in use", async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-tls-"));
  const certFile = join(dir, "tls.crt");
  const keyFile = join(dir, "tls.key");
  const first = generateServingCertificate(["127.0.0.1"], 30);
  await writeFile(certFile, first.cert);
  await writeFile(keyFile, first.key);
  const gateway = await startGateway({ listen: "127.0.0.1:0", tlsCertFile: certFile, tlsKeyFile: keyFile, bundle: [], offline: true, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [], drainSeconds: 0 });
  try {
    const fp1 = new X509Certificate(first.cert).fingerprint256;
    assert.equal(await servedFingerprint(gateway.port), fp1);
    assert.match(await metricsText(gateway.port), /agentgate_serving_certificate_loads_total\{source="files"\} 1\n/);

    // A certificate without its key must not be served: the pair is kept.
    const second = generateServingCertificate(["127.0.0.1"], 90);
    await writeFile(certFile, second.cert);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await servedFingerprint(gateway.port), fp1, "a mismatched pair replaced the served certificate");

    await writeFile(keyFile, second.key);
    const fp2 = new X509Certificate(second.cert).fingerprint256;
    await until("the new certificate to be served", async () => (await servedFingerprint(gateway.port)) === fp2);
    const metrics = await metricsText(gateway.port);
    assert.match(metrics, /agentgate_serving_certificate_loads_total\{source="files"\} 2\n/);
    const expiry = Math.floor(new X509Certificate(second.cert).validToDate.getTime() / 1000);
    assert.match(metrics, new RegExp(`agentgate_serving_certificate_expiry_timestamp_seconds ${expiry}\\n`));
  } finally {
    await gateway.close();
    await rm(dir, { recursive: true, force: true });
  }
});
