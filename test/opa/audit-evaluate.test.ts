// Audit evaluates through the webhook's one path: for the same request,
// admit(..., "audit") decides exactly what admit(..., "validate") decides,
// and audit's view of a stored object is what the API server would get from
// the webhooks for an UPDATE of the object to itself.
import { ephemeralKeyring } from "../../src/signing/keyring.ts";
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AUDIT_USER, auditObject, selfUpdateRequest } from "../../src/audit/evaluate.ts";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { admit, type Decision, type GatewayDeps } from "../../src/gateway/admit.ts";
import { admitLikeApiServer } from "../../src/gateway/review.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { loadEngine } from "../../src/policy/load.ts";
import type { PolicyEngine } from "../../src/policy/engine.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import { STAMP } from "../../src/types/agent.ts";
import { requestFromManifest } from "../../src/wire/from-manifest.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

const NS = "qe";
const context: KubeObject[] = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "rollout", labels: { "agent.tekton.dev/guardrail-profile": "rollout" } } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: NS }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", anthropic: { maxTokens: 4096 } } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "rollout" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022" } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", allowedNamespaces: { from: "All" } } },
];

const config = (name: string, spec: Record<string, unknown>, ns = NS): KubeObject => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name, namespace: ns, uid: `uid-${name}`, resourceVersion: "11" },
  spec: { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }], ...spec },
});

const stored: KubeObject[] = [
  config("writer", { tokenBudget: 200000, timeout: "30m", maxIterations: 10, networkPolicy: "strict" }),
  config("unfilled", {}),
  config("greedy", { tokenBudget: 900000, rbac: { rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] } }),
  config("orphan", { modelConfigRef: { name: "missing" } }),
  config("greedy", { tokenBudget: 900000 }, "rollout"),
  config("exempt", { tokenBudget: 900000 }, "agentgate-system"),
  { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "run-orphan", namespace: NS, uid: "uid-run-orphan" }, spec: { configRef: { name: "nope" }, goal: "g" } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "admin", namespace: NS, uid: "uid-agent" }, spec: { type: "Declarative", declarative: { modelConfig: "claude", tools: [{ type: "McpServer", mcpServer: { kind: "RemoteMCPServer", name: "kagent-tool-server", namespace: "kagent", toolNames: ["k8s_delete_resource"] } }] } } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: "byo", namespace: NS, uid: "uid-byo" }, spec: { type: "BYO", byo: {} } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "fast", namespace: NS, uid: "uid-fast" }, spec: { provider: "OpenAI", model: "gpt-3.5-turbo", openAI: { maxTokens: 16384 }, tls: { disableVerify: true } } },
  { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent", uid: "uid-rmcp" }, spec: { url: "http://evil.example.com/mcp" } },
];

let engine: PolicyEngine;
let deps: GatewayDeps;

before(async () => {
  const policyConfig = join(await mkdtemp(join(tmpdir(), "agentgate-audit-unit-")), "policy-config.yaml");
  await writeFile(policyConfig, "profiles:\n  rollout:\n    enforcement: warn\n    namespaces: [rollout]\n");
  engine = await loadEngine([], policyConfig);
  deps = {
    engine: () => engine,
    lookup: new StaticLookup([...context, ...stored.filter((o) => o.kind === "AgentConfig")]),
    identity: makeIdentity(["system:serviceaccount:agentgate-system:agentgate"]),
    exemptNamespaces: new Set(["agentgate-system", "kube-system"]),
    keyring: ephemeralKeyring(),
  };
});

const sameDecision = (a: Decision, b: Decision) => {
  const { origin: _a, ...restA } = a;
  const { origin: _b, ...restB } = b;
  assert.deepEqual(restA, restB);
};

/** A stamped AgentRun as the webhooks would have stored it. */
async function admittedRun(name: string, spec: Record<string, unknown>): Promise<KubeObject> {
  const request = requestFromManifest({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: NS }, spec }, { operation: "CREATE", user: { username: "alice", groups: ["system:authenticated"] } });
  const { object, result } = await admitLikeApiServer(request, deps);
  assert.ok(object, `the run was admitted: ${JSON.stringify(result.violations)}`);
  return { ...object, metadata: { ...object.metadata, uid: `uid-${name}` } };
}

test("validate and audit decide identically for the same requests (every kind, allowed, denied, warned, exempt)", async () => {
  const objects = [...stored, await admittedRun("run-ok", { configRef: { name: "writer" }, goal: "write tests", tokenBudget: 1000 })];
  let denied = 0;
  for (const object of objects) {
    for (const request of [selfUpdateRequest(object), requestFromManifest(object, { operation: "CREATE", user: { username: "bob" } })]) {
      const validate = await admit(request, deps, "validate");
      const audit = await admit(request, deps, "audit");
      assert.equal(validate.origin, "validate");
      assert.equal(audit.origin, "audit");
      sameDecision(validate, audit);
      if (!validate.allowed) denied++;
    }
  }
  assert.ok(denied >= 10, `the fixtures exercise denials (${denied})`);
});

test("audit of a stored object is the webhooks' answer to an UPDATE of it to itself, mutation included", async () => {
  for (const object of [...stored, await admittedRun("run-ok2", { configRef: { name: "writer" }, goal: "write tests" })]) {
    const request = selfUpdateRequest(object);
    assert.equal(request.operation, "UPDATE");
    assert.deepEqual(request.oldObject, object);
    assert.deepEqual(request.userInfo, AUDIT_USER);
    const viaApiServer = await admitLikeApiServer(request, deps);
    const audit = await auditObject(object, deps);
    assert.equal(audit.origin, "audit");
    // A run's stamps are checked by audit on top (an update to itself changes none of them): see the test below.
    const webhookFindings = audit.violations.filter((v) => v.policy !== "stamp-integrity" && v.policy !== "stamp-current");
    assert.deepEqual(webhookFindings, viaApiServer.result.violations, `${object.kind} ${object.metadata?.namespace}/${object.metadata?.name}`);
    if (object.kind !== "AgentRun") assert.equal(audit.allowed, viaApiServer.result.allowed);
  }
});

test("what audit finds on the default bundle (so the comparisons above compare something)", async () => {
  const ids = async (object: KubeObject) => {
    const d = await auditObject(object, deps);
    return [...new Set(d.violations.map((v) => `${v.policy}:${v.action}`))].sort();
  };
  const byName = (ns: string, name: string, kind = "AgentConfig") => {
    const found = stored.find((o) => o.kind === kind && o.metadata?.name === name && o.metadata.namespace === ns);
    assert.ok(found);
    return found;
  };
  assert.deepEqual(await ids(byName(NS, "writer")), []);
  assert.deepEqual(await ids(byName(NS, "unfilled")), [], "the mutating pass fills the defaults, as on a real update");
  assert.deepEqual(await ids(byName(NS, "greedy")), ["rbac-scope:deny", "token-budget:deny"]);
  assert.deepEqual(await ids(byName(NS, "orphan")), ["model-allowlist:deny"]);
  assert.deepEqual(await ids(byName("rollout", "greedy")), ["token-budget:warn"], "a warn profile warns");
  const exempt = await auditObject(byName("agentgate-system", "exempt"), deps);
  assert.equal(exempt.exempt, true);
  // A run is judged once, at CREATE; an update of it (cancel, labels) is not held to a config that has since changed or gone.
  // Its stamps are another matter: stored without agentgate's signature, it is reported.
  assert.deepEqual(await ids(byName(NS, "run-orphan", "AgentRun")), ["stamp-integrity:deny"]);
  assert.deepEqual(await ids(byName(NS, "admin", "Agent")), ["tool-allowlist:deny", "tool-approval:deny"]);
  assert.deepEqual(await ids(byName(NS, "byo", "Agent")), ["kagent-byo:deny"]);
  assert.deepEqual(await ids(byName(NS, "fast", "ModelConfig")), ["model-allowlist:deny", "model-endpoint:deny", "model-token-cap:deny"]);
  assert.deepEqual(await ids(byName("kagent", "kagent-tool-server", "RemoteMCPServer")), ["tool-allowlist:deny"]);
});

test("dryrun and warn findings come through audit with their action; they never deny", async () => {
  const path = await buildTestBundle(
    {
      "p.rego": `package agentgate
import rego.v1
violations contains {"policy": "soft-limit", "field": "spec.tokenBudget", "message": "over the soft limit", "action": "warn"} if { input.request.object.spec.tokenBudget > 10 }
violations contains {"policy": "future-limit", "field": "spec.tokenBudget", "message": "over the future limit", "action": "dryrun"} if { input.request.object.spec.tokenBudget > 100 }
`,
    },
    { entrypoints: ["agentgate/violations"], name: "rollout", revision: "r7" },
  );
  const rolloutEngine = await loadEngine([path]);
  const rolloutDeps: GatewayDeps = { ...deps, engine: () => rolloutEngine };
  const object = config("big", { tokenBudget: 1000 });
  const audit = await auditObject(object, rolloutDeps);
  const validate = await admit(selfUpdateRequest(object), rolloutDeps, "validate");
  assert.equal(audit.allowed, true);
  assert.equal(validate.allowed, true);
  assert.deepEqual(audit.violations.map((v) => `${v.policy}:${v.action}`), ["future-limit:dryrun", "soft-limit:warn"]);
  assert.equal(audit.revision, "rollout@r7");
});

test("audit verifies a stored run's stamps: signed and current passes; forged, unsigned or copied fails; today's policy giving other guardrails fails stamp-current", async () => {
  const good = await admittedRun("run-signed", { configRef: { name: "writer" }, goal: "write tests", tokenBudget: 1000 });
  const findings = async (object: KubeObject, d: GatewayDeps = deps) => (await auditObject(object, d)).violations.filter((v) => v.policy.startsWith("stamp-")).map((v) => `${v.policy} ${v.message}`);
  assert.deepEqual(await findings(good), []);
  const annotations = good.metadata?.annotations ?? {};
  const forged = { ...good, metadata: { ...good.metadata, annotations: { ...annotations, [STAMP.guardrails]: (annotations[STAMP.guardrails] ?? "").replace('"tokenBudget":1000', '"tokenBudget":99999999') } } };
  assert.match((await findings(forged)).join("\n"), /^stamp-integrity its agent\.tekton\.dev\/decision stamp does not verify: .*agentgate did not admit this run as it is stored/);
  const { [STAMP.decision]: _dropped, ...unsigned } = annotations;
  assert.match((await findings({ ...good, metadata: { ...good.metadata, annotations: unsigned } })).join("\n"), /carries guardrails but no agent\.tekton\.dev\/decision signature/);
  const copied = { ...good, metadata: { ...good.metadata, name: "run-copy" } };
  assert.match((await findings(copied)).join("\n"), /does not match what it signs/);
  const forgedApproval = { ...good, metadata: { ...good.metadata, annotations: { ...annotations, [STAMP.approvedBy]: "bob" } } };
  assert.match((await findings(forgedApproval)).join("\n"), /^stamp-integrity .*carries no agent\.tekton\.dev\/approval signature/);
  // Today the maximum budget is lower than what the run was admitted with.
  const lowered = await loadEngine([], await policyConfigFile("budgets:\n  maxTokenBudget: 500\n"));
  assert.match((await findings(good, { ...deps, engine: () => lowered })).join("\n"), /^stamp-current differs from what today's policy gives this run in tokenBudget \(stamped 1000, today 500\)/);
});

async function policyConfigFile(yaml: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "agentgate-audit-unit-")), "policy-config.yaml");
  await writeFile(file, yaml);
  return file;
}
