// The cost bound on the HTTPS path: a review over the limits is denied as a
// decision (an agent kind is never allowed by being too big), before any
// policy runs; a body that is not a review stays an HTTP error.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest, type Server } from "node:https";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { ephemeralKeyring } from "../../src/signing/keyring.ts";
import { logger } from "../../src/log.ts";
import { loadEngine } from "../../src/policy/load.ts";
import type { PolicyEngine } from "../../src/policy/engine.ts";
import { GatewayMetrics } from "../../src/server/metrics.ts";
import { createGatewayServer } from "../../src/server/server.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import type { AdmissionReview } from "../../src/types/admission.ts";

let server: Server;
let port = 0;
let engine: PolicyEngine;
/** how often the server asked for the policy engine: never for a review over the limits */
let evaluations = 0;
const metrics = new GatewayMetrics();
const limits = { maxValues: 2000, maxDepth: 40 };

before(async () => {
  logger.level = "error";
  engine = await loadEngine([]);
  server = createGatewayServer({
    tls: generateServingCertificate(["127.0.0.1"]),
    deps: { engine: () => { evaluations++; return engine; }, lookup: new StaticLookup(), identity: makeIdentity([]), exemptNamespaces: new Set(["kube-system"]), keyring: ephemeralKeyring() },
    metrics,
    log: logger,
    notReady: () => undefined,
    reviewLimits: limits,
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  port = typeof address === "object" && address ? address.port : 0;
});

after(() => new Promise<void>((r) => { server.close(() => { r(); }); server.closeAllConnections(); }));

function post(path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method: "POST", rejectUnauthorized: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** An Agent CREATE whose preserve-unknown spec.skills is `skills` (JSON text). */
function agentReview(skills: string, resource = { group: "kagent.dev", version: "v1alpha2", resource: "agents" }): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "u-cost",
      kind: { group: "kagent.dev", version: "v1alpha2", kind: "Agent" },
      resource,
      operation: "CREATE",
      namespace: "qe",
      name: "big",
      userInfo: { username: "alice" },
      object: { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "big", namespace: "qe" }, spec: { type: "Declarative", declarative: { modelConfig: "claude", systemMessage: "hi" }, skills: "@@" } },
    },
  }).replace('"@@"', skills);
}

const wide = `{"blob":[${"[],".repeat(3000)}[]]}`;
const deep = `{"nest":${"[".repeat(50)}${"]".repeat(50)}}`;

const denials: { name: string; webhook: string; skills: string; message: RegExp }[] = [
  { name: "too many values", webhook: "/validate", skills: wide, message: /^\[request-size\] the review holds 30\d\d JSON values, over the gateway's limit of 2000; keep bulk data out of the object .*gateway\.reviewLimits\.maxValues\ndecision_id u-cost: / },
  { name: "too deep", webhook: "/validate", skills: deep, message: /^\[request-size\] the review nests 55 levels deep, over the gateway's limit of 40 \(the object starts 3 levels in\); flatten .*gateway\.reviewLimits\.maxDepth\ndecision_id u-cost: / },
  { name: "too many values, on the mutating webhook", webhook: "/mutate", skills: wide, message: /^\[request-size\] the review holds 30\d\d JSON values/ },
];

for (const c of denials) {
  test(`an Agent with ${c.name} is denied in the AdmissionReview, without evaluation`, async () => {
    const before = evaluations;
    const answer = await post(c.webhook, agentReview(c.skills));
    assert.equal(answer.status, 200, answer.body);
    const { response } = JSON.parse(answer.body) as Required<AdmissionReview>;
    assert.equal(response.uid, "u-cost");
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.match(response.status?.message ?? "", c.message);
    assert.equal(response.patch, undefined);
    assert.equal(evaluations, before, "the policy engine was not asked");
  });
}

test("both limits exceeded: one line for each", async () => {
  const answer = await post("/validate", agentReview(`{"w":${wide},"d":${deep}}`));
  const lines = ((JSON.parse(answer.body) as Required<AdmissionReview>).response.status?.message ?? "").split("\n");
  assert.deepEqual(lines.map((l) => /^\[request-size\] the review (holds|nests)/.exec(l)?.[1] ?? /^decision_id (u-cost):/.exec(l)?.[1]), ["holds", "nests", "u-cost"]);
});

test("the denial is counted as a decision and a request-size finding", async () => {
  const denied = async () => (await metrics.requests.get()).values.filter((v) => v.labels.decision === "denied" && v.labels.resource === "agents").reduce((s, v) => s + v.value, 0);
  const findings = async () => (await metrics.violations.get()).values.filter((v) => v.labels.policy === "request-size").reduce((s, v) => s + v.value, 0);
  const [d0, f0] = [await denied(), await findings()];
  await post("/validate", agentReview(wide));
  assert.deepEqual([await denied() - d0, await findings() - f0], [1, 1]);
});

test("an Agent within the limits is evaluated as before", async () => {
  const before = evaluations;
  const answer = await post("/validate", agentReview(`{"blob":[${"[],".repeat(500)}[]]}`));
  assert.equal(answer.status, 200, answer.body);
  assert.equal((JSON.parse(answer.body) as Required<AdmissionReview>).response.uid, "u-cost");
  assert.ok(evaluations > before, "evaluated");
});

const httpErrors: { name: string; body: () => string; status: number; error: RegExp }[] = [
  { name: "a huge body that is not an AdmissionReview", body: () => `[${"1,".repeat(5000)}1]`, status: 413, error: /^request body over the gateway's limits \(the review holds 5002 JSON values, over the gateway's limit of 2000; .*\) and not an admission\.k8s\.io\/v1 AdmissionReview$/ },
  { name: "a huge review of a resource the gateway does not handle", body: () => agentReview(wide, { group: "example.com", version: "v1", resource: "widgets" }), status: 400, error: /^agentgate does not handle resource example\.com\/v1\/widgets$/ },
];

for (const c of httpErrors) {
  test(`${c.name} stays an HTTP ${c.status} with one line`, async () => {
    const answer = await post("/validate", c.body());
    assert.equal(answer.status, c.status);
    assert.match((JSON.parse(answer.body) as { error: string }).error, c.error);
  });
}
