// The README's "Troubleshooting" quotes what kubectl prints when the API
// server cannot get an answer from the webhook. Each failure is made here for
// real, against a real kube-apiserver, and the README's quote must be in what
// kubectl printed; so a Kubernetes release that rewords one fails this test
// rather than leaving the README wrong.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");

let cp: ControlPlane;
const servers: Server[] = [];

function listen(server: Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    resolve(typeof address === "object" && address ? address.port : 0);
  }));
}

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** One webhook on ConfigMaps of namespace `ns` (its name), calling `url` and trusting `caPem`. */
async function register(ns: string, url: string, caPem: string, timeoutSeconds = 5): Promise<void> {
  await cp.kubectl(["create", "namespace", ns]);
  await cp.applyYaml(stringify({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: ns },
    webhooks: [{
      name: "validate.agent.tekton.dev",
      clientConfig: { url, caBundle: Buffer.from(caPem).toString("base64") },
      rules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], operations: ["CREATE"], scope: "Namespaced" }],
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      failurePolicy: "Fail",
      timeoutSeconds,
    }],
  }));
}

/** kubectl's stderr for a create the webhook should refuse, once the API server has the configuration. */
async function refused(ns: string): Promise<string> {
  let stderr = "";
  for (let i = 0; i < 100 && !stderr.includes("failed calling webhook"); i++) {
    stderr = (await cp.kubectl(["create", "configmap", `c${String(i)}`, "-n", ns], { allowFail: true })).stderr;
    if (!stderr.includes("failed calling webhook")) await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`# ${ns}: ${stderr}`);
  return stderr;
}

/** The fragment the README's troubleshooting list quotes for `cause`, e.g. `x509: certificate signed by unknown authority`. */
function quoted(cause: RegExp): string {
  const start = README.indexOf("\n## Troubleshooting\n");
  assert.ok(start >= 0, "README has a Troubleshooting section");
  const text = README.slice(start, README.indexOf("\n## ", start + 5));
  const line = text.split("\n").find((l) => l.startsWith("- **`") && cause.test(l));
  const fragment = /^- \*\*`([^`]+)`/.exec(line ?? "")?.[1];
  assert.ok(fragment, `the README's Troubleshooting quotes ${String(cause)}`);
  return fragment;
}

before(async () => {
  cp = await startControlPlane();
});

after(async () => {
  for (const s of servers) s.close();
  await cp.stop();
});

test("a caBundle that is not the serving certificate's CA: x509, unknown authority", async () => {
  const served = generateServingCertificate(["127.0.0.1"]);
  const other = generateServingCertificate(["127.0.0.1"]);
  const port = await listen(createHttpsServer({ cert: served.cert, key: served.key }, (_req, res) => res.end()));
  await register("wrong-ca", `https://127.0.0.1:${String(port)}/validate`, other.caCert);
  const stderr = await refused("wrong-ca");
  assert.match(stderr, /failed calling webhook "validate\.agent\.tekton\.dev"/);
  assert.ok(stderr.includes(quoted(/unknown authority/)), stderr);
});

test("a certificate for another name: x509, valid for other names", async () => {
  const served = generateServingCertificate(["agentgate.elsewhere.svc"]);
  const port = await listen(createHttpsServer({ cert: served.cert, key: served.key }, (_req, res) => res.end()));
  // The API server calls the Service's DNS name; here localhost plays it.
  await register("wrong-name", `https://localhost:${String(port)}/validate`, served.caCert);
  const stderr = await refused("wrong-name");
  assert.ok(stderr.includes(quoted(/is valid for/)), stderr);
});

test("nothing listening (no ready gateway pod, a wrong port): connection refused", async () => {
  const port = await closedPort();
  await register("no-gateway", `https://127.0.0.1:${String(port)}/validate`, generateServingCertificate(["127.0.0.1"]).caCert);
  const stderr = await refused("no-gateway");
  assert.ok(stderr.includes(quoted(/connection refused/)), stderr);
});

test("no answer within timeoutSeconds: context deadline exceeded", async () => {
  const served = generateServingCertificate(["127.0.0.1"]);
  // Takes the request and never answers.
  const port = await listen(createHttpsServer({ cert: served.cert, key: served.key }, () => undefined));
  await register("too-slow", `https://127.0.0.1:${String(port)}/validate`, served.caCert, 1);
  const stderr = await refused("too-slow");
  assert.ok(stderr.includes(quoted(/deadline/)), stderr);
});
