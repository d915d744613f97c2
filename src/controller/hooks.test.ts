import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentConfig, AgentRun } from "../types/agent.ts";
import { hookPipelineRun, hookServiceAccount, hookState, preHookParams } from "./hooks.ts";

const run: AgentRun = { metadata: { name: "r1", namespace: "qe", uid: "u-1" }, spec: { configRef: { name: "writer" }, goal: "write tests for refund()", context: { hints: ["repo: payments", "branch: main"] } } };
const config: AgentConfig = { metadata: { name: "writer", namespace: "qe" }, spec: { systemPrompt: "You write tests." } };

test("a pre-hook is given what the agent will be sent: goal, hints one per line, the system prompt", () => {
  assert.deepEqual(preHookParams(run, config), [
    { name: "agent-goal", value: "write tests for refund()" },
    { name: "agent-hints", value: "repo: payments\nbranch: main" },
    { name: "agent-system-prompt", value: "You write tests." },
  ]);
  const pr = hookPipelineRun(run, { pipelineRef: { name: "scan-prompt" }, params: [{ name: "agent-goal", value: "the hook's own" }] }, "r1-pre-0", preHookParams(run, config));
  assert.deepEqual(pr.spec?.params?.map((p) => `${p.name}=${String(p.value)}`), ["agent-goal=the hook's own", "agent-hints=repo: payments\nbranch: main", "agent-system-prompt=You write tests."], "a param the hook sets itself is kept");
  assert.equal(pr.metadata?.ownerReferences?.[0]?.uid, "u-1");
});

test("a hook runs as the ServiceAccount it names, else as the run's own hook account, which mounts no token; never as the namespace's default", () => {
  assert.deepEqual(hookPipelineRun(run, { pipelineRef: { name: "p" } }, "r1-pre-0").spec?.taskRunTemplate, { serviceAccountName: "agentgate-hooks-r1" });
  assert.deepEqual(hookPipelineRun(run, { pipelineRef: { name: "p" }, serviceAccountName: "publisher" }, "r1-post-0").spec?.taskRunTemplate, { serviceAccountName: "publisher" });
  const account = hookServiceAccount(run);
  assert.equal(account.metadata?.name, "agentgate-hooks-r1");
  assert.equal(account.automountServiceAccountToken, false);
  assert.equal(account.metadata?.labels?.["app.kubernetes.io/managed-by"], "agentgate");
  assert.equal(account.metadata?.ownerReferences?.[0]?.uid, "u-1");
});

test("a hook's state is Tekton's Succeeded condition", () => {
  assert.deepEqual(hookState(null), { state: "running" });
  assert.deepEqual(hookState({ status: { conditions: [{ type: "Succeeded", status: "False", reason: "Failed", message: "task lint failed", lastTransitionTime: "t" }] } }), { state: "failed", message: "Failed: task lint failed" });
  assert.deepEqual(hookState({ status: { conditions: [{ type: "Succeeded", status: "True", reason: "Succeeded", message: "", lastTransitionTime: "t" }] } }), { state: "succeeded" });
});
