// What a run's provenance records of the Agent and the A2A context it ran
// in: a shared run's context with the steps before it (bounded), and a
// shared Agent named in status that cannot be recorded, said so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { logger } from "../log.ts";
import { PREVIOUS_STEPS_LIMIT, type ProvenanceFacts, type ProvenanceRecorder } from "../provenance/facts.ts";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Gvr } from "../kube/resources.ts";
import type { Kube } from "./kube.ts";
import { previousSteps, RunProvenance, unprovenAgent } from "./run-provenance.ts";

const NS = "qe";
const AGENT = "share-0123456789abcdef0123-agent";
const CONTEXT = "agentgate-0123456789abcdef0123456789abcdef01234567";
const guardrails: Guardrails = { tokenBudget: 10, timeout: "1m", maxIterations: 1, networkPolicy: "permissive", egress: [], rbac: [], approval: { required: false, approverGroups: [] }, tools: [] };
const config: AgentConfig = { metadata: { name: "tester", namespace: NS }, spec: { systemPrompt: "You test." } };
const ended = (at: string) => ({ phase: "Succeeded" as const, conditions: [{ type: "Succeeded", status: "True" as const, reason: "Succeeded", message: "", lastTransitionTime: at }], completionTime: at });

function step(name: string, status: AgentRun["status"]): AgentRun {
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: NS, uid: `uid-${name}` }, spec: { goal: name }, ...(status ? { status } : {}) };
}

const run = step("report", { phase: "Acting", agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, goal: { messageId: "m", sentTime: "2026-12-07T10:10:00Z" }, taskId: "t-report" });
const earlier = [
  step("setup", { ...ended("2026-12-07T10:01:00Z"), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, taskId: "t-setup", results: [{ name: "provenance-digest", value: `sha256:${"a".repeat(64)}` }] }),
  step("run", { ...ended("2026-12-07T10:05:00Z"), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, taskId: "t-run", results: [] }),
  // after this run's goal: not what its model saw
  step("late", { ...ended("2026-12-07T10:20:00Z"), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT } }),
  // another context, another Agent, or not ended
  step("other", { ...ended("2026-12-07T10:02:00Z"), agentRef: { name: AGENT, namespace: NS, contextId: "agentgate-other" } }),
  step("forged", { ...ended("2026-12-07T10:02:00Z"), agentRef: { name: "share-x-agent", namespace: NS, contextId: CONTEXT } }),
  step("parallel", { phase: "Acting", agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT } }),
];

function kube(agent: KubeObject | null, runs: AgentRun[] | Error): Kube {
  return {
    get: (gvr: Gvr, _ns: string, name: string) => Promise.resolve(gvr.plural === "agents" && name === agent?.metadata?.name ? agent : null),
    list: () => (runs instanceof Error ? Promise.reject(runs) : Promise.resolve(runs)),
    getObject: () => Promise.resolve(null),
  } as unknown as Kube;
}

async function recorded(k: Kube, r: AgentRun, agentName: string | undefined): Promise<ProvenanceFacts> {
  let facts: ProvenanceFacts | undefined;
  const recorder: ProvenanceRecorder = { record: (f) => { facts = f; return Promise.resolve({ envelope: { payloadType: "", payload: "", signatures: [] }, digest: "", signed: false }); } };
  await new RunProvenance(k, recorder, logger).record(r, config, guardrails, { promptTokens: 0, completionTokens: 0, totalTokens: 0, toolCalls: 0 }, [], "Succeeded", "2026-12-07T10:15:00Z", undefined, agentName);
  assert.ok(facts);
  return facts;
}

const sharedAgent: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: AGENT, namespace: NS, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr", uid: "pr-uid", controller: true }] }, spec: { type: "Declarative" } };

test("a shared run records its context: id, share, PipelineRun, and the steps that ended before its goal, each with its provenance digest", async () => {
  const facts = await recorded(kube(sharedAgent, [run, ...earlier]), run, AGENT);
  assert.equal(facts.agentUnproven, undefined);
  assert.deepEqual(facts.context, {
    id: CONTEXT,
    share: "share-0123456789abcdef0123",
    pipelineRun: { name: "pr", uid: "pr-uid" },
    previous: [
      { name: "setup", uid: "uid-setup", taskId: "t-setup", finishedOn: "2026-12-07T10:01:00Z", provenance: { sha256: "a".repeat(64) } },
      { name: "run", uid: "uid-run", taskId: "t-run", finishedOn: "2026-12-07T10:05:00Z", provenance: null },
    ],
    earlier: 0,
  });
});

test("a run on its own Agent records no context and nothing unproven", async () => {
  const own = step("solo", { phase: "Acting", agentRef: { name: "solo-agent", namespace: NS } });
  const facts = await recorded(kube({ ...sharedAgent, metadata: { name: "solo-agent", namespace: NS } }, []), own, "solo-agent");
  assert.equal(facts.context, undefined);
  assert.equal(facts.agentUnproven, undefined);
  assert.equal(facts.agent?.name, "solo-agent");
});

test("a shared Agent named in status but not proven, or gone, is recorded as such, never as a silent null", async () => {
  const unproven = await recorded(kube(sharedAgent, [run]), run, undefined);
  assert.equal(unproven.agent, null);
  assert.match(unproven.agentUnproven?.why ?? "", /could not prove is the Agent shared by the run's PipelineRun/);
  // the context is still the one the status names, its PipelineRun not taken from an unproven Agent
  assert.equal(unproven.context?.id, CONTEXT);
  assert.equal(unproven.context?.pipelineRun, null);
  const gone = await recorded(kube(null, [run]), run, AGENT);
  assert.match(gone.agentUnproven?.why ?? "", /was gone when the run's provenance was recorded/);
  assert.equal(unprovenAgent(step("x", undefined), undefined, false), undefined, "no agentRef: nothing to say");
});

test("runs that cannot be listed are said so; the list keeps the most recent steps and counts the rest", async () => {
  const facts = await recorded(kube(sharedAgent, new Error("forbidden")), run, AGENT);
  assert.equal(facts.context?.previous, null);
  assert.deepEqual(facts.context?.earlier, { unreadable: "forbidden" });
  const many = Array.from({ length: PREVIOUS_STEPS_LIMIT + 5 }, (_, i) => step(`s${String(i).padStart(3, "0")}`, { ...ended(new Date(Date.parse("2026-12-07T09:00:00Z") + i * 1000).toISOString()), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT } }));
  const { previous, earlier: left } = previousSteps(run, many);
  assert.equal(previous.length, PREVIOUS_STEPS_LIMIT);
  assert.equal(left, 5);
  assert.equal(previous[0]?.name, "s005");
  assert.deepEqual(previousSteps({ ...run, status: { ...run.status, goal: undefined } }, many), { previous: [], earlier: 0 }, "no goal sent: nothing of the context went into it");
});
