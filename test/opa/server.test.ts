// The HTTPS server's contract: bad input gets a one-line 4xx and the process
// stays up; evaluation errors fail closed; health, readiness and metrics.
import { ephemeralKeyring } from "../../src/signing/keyring.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { Server } from "node:https";
import { Writable } from "node:stream";
import winston from "winston";
import { parse as parseYaml } from "yaml";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { logger } from "../../src/log.ts";
import { readBundle } from "../../src/policy/bundle.ts";
import { BundleStore } from "../../src/policy/bundles/store.ts";
import { PolicyEngine } from "../../src/policy/engine.ts";
import { createDecisionLogger, DEFAULT_REDACTIONS } from "../../src/server/decision-log.ts";
import { GatewayMetrics } from "../../src/server/metrics.ts";
import { MAX_BODY_BYTES, createGatewayServer } from "../../src/server/server.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import type { AdmissionReview } from "../../src/types/admission.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

let server: Server;
let port = 0;
let ready: string | undefined = "watch caches not synced: AgentConfig";
let engine: PolicyEngine;
/** what the server handed to the Event recorder (src/server/denial-events.ts in serve) */
const deniedUpdates: { uid: string; message: string }[] = [];
/** a gateway with no bundle in force yet: every review fails closed */
let unready: Server;
let unreadyPort = 0;

/** Decision logs as `agentgate serve --decision-logs` writes them: winston, timestamp + JSON, one line each. */
const decisionLines: Record<string, unknown>[] = [];
const decisionLogger = winston.createLogger({
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Stream({ stream: new Writable({ write(chunk: Buffer, _enc, done) { for (const line of chunk.toString().split("\n")) if (line.trim() !== "") decisionLines.push(JSON.parse(line) as Record<string, unknown>); done(); } }) })],
});
const decisions = createDecisionLogger(decisionLogger, DEFAULT_REDACTIONS);

const listen = async (s: Server): Promise<number> => {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const address = s.address();
  return typeof address === "object" && address ? address.port : 0;
};

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
  engine = await PolicyEngine.load([bundle]);
  const tls = generateServingCertificate(["127.0.0.1"]);
  server = createGatewayServer({
    tls,
    deps: { engine: () => engine, lookup: new StaticLookup(), identity: makeIdentity([]), exemptNamespaces: new Set(["kube-system"]), keyring: ephemeralKeyring() },
    metrics: new GatewayMetrics(),
    log: logger,
    notReady: () => ready,
    decisions,
    onDeniedUpdate: (request, message) => deniedUpdates.push({ uid: request.uid, message }),
  });
  port = await listen(server);
  // The store of a gateway whose bundle service has not answered yet: no engine to evaluate with.
  const store = new BundleStore({ sources: ["http://127.0.0.1:9/bundles/team.tar.gz"], pollIntervalMs: 30_000, log: logger });
  unready = createGatewayServer({
    tls,
    deps: { engine: () => store.engine(), lookup: new StaticLookup(), identity: makeIdentity([]), exemptNamespaces: new Set(["kube-system"]), keyring: ephemeralKeyring() },
    metrics: new GatewayMetrics(),
    log: logger,
    notReady: () => store.notReady(),
    decisions,
  });
  unreadyPort = await listen(unready);
});

const closeServer = (s: Server) => new Promise<void>((r) => { s.close(() => { r(); }); s.closeAllConnections(); });
after(() => Promise.all([closeServer(server), closeServer(unready)]));

function call(method: string, path: string, body?: string | Buffer, to = port): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: to, path, method, rejectUnauthorized: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }); });
    });
    req.on("error", reject);
    req.end(body);
  });
}

function review(spec: Record<string, unknown>, resource = "agentconfigs", namespace = "qe", uid = "uid-1", metadata: Record<string, unknown> = {}): string {
  const kind = resource === "agentruns" ? "AgentRun" : "AgentConfig";
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "agent.tekton.dev", version: "v1alpha1", kind },
      resource: { group: "agent.tekton.dev", version: "v1alpha1", resource },
      operation: "CREATE",
      namespace,
      userInfo: { username: "alice" },
      object: { apiVersion: "agent.tekton.dev/v1alpha1", kind, metadata: { name: "a", namespace, ...metadata }, spec },
    },
  });
}

/** Metric samples whose line starts with this name and label set, summed. */
async function metric(prefix: string, to = port): Promise<number> {
  const text = (await call("GET", "/metrics", undefined, to)).body;
  return text.split("\n").filter((l) => l.startsWith(prefix)).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

const decisionFor = (uid: string): Record<string, unknown> & { input: { request: Record<string, unknown> & { object: { spec: Record<string, unknown>; metadata: { annotations?: Record<string, string> } } } } } => {
  const found = decisionLines.filter((d) => (d.input as { request?: { uid?: string } } | null)?.request?.uid === uid);
  assert.equal(found.length, 1, `one decision log line for ${uid} (have ${decisionLines.length})`);
  return found[0] as ReturnType<typeof decisionFor>;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
  assert.deepEqual(response.status, { code: 403, reason: "Forbidden", message: "[token-budget] spec.tokenBudget: too big\ndecision_id uid-1: the platform team finds this decision in agentgate's logs by it", status: "Failure" });
});

test("an evaluation error fails closed, naming the bundle and the error, and is counted", async () => {
  const before = await metric('agentgate_policy_evaluation_errors_total{bundle="unit"}');
  const res = await call("POST", "/validate", review({ explode: { not: "a number" } }));
  const response = (JSON.parse(res.body) as AdmissionReview).response;
  assert.equal(response?.allowed, false);
  assert.match(response.status?.message ?? "", /^\[policy-evaluation\] bundle "unit": evaluation failed under revision src-[0-9a-f]+: .+fail closed/);
  assert.equal(await metric('agentgate_policy_evaluation_errors_total{bundle="unit"}'), before + 1);
  assert.equal(await metric('agentgate_admission_requests_total{webhook="validate",resource="agentconfigs",operation="CREATE",decision="error"}') >= 1, true);
});

test("admission latency: a histogram per webhook whose buckets reach the webhook timeout (the chart's default and the API server's 30 s maximum)", async () => {
  const countBefore = await metric('agentgate_admission_duration_seconds_count{webhook="validate"}');
  await call("POST", "/validate", review({ tokenBudget: 1 }, "agentconfigs", "qe", "latency-1"));
  const text = (await call("GET", "/metrics")).body;
  const buckets = [...text.matchAll(/^agentgate_admission_duration_seconds_bucket\{le="([^"]+)",webhook="validate"\} (\d+)$/gm)].map((m) => ({ le: m[1] === "+Inf" ? Infinity : Number(m[1]), count: Number(m[2]) }));
  const chartTimeout = (parseYaml(readFileSync(new URL("../../charts/agentgate/values.yaml", import.meta.url), "utf8")) as { webhook: { timeoutSeconds: number } }).webhook.timeoutSeconds;
  assert.ok(buckets.some((b) => b.le === chartTimeout), `a bucket at the chart's timeoutSeconds (${chartTimeout}): ${buckets.map((b) => b.le).join(", ")}`);
  assert.ok(buckets.some((b) => b.le === 30), "a bucket at the largest timeoutSeconds the API server accepts (30)");
  assert.ok(buckets.some((b) => b.le <= 0.001), "sub-millisecond resolution for the usual answer");
  assert.equal(await metric('agentgate_admission_duration_seconds_count{webhook="validate"}'), countBefore + 1);
  assert.equal(buckets.find((b) => b.le === Infinity)?.count, countBefore + 1);
});

test("decision logs: one line per answer in OPA's decision-log shape, goals and prompts erased and listed", async () => {
  const lastApplied = { "kubectl.kubernetes.io/last-applied-configuration": '{"spec":{"systemPrompt":"the secret prompt"}}', team: "qe" };
  const answer = await call("POST", "/validate", review({ tokenBudget: 50, systemPrompt: "the secret prompt" }, "agentconfigs", "qe", "dl-denied", { annotations: lastApplied }));
  await call("POST", "/validate", review({ tokenBudget: 1 }, "agentconfigs", "qe", "dl-allowed"));
  const denied = decisionFor("dl-denied");
  const allowed = decisionFor("dl-allowed");
  assert.equal(denied.message, "decision");
  assert.equal(denied.type, "openpolicyagent.org/decision_logs");
  // The id the developer's denial names leads to this record: the request's uid, unique per webhook call.
  assert.equal(denied.decision_id, "dl-denied");
  assert.match((JSON.parse(answer.body) as AdmissionReview).response?.status?.message ?? "", /\ndecision_id dl-denied: /);
  assert.notEqual(denied.decision_id, allowed.decision_id, "a new decision_id per decision");
  // labels: what identifies the instance, as OPA's (id per process, version of the software).
  const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  const labels = denied.labels as { id: string; version: string; app: string };
  assert.match(labels.id, UUID);
  assert.deepEqual(labels, { app: "agentgate", id: labels.id, version });
  assert.deepEqual(allowed.labels, labels, "the same instance labels on every decision");
  assert.equal(denied.path, "agentgate/violations");
  assert.deepEqual(denied.bundles, Object.fromEntries(engine.bundles.map((b) => [b.bundle.name, { revision: b.bundle.revision }])));
  assert.match(Object.values(denied.bundles as Record<string, { revision: string }>)[0]?.revision ?? "", /^src-[0-9a-f]+$/);
  // input: the policy input with the prompt and the last-applied copy of it removed; the rest kept.
  assert.equal(denied.input.request.uid, "dl-denied");
  assert.equal(denied.input.request.object.spec.tokenBudget, 50);
  assert.equal("systemPrompt" in denied.input.request.object.spec, false);
  assert.deepEqual(denied.input.request.object.metadata.annotations, { team: "qe" });
  assert.ok(!JSON.stringify(denied).includes("the secret prompt"), "the prompt appears nowhere in the line");
  assert.deepEqual(denied.erased, ["/input/request/object/spec/systemPrompt", "/input/request/object/metadata/annotations/kubectl.kubernetes.io%2Flast-applied-configuration"]);
  assert.equal(allowed.erased, undefined, "nothing erased, no erased field (as OPA)");
  assert.deepEqual(denied.result, { allowed: false, violations: [{ policy: "token-budget", field: "spec.tokenBudget", message: "too big", action: "deny" }] });
  assert.deepEqual(allowed.result, { allowed: true, violations: [] });
  assert.match(String(denied.requested_by), /^127\.0\.0\.1:\d+$/, "the client's address, as OPA records it");
  assert.ok(!Number.isNaN(Date.parse(String(denied.timestamp))) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(String(denied.timestamp)), `RFC 3339 timestamp: ${String(denied.timestamp)}`);
  const timer = (denied.metrics as { timer_server_handler_ns?: unknown }).timer_server_handler_ns;
  assert.ok(Number.isInteger(timer) && (timer as number) > 0, `metrics.timer_server_handler_ns: ${String(timer)}`);
});

test("the fail-closed answer ([gateway-error], no bundle in force) is decision-logged too, with the error", async () => {
  const res = await call("POST", "/validate", review({ goal: "the secret goal", configRef: { name: "c" } }, "agentruns", "qe", "dl-fail-closed"), unreadyPort);
  const response = (JSON.parse(res.body) as AdmissionReview).response;
  assert.equal(response?.allowed, false);
  assert.match(response.status?.message ?? "", /^\[gateway-error\] agentgate could not evaluate this request: no policy bundle in force yet/);
  const logged = decisionFor("dl-fail-closed");
  assert.deepEqual(logged.result, { allowed: false, violations: [] });
  assert.equal((logged.error as { code: string }).code, "internal_error");
  assert.match((logged.error as { message: string }).message, /^no policy bundle in force yet; team \(http:\/\/127\.0\.0\.1:9\/bundles\/team\.tar\.gz\): waiting for a first version/);
  assert.deepEqual(logged.bundles, {}, "no bundle was in force");
  assert.equal(logged.path, "agentgate/violations");
  assert.equal("goal" in logged.input.request.object.spec, false, "redaction applies to refusals too");
  assert.deepEqual(logged.erased, ["/input/request/object/spec/goal"]);
  assert.equal(await metric('agentgate_admission_requests_total{webhook="validate",resource="agentruns",operation="CREATE",decision="error"}', unreadyPort), 1);
});

test("a denied UPDATE of an existing object is handed to the Event recorder, except on a dry run (the webhooks' sideEffects: NoneOnDryRun)", async () => {
  const update = (uid: string, dryRun: boolean): string => {
    const body = JSON.parse(review({ tokenBudget: 50 }, "agentconfigs", "qe", uid)) as { request: Record<string, unknown> & { object: unknown } };
    Object.assign(body.request, { operation: "UPDATE", oldObject: body.request.object, dryRun });
    return JSON.stringify(body);
  };
  for (const [uid, dryRun] of [["upd-dry", true], ["upd-real", false]] as const) {
    const response = (JSON.parse((await call("POST", "/validate", update(uid, dryRun))).body) as AdmissionReview).response;
    assert.equal(response?.allowed, false, uid);
  }
  assert.deepEqual(deniedUpdates.filter((d) => d.uid.startsWith("upd-")), [{ uid: "upd-real", message: "[token-budget] spec.tokenBudget: too big" }]);
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
  assert.match(res.body, /agentgate_violations_total\{policy="token-budget",action="deny",namespace="[a-z0-9-]+",kind="AgentConfig"\} [1-9]/);
  assert.match(res.body, /^agentgate_build_info\{version="\d+\.\d+\.\d+",node="v\d+[^"]*",component="gateway"\} 1$/m);
  assert.match(res.body, /agentgate_bad_requests_total\{reason="too_large"\} 1/);
});

test("GET on an admission endpoint is 405 with what is served", async () => {
  const res = await call("GET", "/validate");
  assert.equal(res.status, 405);
  assert.match(res.body, /POST \/validate/);
});
