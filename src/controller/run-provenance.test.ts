// What a run's provenance records of the Agent and the A2A context it ran
// in: a shared run's context with the steps before it (bounded), each as
// its own signed provenance proves it, runs no provenance proves apart, and
// a shared Agent named in status that cannot be recorded, said so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { logger } from "../log.ts";
import { generateKeyPairSync } from "node:crypto";
import { PREVIOUS_STEPS_LIMIT, UNVERIFIED_STEPS_LIMIT, type ProvenanceFacts, type ProvenanceRecorder } from "../provenance/facts.ts";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Gvr } from "../kube/resources.ts";
import type { Kube } from "./kube.ts";
import { ProvenanceSigner } from "./provenance-recorder.ts";
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

const SHARE = "share-0123456789abcdef0123";
const signer = new ProvenanceSigner(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey);
const usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, toolCalls: 0 };

/** The run as the controller ends it: its status, and its provenance (signed by `by`) naming the context it ran in. */
async function proven(r: AgentRun, taskId: string | null, finishedOn: string, context: { id: string; share: string } = { id: CONTEXT, share: SHARE }, by: ProvenanceRecorder = signer): Promise<AgentRun> {
  const { envelope, digest } = await by.record({ run: r, config, guardrails, agent: null, context: { ...context, pipelineRun: { name: "pr", uid: "pr-uid" }, taskId, previous: [], earlier: 0, unverified: { runs: [], more: 0 } }, modelConfig: null, toolServers: [], usage, results: [], policyRevision: "", startedOn: finishedOn, finishedOn, outcome: "Succeeded" });
  return { ...r, status: { ...r.status, provenance: envelope, results: [{ name: "provenance-digest", value: digest }] } };
}
const digestOf = (r: AgentRun): string => r.status?.results?.[0]?.value.slice("sha256:".length) ?? "";

const run = step("report", { phase: "Acting", agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, goal: { messageId: "m", sentTime: "2026-12-07T10:10:00Z" }, taskId: "t-report" });
const setup = await proven(step("setup", { ...ended("2026-12-07T10:01:00Z"), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, taskId: "t-setup" }), "t-setup", "2026-12-07T10:01:00Z");
const earlier = [
  setup,
  // its status says it was a step, but it records no provenance (as a run ended by a controller without a key)
  step("run", { ...ended("2026-12-07T10:05:00Z"), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, taskId: "t-run", results: [] }),
  // after this run's goal: not what its model saw
  await proven(step("late", { ...ended("2026-12-07T10:20:00Z"), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT } }), null, "2026-12-07T10:20:00Z"),
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
  const recorder: ProvenanceRecorder = { record: (f) => { facts = f; return Promise.resolve({ envelope: { payloadType: "", payload: "", signatures: [] }, digest: "", signed: false }); }, verify: (e) => signer.verify(e) };
  await new RunProvenance(k, recorder, logger).record(r, config, guardrails, usage, [], "Succeeded", "2026-12-07T10:15:00Z", undefined, agentName);
  assert.ok(facts);
  return facts;
}

const sharedAgent: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", metadata: { name: AGENT, namespace: NS, ownerReferences: [{ apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr", uid: "pr-uid", controller: true }] }, spec: { type: "Declarative" } };

test("a shared run records its context: id, share, PipelineRun, its task, and the steps that ended before its goal as their provenance proves; a step its provenance does not prove, apart", async () => {
  const facts = await recorded(kube(sharedAgent, [run, ...earlier]), run, AGENT);
  assert.equal(facts.agentUnproven, undefined);
  assert.deepEqual(facts.context, {
    id: CONTEXT,
    share: SHARE,
    pipelineRun: { name: "pr", uid: "pr-uid" },
    taskId: "t-report",
    previous: [{ name: "setup", uid: "uid-setup", taskId: "t-setup", finishedOn: "2026-12-07T10:01:00Z", provenance: { sha256: digestOf(setup) } }],
    earlier: 0,
    unverified: { runs: [{ name: "run", uid: "uid-run", why: "it records no provenance" }], more: 0 },
  });
});

test("a step is as its signed provenance says, not its status; status claims no provenance proves never push a step out of the list", async () => {
  const sent = Date.parse("2026-12-07T10:10:00Z");
  const at = (i: number) => new Date(sent - 3_600_000 + i * 1000).toISOString();
  const real = await Promise.all(Array.from({ length: PREVIOUS_STEPS_LIMIT }, (_, i) => proven(step(`s${String(i).padStart(3, "0")}`, { ...ended(at(i)), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, taskId: `t${String(i)}` }), `t${String(i)}`, at(i))));
  const stranger = new ProvenanceSigner(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey);
  const claim = (name: string, extra: Partial<NonNullable<AgentRun["status"]>> = {}): AgentRun => step(name, { ...ended(new Date(sent - 1000).toISOString()), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT }, taskId: "t-forged", ...extra });
  const forged = [
    // Many terminal runs whose status says they were the latest steps (written while the webhooks were off).
    ...Array.from({ length: 40 }, (_, i) => claim(`f${String(i).padStart(3, "0")}`)),
    // A real step's provenance copied onto another run; a statement signed by another key; one of another context, of another share.
    { ...claim("copied"), status: { ...claim("copied").status, provenance: setup.status?.provenance } },
    await proven(claim("stranger"), "t", new Date(sent - 1000).toISOString(), undefined, stranger),
    await proven(claim("elsewhere"), "t", new Date(sent - 1000).toISOString(), { id: "agentgate-other", share: SHARE }),
    await proven(claim("othershare"), "t", new Date(sent - 1000).toISOString(), { id: CONTEXT, share: "share-x" }),
  ];
  // A real step whose status was rewritten since: still listed as its provenance says.
  const rewritten = { ...real[0], status: { ...real[0]?.status, agentRef: { name: "x", namespace: NS }, completionTime: "2026-12-07T11:00:00Z", taskId: "t-evil", phase: "Acting" as const, conditions: [] } } as AgentRun;
  const { previous, earlier: left, unverified } = previousSteps(run, [rewritten, ...real.slice(1), ...forged], (e) => signer.verify(e));
  assert.deepEqual(previous.map((p) => p.name), real.map((r) => r.metadata?.name), "every proven step kept, none displaced");
  assert.deepEqual(previous[0], { name: "s000", uid: "uid-s000", taskId: "t0", finishedOn: at(0), provenance: { sha256: digestOf(real[0] as AgentRun) } });
  assert.equal(left, 0);
  assert.equal(unverified.runs.length, UNVERIFIED_STEPS_LIMIT);
  assert.equal(unverified.more, forged.length - UNVERIFIED_STEPS_LIMIT);
  const why = (name: string) => previousSteps(run, [forged.find((f) => f.metadata?.name === name) as AgentRun], (e) => signer.verify(e)).unverified.runs[0]?.why ?? "";
  assert.equal(why("f000"), "it records no provenance");
  assert.match(why("copied"), /its provenance is that of run qe\/setup \(uid uid-setup\), not this one's/);
  assert.match(why("stranger"), /its provenance does not verify: no signature verifies/);
  assert.match(why("elsewhere"), /records context agentgate-other of share-0123/);
  assert.match(why("othershare"), new RegExp(`records context ${CONTEXT} of share-x`));
  // A proven step that ended after the goal was sent is not listed, whatever its status says.
  const after = await proven(claim("after"), "t", "2026-12-07T10:10:01Z");
  assert.deepEqual(previousSteps(run, [after], (e) => signer.verify(e)), { previous: [], earlier: 0, unverified: { runs: [], more: 0 } });
  // A controller without a key proves nothing: every run is unverified, and says why.
  const unsigned = previousSteps(run, real.slice(0, 2));
  assert.deepEqual(unsigned.previous, []);
  assert.match(unsigned.unverified.runs[0]?.why ?? "", /records provenance unsigned/);
  assert.match(previousSteps(run, real.slice(0, 1), (e) => new ProvenanceSigner().verify(e)).unverified.runs[0]?.why ?? "", /does not verify: this controller records provenance unsigned/);
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
  assert.equal(facts.context?.unverified, null);
  const at = (i: number) => new Date(Date.parse("2026-12-07T09:00:00Z") + i * 1000).toISOString();
  const many = await Promise.all(Array.from({ length: PREVIOUS_STEPS_LIMIT + 5 }, (_, i) => proven(step(`s${String(i).padStart(3, "0")}`, { ...ended(at(i)), agentRef: { name: AGENT, namespace: NS, contextId: CONTEXT } }), null, at(i))));
  const { previous, earlier: left } = previousSteps(run, many, (e) => signer.verify(e));
  assert.equal(previous.length, PREVIOUS_STEPS_LIMIT);
  assert.equal(left, 5);
  assert.equal(previous[0]?.name, "s005");
  assert.deepEqual(previousSteps({ ...run, status: { ...run.status, goal: undefined } }, many, (e) => signer.verify(e)), { previous: [], earlier: 0, unverified: { runs: [], more: 0 } }, "no goal sent: nothing of the context went into it");
});
