// API-server authentication end to end: kube-apiserver started with an
// AdmissionConfiguration whose webhook kubeconfig holds a client certificate
// for the gateway's host:port calls a gateway running with
// --client-ca-file; kubectl apply works through both webhooks, and a caller
// without the certificate (a direct POST, or the API server reaching the same
// gateway under a name its kubeconfig has no user for) is refused.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";
import { clientCertificate, testCa } from "./client-certs.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const GW_NS = "agentgate-system";
const API_SERVER_CN = "kube-apiserver-webhook-client";

let dir: string;
let cp: ControlPlane;
let gateway: RunningGateway;
const clientsCa = testCa("webhook-clients");

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");
const b64 = (s: string) => Buffer.from(s).toString("base64");

function post(path: string, body: string, client?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: gateway.port, path, method: "POST", ca: gateway.caCert, agent: false, ...(client ?? {}), headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: gateway.port, path, ca: gateway.caCert, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

const modelConfig = (name: string, model: string, provider: string) => ({
  apiVersion: "kagent.dev/v1alpha2",
  kind: "ModelConfig",
  metadata: { name, namespace: "qe" },
  spec: { provider, model, apiKeySecret: "key", apiKeySecretKey: "key" },
});

/** A webhook configuration of one webhook at `url`, as a cluster admin would write it. */
function webhookConfig(kind: "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration", name: string, url: string, rule: { group: string; version: string; resource: string }) {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind,
    metadata: { name },
    webhooks: [
      {
        name: `${name}.agent.tekton.dev`,
        clientConfig: { url, caBundle: b64(gateway.caCert ?? "") },
        rules: [{ apiGroups: [rule.group], apiVersions: [rule.version], resources: [rule.resource], operations: ["CREATE", "UPDATE"], scope: "Namespaced" }],
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: "Fail",
        timeoutSeconds: 5,
      },
    ],
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-client-auth-e2e-"));
  const caFile = join(dir, "webhook-clients-ca.crt");
  await writeFile(caFile, clientsCa.cert);
  // Offline: the point is who may call, not what the policy looks up.
  gateway = await startGateway({
    listen: "127.0.0.1:0",
    bundle: [],
    offline: true,
    namespace: GW_NS,
    serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`,
    trustedUser: [],
    drainSeconds: 0,
    clientCaFile: caFile,
    clientCn: [API_SERVER_CN],
  });
  // What the cluster admin writes: a kubeconfig whose user is named for the
  // webhook's host:port, and the AdmissionConfiguration naming it for both plugins.
  const client = clientCertificate(clientsCa, API_SERVER_CN);
  const kubeconfig = join(dir, "webhook.kubeconfig");
  await writeFile(kubeconfig, stringify({
    apiVersion: "v1",
    kind: "Config",
    users: [{ name: `127.0.0.1:${gateway.port}`, user: { "client-certificate-data": b64(client.cert), "client-key-data": b64(client.key) } }],
  }));
  const admission = join(dir, "admission.yaml");
  const plugin = (name: string) => ({ name, configuration: { apiVersion: "apiserver.config.k8s.io/v1", kind: "WebhookAdmissionConfiguration", kubeConfigFile: kubeconfig } });
  await writeFile(admission, stringify({ apiVersion: "apiserver.config.k8s.io/v1", kind: "AdmissionConfiguration", plugins: [plugin("ValidatingAdmissionWebhook"), plugin("MutatingAdmissionWebhook")] }));
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()], apiServerArgs: [`--admission-control-config-file=${admission}`] });
  const url = `https://127.0.0.1:${gateway.port}`;
  await cp.applyYaml(yaml(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe" } },
    webhookConfig("ValidatingWebhookConfiguration", "validate-auth", `${url}/validate`, { group: "kagent.dev", version: "v1alpha2", resource: "modelconfigs" }),
    webhookConfig("MutatingWebhookConfiguration", "mutate-auth", `${url}/mutate`, { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentconfigs" }),
  ));
});

after(async () => {
  await gateway.close();
  await cp.stop();
  await rm(dir, { recursive: true, force: true });
});

test("kubectl apply goes through both webhooks with client-certificate authentication on", async () => {
  // Registered webhooks take a moment to be called: probe with one the policy refuses.
  let denied = "";
  for (let i = 0; i < 100 && !denied.includes("[model-allowlist]"); i++) {
    denied = (await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: yaml(modelConfig("probe", "gpt-3.5-turbo", "OpenAI")), allowFail: true })).stderr;
    if (!denied.includes("[model-allowlist]")) await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(denied, /admission webhook "validate-auth\.agent\.tekton\.dev" denied the request: \[model-allowlist\]/);
  const allowed = await cp.kubectl(["apply", "-f", "-"], { stdin: yaml(modelConfig("claude", "claude-3-5-sonnet-20241022", "Anthropic")), allowFail: true });
  assert.equal(allowed.code, 0, allowed.stderr);
  // The mutating webhook filled the bundle's defaults: it was called, and answered.
  const config = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer", namespace: "qe" }, spec: { modelConfigRef: { name: "claude" } } };
  const created = await cp.kubectl(["apply", "-f", "-"], { stdin: yaml(config), allowFail: true });
  assert.equal(created.code, 0, created.stderr);
  const stored = JSON.parse((await cp.kubectl(["get", "agentconfig", "writer", "-n", "qe", "-o", "json"])).stdout) as { spec: { timeout?: string } };
  assert.equal(stored.spec.timeout, "15m", "defaults.timeout filled by /mutate");
});

test("a direct POST without the certificate, or with one from another CA, is refused with 401; probes stay open", async () => {
  const review = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} });
  const none = await post("/validate", review);
  assert.equal(none.status, 401);
  assert.deepEqual(JSON.parse(none.body), { error: "POST /validate: a TLS client certificate signed by the gateway's client CA (Helm gateway.clientAuth) is required; none was presented" });
  const stranger = await post("/mutate", review, clientCertificate(testCa("elsewhere"), API_SERVER_CN));
  assert.equal(stranger.status, 401);
  assert.match((JSON.parse(stranger.body) as { error: string }).error, /^POST \/mutate: the TLS client certificate does not verify against the gateway's client CA \(Helm gateway.clientAuth\): /);
  const wrongName = await post("/validate", review, clientCertificate(clientsCa, "someone"));
  assert.equal(wrongName.status, 403);
  for (const path of ["/healthz", "/readyz", "/metrics"]) assert.equal(await get(path), 200, path);
});

test("the API server reaching the gateway under a name its kubeconfig has no user for sends no certificate, and the call fails", async () => {
  const url = `https://localhost:${gateway.port}/validate`;
  await cp.applyYaml(yaml(webhookConfig("ValidatingWebhookConfiguration", "no-cert", url, { group: "kagent.dev", version: "v1alpha2", resource: "modelconfigs" })));
  let stderr = "";
  for (let i = 0; i < 100 && !stderr.includes("no-cert.agent.tekton.dev"); i++) {
    stderr = (await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: yaml(modelConfig("other", "claude-3-5-sonnet-20241022", "Anthropic")), allowFail: true })).stderr;
    if (!stderr.includes("no-cert.agent.tekton.dev")) await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`# kubectl apply through a webhook without a client certificate:\n${stderr}`);
  assert.match(stderr, /failed calling webhook "no-cert\.agent\.tekton\.dev"/);
  // client-go's words for our 401
  assert.match(stderr, /the server has asked for the client to provide credentials/);
});
