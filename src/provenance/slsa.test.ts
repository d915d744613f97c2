// Every field the provenance predicate records (README, "Provenance"), with its value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { ProvenanceFacts } from "./facts.ts";
import type { Guardrails } from "../types/agent.ts";
import { canonicalJson, policyBundles, provenanceStatement, statedStep } from "./slsa.ts";

const hex = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

const guardrails: Guardrails = {
  tokenBudget: 50_000,
  timeout: "15m",
  maxIterations: 5,
  networkPolicy: "strict",
  egress: [{ purpose: "model", host: "api.anthropic.com", port: 443 }],
  rbac: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }],
  approval: { required: true, approverGroups: ["agent-approvers"] },
  tools: [
    { server: "kagent/kagent-tool-server", kind: "RemoteMCPServer", allowedTools: ["k8s_get_resources"], requireApproval: [] },
    { server: "tools/kmcp-git", kind: "MCPServer", allowedTools: ["git_log"], requireApproval: [] },
    { server: "tools/plain", kind: "Service", allowedTools: ["search"], requireApproval: [] },
  ],
};

const facts: ProvenanceFacts = {
  run: {
    metadata: {
      name: "r1",
      namespace: "qe",
      uid: "uid-1",
      annotations: { "agent.tekton.dev/created-by": "alice", "agent.tekton.dev/approved-by": "bob", "agent.tekton.dev/policy-revision": "default@src-abc,team-a@42" },
    },
    spec: { configRef: { name: "writer" }, goal: "write tests", context: { hints: ["repo: payments"] } },
  },
  config: { metadata: { name: "writer", namespace: "qe" }, spec: { modelConfigRef: { name: "claude" }, systemPrompt: "You write tests." } },
  guardrails,
  agent: { namespace: "qe", name: "r1-agent", spec: { type: "Declarative" } },
  modelConfig: { namespace: "qe", name: "claude", spec: { provider: "Anthropic", model: "claude-3-5-sonnet" } },
  toolServers: [
    { namespace: "kagent", name: "kagent-tool-server", kind: "RemoteMCPServer", spec: { url: "http://kagent-tools.kagent:8084/mcp" } },
    { namespace: "tools", name: "kmcp-git", kind: "MCPServer", spec: { deployment: { port: 3000 } } },
    { namespace: "tools", name: "plain", kind: "Service", spec: { ports: [{ port: 80 }] } },
  ],
  usage: { promptTokens: 200, completionTokens: 40, totalTokens: 240, toolCalls: 1 },
  results: [{ name: "result", value: "12 test cases written" }],
  policyRevision: "default@src-abc,team-a@42",
  startedOn: "2026-11-25T10:00:00Z",
  finishedOn: "2026-11-25T10:05:00Z",
  outcome: "Succeeded",
};

const known = [{ name: "default", revision: "src-abc", digest: `sha256:${"d".repeat(64)}` }];

interface Predicate {
  buildDefinition: {
    buildType: string;
    externalParameters: { goal: { sha256: string }; hints: string[]; config: { ref: string; sha256: string } };
    internalParameters: { model: string; systemPrompt: { sha256: string }; budgets: unknown; policy: unknown; guardrails: { sha256: string } };
    resolvedDependencies: { uri: string; name: string; digest: { sha256: string }; annotations: { apiVersion: string } }[];
  };
  runDetails: { builder: { id: string }; metadata: { invocationId: string; startedOn: string; finishedOn: string; reproducible: boolean }; byproducts: { name: string; content: string; mediaType: string; digest?: { sha256: string } }[] };
}

const statement = provenanceStatement(facts, known) as { predicate: Predicate };
const p = statement.predicate;
const byproduct = (name: string): unknown => JSON.parse(Buffer.from(p.runDetails.byproducts.find((b) => b.name === name)?.content ?? "", "base64").toString("utf8"));

test("buildType is the agent build type", () => {
  assert.equal(p.buildDefinition.buildType, "https://tekton.dev/agent-provenance/v1");
});

test("externalParameters: the goal's hash, the hints, the config's ref and hash", () => {
  const e = p.buildDefinition.externalParameters;
  assert.deepEqual(e.goal, { sha256: hex("write tests") });
  assert.deepEqual(e.hints, ["repo: payments"]);
  assert.deepEqual(e.config, { ref: "qe/writer", sha256: hex(canonicalJson(facts.config.spec)) });
});

test("internalParameters: model, system prompt hash, budgets, policy bundle revisions and digests", () => {
  const i = p.buildDefinition.internalParameters;
  assert.equal(i.model, "Anthropic/claude-3-5-sonnet");
  assert.deepEqual(i.systemPrompt, { sha256: hex("You write tests.") });
  assert.deepEqual(i.budgets, { tokenBudget: 50_000, timeout: "15m", maxIterations: 5 });
  assert.deepEqual(i.policy, [
    { bundle: "default", revision: "src-abc", digest: { sha256: "d".repeat(64) } },
    // the stamp names team-a@42 only, and the controller does not hold it: no digest is made up
    { bundle: "team-a", revision: "42", digest: null },
  ]);
  assert.deepEqual(i.guardrails, { sha256: hex(canonicalJson(guardrails)) });
});

test("resolvedDependencies: the Agent, the ModelConfig and each tool server, under its own API group and version", () => {
  const deps = p.buildDefinition.resolvedDependencies;
  assert.deepEqual(
    deps.map((d) => [d.uri, d.annotations.apiVersion]),
    [
      ["k8s://qe/kagent.dev/Agent/r1-agent", "kagent.dev/v1alpha2"],
      ["k8s://qe/kagent.dev/ModelConfig/claude", "kagent.dev/v1alpha2"],
      ["k8s://kagent/kagent.dev/RemoteMCPServer/kagent-tool-server", "kagent.dev/v1alpha2"],
      ["k8s://tools/kagent.dev/MCPServer/kmcp-git", "kagent.dev/v1alpha1"],
      ["k8s://tools/core/Service/plain", "v1"],
    ],
  );
  assert.deepEqual(deps.map((d) => d.digest.sha256), [facts.agent?.spec, facts.modelConfig?.spec, ...facts.toolServers.map((t) => t.spec)].map((spec) => hex(canonicalJson(spec))));
});

test("byproducts: usage, and the policy decisions the webhook stamped (revision, creator, guardrails, approval)", () => {
  assert.deepEqual(byproduct("usage"), facts.usage);
  assert.deepEqual(byproduct("policy-decisions"), {
    policyRevision: "default@src-abc,team-a@42",
    createdBy: "alice",
    guardrails,
    approval: { required: true, approverGroups: ["agent-approvers"], approvedBy: "bob" },
  });
  assert.equal(Buffer.from(p.runDetails.byproducts.find((b) => b.name === "outcome")?.content ?? "", "base64").toString(), "Succeeded");
});

test("runDetails: builder, invocation id and times", () => {
  assert.deepEqual(p.runDetails.metadata, { invocationId: "uid-1", startedOn: "2026-11-25T10:00:00Z", finishedOn: "2026-11-25T10:05:00Z", reproducible: false });
  assert.match(p.runDetails.builder.id, /^https:\/\//);
});

test("policyBundles: a bundle name may itself hold an @; a digest only for the same name and revision", () => {
  assert.deepEqual(policyBundles("team@b@7", [{ name: "team@b", revision: "7", digest: "sha256:ab" }]), [{ bundle: "team@b", revision: "7", digest: { sha256: "ab" } }]);
  assert.deepEqual(policyBundles("default@src-new", known), [{ bundle: "default", revision: "src-new", digest: null }]);
  assert.deepEqual(policyBundles("", known), []);
});

test("subjects: the run (its spec's canonical hash) and each result (its value's hash), never the provenance-digest result itself", () => {
  const withDigest: ProvenanceFacts = { ...facts, results: [...facts.results, { name: "summary", value: "all green" }, { name: "provenance-digest", value: "sha256:abc" }] };
  const s = provenanceStatement(withDigest, known) as { subject: { name: string; digest: { sha256: string } }[] };
  assert.deepEqual(s.subject, [
    { name: "qe/r1", digest: { sha256: hex(canonicalJson(facts.run.spec)) } },
    { name: "result:result", digest: { sha256: hex("12 test cases written") } },
    { name: "result:summary", digest: { sha256: hex("all green") } },
  ]);
});

test("canonicalJson: keys sorted at every level, arrays in order, undefined members dropped", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" }, u: undefined }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  assert.equal(canonicalJson([undefined, null, "é"]), '[null,null,"é"]');
  // so the run's subject digest does not depend on the order the API server returned the spec's keys in
  const reordered = provenanceStatement({ ...facts, run: { ...facts.run, spec: { goal: "write tests", context: { hints: ["repo: payments"] }, configRef: { name: "writer" } } } }, known) as { subject: { digest: unknown }[] };
  assert.deepEqual(reordered.subject[0]?.digest, (provenanceStatement(facts, known) as { subject: { digest: unknown }[] }).subject[0]?.digest);
});

test("a run with no hints, no approval and no ModelConfig says so: [] hints, approvedBy null, model null and no ModelConfig dependency", () => {
  const bare: ProvenanceFacts = {
    ...facts,
    run: { metadata: { name: "r2", namespace: "qe", uid: "uid-2", annotations: { "agent.tekton.dev/created-by": "alice" } }, spec: { configRef: { name: "writer" }, goal: "g" } },
    modelConfig: null,
  };
  const st = provenanceStatement(bare, known) as { predicate: Predicate };
  const b = st.predicate.buildDefinition;
  assert.deepEqual(b.externalParameters.hints, []);
  assert.equal(b.internalParameters.model, null);
  assert.deepEqual(b.resolvedDependencies.map((d) => d.name), ["Agent/qe/r1-agent", "RemoteMCPServer/kagent/kagent-tool-server", "MCPServer/tools/kmcp-git", "Service/tools/plain"]);
  const decisions = JSON.parse(Buffer.from(st.predicate.runDetails.byproducts.find((x) => x.name === "policy-decisions")?.content ?? "", "base64").toString("utf8")) as { approval: { approvedBy: unknown } };
  assert.equal(decisions.approval.approvedBy, null);
});

test("byproducts: the run-time gateway's calls, content and digest, only when the run's calls went through it", () => {
  assert.equal(p.runDetails.byproducts.find((b) => b.name === "calls"), undefined);
  const calls = { budget: 100, used: 42, calls: 2, untraced: 0, trace: [{ seq: 1, at: "2026-11-25T10:01:00Z", kind: "tool" as const, server: "tools/fs", tool: "read_file", inputSha256: "a".repeat(64), verdict: "allowed" as const, ms: 3 }, { seq: 2, at: "2026-11-25T10:02:00Z", kind: "model" as const, inputSha256: "b".repeat(64), verdict: "allowed" as const, tokens: { prompt: 30, completion: 12, total: 42 }, ms: 9 }] };
  const withCalls = (provenanceStatement({ ...facts, calls }, known) as { predicate: Predicate }).predicate;
  const b = withCalls.runDetails.byproducts.find((x) => x.name === "calls");
  const content = Buffer.from(b?.content ?? "", "base64").toString("utf8");
  assert.deepEqual(JSON.parse(content), calls);
  assert.equal(b?.digest?.sha256, hex(content));
});

test("internalParameters.policy: every bundle's digest the gateway signed with the decision, a team's bundle included", () => {
  const signed = (provenanceStatement({ ...facts, policyDigests: { "team-a": `sha256:${"e".repeat(64)}` } }, known) as { predicate: Predicate }).predicate;
  assert.deepEqual(signed.buildDefinition.internalParameters.policy, [
    { bundle: "default", revision: "src-abc", digest: { sha256: "d".repeat(64) } },
    { bundle: "team-a", revision: "42", digest: { sha256: "e".repeat(64) } },
  ]);
});

test("internalParameters.agentRuntime: the runtime asked of kagent and the images of its Deployment; null when the run had no Agent", () => {
  assert.equal((p.buildDefinition.internalParameters as Record<string, unknown>).agentRuntime, null);
  const withAgent = (provenanceStatement({ ...facts, agentRuntime: { runtime: "go", images: ["cr.kagent.dev/kagent-dev/kagent/golang-adk:0.9.12"] } }, known) as { predicate: Predicate }).predicate;
  assert.deepEqual((withAgent.buildDefinition.internalParameters as Record<string, unknown>).agentRuntime, { runtime: "go", images: ["cr.kagent.dev/kagent-dev/kagent/golang-adk:0.9.12"] });
});

test("externalParameters.context: a shared run's A2A context and the steps before it; absent for a run with a context of its own. internalParameters.agent: a shared Agent that could not be recorded, and why", () => {
  assert.equal((p.buildDefinition.externalParameters as Record<string, unknown>).context, undefined);
  assert.equal((p.buildDefinition.internalParameters as Record<string, unknown>).agent, undefined);
  const context = { id: "agentgate-abc", share: "share-abc", pipelineRun: { name: "pr", uid: "pr-uid" }, taskId: "t2", previous: [{ name: "setup", uid: "u1", taskId: "t1", finishedOn: "2026-11-25T09:59:00Z", provenance: { sha256: "f".repeat(64) } }], earlier: 0, unverified: { runs: [{ name: "forged", uid: "u9", why: "it records no provenance" }], more: 0 } };
  const shared = (provenanceStatement({ ...facts, context }, known) as { predicate: Predicate }).predicate;
  assert.deepEqual((shared.buildDefinition.externalParameters as Record<string, unknown>).context, context);
  const unproven = (provenanceStatement({ ...facts, agent: null, agentUnproven: { namespace: "qe", name: "share-abc-agent", why: "not proven" }, context: { ...context, pipelineRun: null } }, known) as { predicate: Predicate }).predicate;
  assert.deepEqual((unproven.buildDefinition.internalParameters as Record<string, unknown>).agent, { name: "qe/share-abc-agent", unproven: "not proven" });
  assert.ok(!unproven.buildDefinition.resolvedDependencies.some((d) => d.name.startsWith("Agent/")), "no Agent dependency without its spec");
});

test("statedStep reads back who a statement is of, its context, task and end; nothing from what is not agentgate's statement", () => {
  const context = { id: "agentgate-abc", share: "share-abc", pipelineRun: { name: "pr", uid: "pr-uid" }, taskId: "t2", previous: [], earlier: 0, unverified: { runs: [], more: 0 } };
  const subject = `${facts.run.metadata?.namespace ?? ""}/${facts.run.metadata?.name ?? ""}`;
  assert.deepEqual(statedStep(provenanceStatement({ ...facts, context }, known)), { uid: facts.run.metadata?.uid, subject, finishedOn: facts.finishedOn, taskId: "t2", contextId: "agentgate-abc", share: "share-abc" });
  assert.deepEqual(statedStep(provenanceStatement({ ...facts, context: { ...context, taskId: null } }, known))?.taskId, null);
  assert.deepEqual(statedStep(provenanceStatement(facts, known)), { uid: facts.run.metadata?.uid, subject, finishedOn: facts.finishedOn, taskId: null }, "a run with a context of its own records none");
  const other = structuredClone(provenanceStatement({ ...facts, context }, known)) as { predicate: { buildDefinition: { buildType: string } } };
  other.predicate.buildDefinition.buildType = "https://example.com/other";
  assert.equal(statedStep(other), undefined);
  for (const junk of [null, "x", [], {}, { predicate: { runDetails: { metadata: { invocationId: "" } } } }]) assert.equal(statedStep(junk), undefined);
});
