import { test } from "node:test";
import assert from "node:assert/strict";
import type { CustomRun } from "../types/tekton.ts";
import type { AgentRun } from "../types/agent.ts";
import { agentRunFor, chainsResults, customRunDeadline, isAgentRunCustomRun, mirroredStatus } from "./customrun.ts";

const cr = (params: { name: string; value: unknown }[], timeout?: string): CustomRun => ({
  apiVersion: "tekton.dev/v1beta1",
  kind: "CustomRun",
  metadata: { name: "pr-1-agent", namespace: "qe", uid: "cr-uid", labels: { "tekton.dev/pipelineRun": "pr-1" } },
  spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" }, params, ...(timeout ? { timeout } : {}) },
});

test("a CustomRun for AgentRun becomes an AgentRun it owns; its timeout bounds the CustomRun, not the run's spec", () => {
  const out = agentRunFor(cr([{ name: "configRef", value: "writer" }, { name: "goal", value: "write tests" }, { name: "hints", value: ["a", "b"] }], "1h0m0s"));
  assert.ok("run" in out);
  // Tekton fills spec.timeout with the pipeline's time (1h by default); as a run
  // override wider than the config's timeout the webhook would refuse the run.
  assert.deepEqual(out.run.spec, { configRef: { name: "writer" }, goal: "write tests", context: { hints: ["a", "b"] } });
  assert.deepEqual(out.run.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [["CustomRun", "pr-1-agent", "cr-uid", true]]);
  assert.equal(out.run.metadata?.labels?.["tekton.dev/pipelineRun"], "pr-1");
});

for (const [name, params, error] of [
  ["no configRef", [{ name: "goal", value: "g" }], /configRef/],
  ["no goal", [{ name: "configRef", value: "c" }], /goal/],
] as const) {
  test(`a CustomRun with ${name} is refused with why`, () => {
    const out = agentRunFor(cr([...params]));
    assert.ok("error" in out);
    assert.match(out.error, error);
  });
}

test("hints given as a JSON string or lines are accepted", () => {
  const a = agentRunFor(cr([{ name: "configRef", value: "c" }, { name: "goal", value: "g" }, { name: "hints", value: '["x","y"]' }]));
  const b = agentRunFor(cr([{ name: "configRef", value: "c" }, { name: "goal", value: "g" }, { name: "hints", value: "x\ny\n" }]));
  assert.ok("run" in a && "run" in b);
  assert.deepEqual(a.run.spec?.context?.hints, ["x", "y"]);
  assert.deepEqual(b.run.spec?.context?.hints, ["x", "y"]);
});

test("only CustomRuns referencing AgentRun are ours", () => {
  assert.equal(isAgentRunCustomRun(cr([])), true);
  assert.equal(isAgentRunCustomRun({ spec: { customRef: { apiVersion: "example.dev/v1", kind: "Wait" } } }), false);
});

test("customRunDeadline: spec.timeout (Go duration) from status.startTime, else creation; none without a timeout or with 0s", () => {
  const base = cr([], "1m30s");
  assert.equal(customRunDeadline({ ...base, status: { startTime: "2026-11-25T10:00:00Z" } }), Date.parse("2026-11-25T10:01:30Z"));
  assert.equal(customRunDeadline({ ...base, metadata: { ...base.metadata, creationTimestamp: "2026-11-25T09:00:00Z" } }), Date.parse("2026-11-25T09:01:30Z"));
  assert.equal(customRunDeadline(cr([])), undefined);
  assert.equal(customRunDeadline({ ...cr([], "0s"), status: { startTime: "2026-11-25T10:00:00Z" } }), undefined);
});

const run = (conditions: { status: "True" | "False" | "Unknown"; reason: string; message: string }[], results: { name: string; value: string }[] = []): AgentRun => ({
  metadata: { name: "pr-1-agent", namespace: "qe" },
  status: { phase: conditions[0]?.status === "Unknown" ? "Acting" : "Failed", startTime: "2026-11-25T10:00:00Z", conditions: conditions.map((c) => ({ type: "Succeeded", lastTransitionTime: "2026-11-25T10:00:00Z", ...c })), results },
});

test("mirroredStatus: results are compared by content, so a changed value is mirrored even when the count is the same", () => {
  const done = run([{ status: "True", reason: "Succeeded", message: "ok" }], [{ name: "result", value: "v2" }]);
  const first = mirroredStatus(cr([]), done);
  assert.ok(first);
  const mirrored = { ...cr([]), status: first };
  assert.equal(mirroredStatus(mirrored, done), undefined, "nothing to write once it says it all");
  const changed = run([{ status: "True", reason: "Succeeded", message: "ok" }], [{ name: "result", value: "v3" }]);
  assert.deepEqual(mirroredStatus(mirrored, changed)?.results, [{ name: "result", value: "v3" }]);
});

test("mirroredStatus: the run's Cancelled is the CustomRun's cancel or timeout, in Tekton's reasons", () => {
  const cancelled = run([{ status: "False", reason: "Cancelled", message: "cancelled by spec.status: Cancelled; task t cancelled" }]);
  const timedOut = mirroredStatus(cr([]), cancelled, { reason: "CustomRunTimedOut", message: "CustomRun pr-1-agent timed out after 10s" });
  assert.equal(timedOut?.conditions?.[0]?.reason, "CustomRunTimedOut");
  assert.equal(timedOut?.conditions?.[0]?.status, "False");
  assert.match(timedOut?.conditions?.[0]?.message ?? "", /timed out after 10s: cancelled by spec\.status/);
  assert.equal(mirroredStatus(cr([]), cancelled, { reason: "CustomRunCancelled", message: "cancelled" })?.conditions?.[0]?.reason, "CustomRunCancelled");
  // a run that succeeded before the cancel took effect succeeded
  assert.equal(mirroredStatus(cr([]), run([{ status: "True", reason: "Succeeded", message: "ok" }]), { reason: "CustomRunCancelled", message: "cancelled" })?.conditions?.[0]?.reason, "Succeeded");
});

test("mirroredStatus: a finished run's whole status, as Tekton reads it", () => {
  const done: AgentRun = {
    metadata: { name: "pr-1-agent", namespace: "qe" },
    status: {
      phase: "Succeeded",
      startTime: "2026-11-25T10:00:00Z",
      completionTime: "2026-11-25T10:05:00Z",
      conditions: [{ type: "Succeeded", status: "True", reason: "Succeeded", message: "kagent task t completed", lastTransitionTime: "2026-11-25T10:05:00Z" }],
      results: [{ name: "result", value: "done" }],
    },
  };
  const started = { ...cr([]), metadata: { ...cr([]).metadata, generation: 2 }, status: { startTime: "2026-11-25T09:59:00Z" } };
  const status = mirroredStatus(started, done);
  const [c] = status?.conditions ?? [];
  assert.deepEqual({ ...status, conditions: [{ ...c, lastTransitionTime: "" }] }, {
    conditions: [{ type: "Succeeded", status: "True", reason: "Succeeded", message: "kagent task t completed", lastTransitionTime: "" }],
    startTime: "2026-11-25T09:59:00Z",
    completionTime: "2026-11-25T10:05:00Z",
    results: [{ name: "result", value: "done" }],
    observedGeneration: 2,
  });
});

test("mirroredStatus: a run without a condition yet is Unknown/Pending, saying its phase; a CustomRun without startTime is always written", () => {
  const fresh: AgentRun = { metadata: { name: "pr-1-agent", namespace: "qe" }, status: { phase: "WaitingForApproval", startTime: "2026-11-25T10:00:00Z" } };
  const status = mirroredStatus(cr([]), fresh);
  assert.deepEqual(status?.conditions?.map((c) => [c.status, c.reason, c.message]), [["Unknown", "Pending", "AgentRun pr-1-agent is WaitingForApproval"]]);
  assert.equal(status?.startTime, "2026-11-25T10:00:00Z");
  const noStart = { ...cr([]), status: { conditions: status?.conditions ?? [] } };
  assert.ok(mirroredStatus(noStart, fresh)?.startTime, "the condition matches, but startTime is missing");
});

test("mirroredStatus: while the cancel is on its way the message says so; a run that failed otherwise keeps its own reason", () => {
  const acting = run([{ status: "Unknown", reason: "Running", message: "acting" }]);
  const pending = mirroredStatus(cr([]), acting, { reason: "CustomRunCancelled", message: "CustomRun pr-1-agent was cancelled" });
  assert.deepEqual(pending?.conditions?.map((c) => [c.status, c.reason, c.message]), [["Unknown", "Running", "CustomRun pr-1-agent was cancelled; cancelling AgentRun pr-1-agent"]]);
  const failed = run([{ status: "False", reason: "AgentFailed", message: "kagent task t failed" }]);
  assert.deepEqual(mirroredStatus(cr([]), failed, { reason: "CustomRunTimedOut", message: "timed out" })?.conditions?.map((c) => [c.reason, c.message]), [["AgentFailed", "kagent task t failed"]]);
});

test("a run's provenance digest is also an artifact Tekton Chains reads by name (*ARTIFACT_URI with *ARTIFACT_DIGEST); none without a well-formed digest", () => {
  const digest = `sha256:${"a".repeat(64)}`;
  const done = run([{ status: "True", reason: "Succeeded", message: "ok" }], [{ name: "result", value: "v" }, { name: "provenance-digest", value: digest }]);
  assert.deepEqual(chainsResults(done), [
    { name: "agentrun_ARTIFACT_URI", value: "k8s://qe/agent.tekton.dev/AgentRun/pr-1-agent" },
    { name: "agentrun_ARTIFACT_DIGEST", value: digest },
  ]);
  assert.deepEqual(mirroredStatus(cr([]), done)?.results?.map((r) => r.name), ["result", "provenance-digest", "agentrun_ARTIFACT_URI", "agentrun_ARTIFACT_DIGEST"]);
  assert.deepEqual(chainsResults(run([{ status: "True", reason: "Succeeded", message: "ok" }], [{ name: "provenance-digest", value: "sha256:short" }])), []);
  assert.deepEqual(chainsResults(run([{ status: "Unknown", reason: "Running", message: "" }])), []);
});
