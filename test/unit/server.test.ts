// The HTTPS server's contract: bad input gets a one-line 4xx and the process
// stays up; evaluation errors fail closed; health, readiness and metrics.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import type { Server } from "node:https";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { logger } from "../../src/log.ts";
import { readBundle } from "../../src/policy/bundle.ts";
import { PolicyEngine } from "../../src/policy/engine.ts";
import { GatewayMetrics } from "../../src/server/metrics.ts";
import { MAX_BODY_BYTES, createGatewayServer } from "../../src/server/server.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import type { AdmissionReview } from "../../src/types/admission.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

let server: Server;
let port = 0;
let ready: string | undefined = "watch caches not synced: AgentConfig";

// Denies tokenBudget > 10; with spec.explode a complete rule gets two
// values, which is a run-time error in OPA and in its wasm.
const REGO = `package agentgate
violations contains {"policy": "token-budget", "field": "spec.tokenBudget", "message": "too big", "action": "deny"} if {
  input.request.object.spec.tokenBudget > 10
}
conflict := 1 if input.request.object.spec.explode
conflict := 2 if input.request.object.spec.explode
violations contains {"policy": "boom", "field": "spec", "message": "m", "action": "deny"} if conflict == 1
`;

before(async () => {
  logger.level = "error";
  const bundle = await readBundle(await buildTestBundle({ "p.rego": REGO }, { entrypoints: ["agentgate/violations"], name: "unit" }));
  const engine = await PolicyEngine.load([bundle]);
  const tls = generateServingCertificate(["127.0.0.1"]);
  server = createGatewayServer({
    tls,
    deps: { engine: () => engine, lookup: new StaticLookup(), identity: makeIdentity([]), exemptNamespaces: new Set(["kube-system"]) },
    metrics: new GatewayMetrics(),
    log: logger,
    notReady: () => ready,
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  port = typeof address === "object" && address ? address.port : 0;
});

after(() => new Promise<void>((r) => { server.close(() => { r(); }); server.closeAllConnections(); }));

function call(method: string, path: string, body?: string | Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method, rejectUnauthorized: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
    });
    req.on("error", reject);
    req.end(body);
  });
}

function review(spec: Record<string, unknown>, resource = "agentconfigs", namespace = "qe"): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "uid-1",
      kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentConfig" },
      resource: { group: "agent.tekton.dev", version: "v1alpha1", resource },
      operation: "CREATE",
      namespace,
      userInfo: { username: "alice" },
      object: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "a", namespace }, spec },
    },
  });
}

const badInputs: { name: string; body: string | Buffer; status: number; error: RegExp }[] = [
  { name: "non-JSON", body: "nope", status: 400, error: /^request body is not JSON/ },
  { name: "wrong apiVersion", body: JSON.stringify({ apiVersion: "v1", kind: "AdmissionReview" }), status: 400, error: /apiVersion must be admission\.k8s\.io\/v1/ },
  { name: "no request", body: JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), status: 400, error: /has no request/ },
  { name: "an unknown resource", body: review({}, "pods"), status: 400, error: /does not handle resource agent\.tekton\.dev\/v1alpha1\/pods/ },
  { name: "a body over the size limit", body: Buffer.alloc(MAX_BODY_BYTES + 10, 32), status: 413, error: /over the limit of \d+ bytes/ },
];

for (const c of badInputs) {
  test(`${c.name} → HTTP ${c.status} with a one-line reason, and the server stays up`, async () => {
    const res = await call("POST", "/validate", c.body);
    assert.equal(res.status, c.status);
    const parsed = JSON.parse(res.body) as { error: string };
    assert.match(parsed.error, c.error);
    assert.ok(!parsed.error.includes("\n"));
    assert.equal((await call("GET", "/healthz")).status, 200);
  });
}

test("a denial is 403 Forbidden with the [policy-id] field: message line", async () => {
  const res = await call("POST", "/validate", review({ tokenBudget: 50 }));
  const response = (JSON.parse(res.body) as AdmissionReview).response;
  assert.equal(res.status, 200);
  assert.equal(response?.uid, "uid-1");
  assert.equal(response.allowed, false);
  assert.deepEqual(response.status, { code: 403, reason: "Forbidden", message: "[token-budget] spec.tokenBudget: too big", status: "Failure" });
});

test("an evaluation error fails closed, naming the bundle and the error", async () => {
  const res = await call("POST", "/validate", review({ explode: { not: "a number" } }));
  const response = (JSON.parse(res.body) as AdmissionReview).response;
  assert.equal(response?.allowed, false);
  assert.match(response.status?.message ?? "", /^\[policy-evaluation\] bundle "unit": evaluation failed under revision src-[0-9a-f]+: .+fail closed/);
});

test("an exempt namespace is admitted without evaluation", async () => {
  const res = await call("POST", "/validate", review({ tokenBudget: 50 }, "agentconfigs", "kube-system"));
  assert.equal((JSON.parse(res.body) as AdmissionReview).response?.allowed, true);
});

test("readiness follows the caches; health does not", async () => {
  ready = "watch caches not synced: AgentConfig";
  const notReady = await call("GET", "/readyz");
  assert.equal(notReady.status, 503);
  assert.match(notReady.body, /not synced: AgentConfig/);
  ready = undefined;
  assert.equal((await call("GET", "/readyz")).status, 200);
});

test("metrics count decisions by resource, operation and decision", async () => {
  await call("POST", "/validate", review({ tokenBudget: 1 }));
  const res = await call("GET", "/metrics");
  assert.equal(res.status, 200);
  assert.match(res.body, /agentgate_admission_requests_total\{webhook="validate",resource="agentconfigs",operation="CREATE",decision="denied"\} [1-9]/);
  assert.match(res.body, /agentgate_admission_requests_total\{webhook="validate",resource="agentconfigs",operation="CREATE",decision="allowed"\} [1-9]/);
  assert.match(res.body, /agentgate_violations_total\{policy="token-budget",action="deny"\} [1-9]/);
  assert.match(res.body, /agentgate_bad_requests_total\{reason="too_large"\} 1/);
});

test("GET on an admission endpoint is 405 with what is served", async () => {
  const res = await call("GET", "/validate");
  assert.equal(res.status, 405);
  assert.match(res.body, /POST \/validate/);
});
