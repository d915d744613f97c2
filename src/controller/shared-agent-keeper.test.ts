// The keeper against an API server held in memory: membership read from
// signed creator stamps, one claim per shared Agent when two steps choose at
// once, no take-over of an object under the share's names, and the Agent's
// end with its PipelineRun.
import { test } from "node:test";
import assert from "node:assert/strict";
import { creatorStamps } from "../guardrails/creator.ts";
import { logger } from "../log.ts";
import { generateSigningKey } from "../signing/keys.ts";
import { staticKeyring } from "../signing/keyring.ts";
import type { AgentRun, Guardrails, Snapshot } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Gvr } from "../kube/resources.ts";
import type { ObjectRef } from "./kube.ts";
import type { Trusted } from "./run-guards.ts";
import { SharedAgentKeeper, type SharedAgentDeps } from "./shared-agent-keeper.ts";
import { SHARE_LABEL } from "./shared-agent.ts";

const key = generateSigningKey();
const NS = "qe";
const KINDS: Record<string, string> = { agentruns: "AgentRun", agentconfigs: "AgentConfig", agents: "Agent", pipelineruns: "PipelineRun", customruns: "CustomRun" };

/** An API server in memory: objects by kind, namespace and name; what was deleted. */
class MemoryKube {
  readonly objects = new Map<string, KubeObject>();
  readonly deleted: string[] = [];
  private seq = 0;
  private k = (kind: string, ns: string, name: string) => `${kind}/${ns}/${name}`;
  put(o: KubeObject): KubeObject {
    const stored = { ...o, metadata: { uid: `uid-${String(++this.seq)}`, creationTimestamp: new Date().toISOString(), ...o.metadata } };
    this.objects.set(this.k(o.kind ?? "", o.metadata?.namespace ?? "", o.metadata?.name ?? ""), stored);
    return stored;
  }
  get(gvr: Gvr, ns: string, name: string): Promise<KubeObject | null> {
    return Promise.resolve(this.objects.get(this.k(KINDS[gvr.plural] ?? "", ns, name)) ?? null);
  }
  list(gvr: Gvr, ns: string): Promise<KubeObject[]> {
    return Promise.resolve([...this.objects.values()].filter((o) => o.kind === KINDS[gvr.plural] && o.metadata?.namespace === ns));
  }
  getObject(ref: ObjectRef): Promise<KubeObject | null> {
    return Promise.resolve(this.objects.get(this.k(ref.kind, ref.namespace, ref.name)) ?? null);
  }
  apply(o: KubeObject): Promise<KubeObject> {
    return Promise.resolve(this.put(o));
  }
  delete(gvr: Gvr, ns: string, name: string): Promise<boolean> {
    return this.deleteObject({ apiVersion: "", kind: KINDS[gvr.plural] ?? "", namespace: ns, name });
  }
  deleteObject(ref: ObjectRef): Promise<boolean> {
    const k = this.k(ref.kind, ref.namespace, ref.name);
    this.deleted.push(k);
    return Promise.resolve(this.objects.delete(k));
  }
}

const guardrails: Guardrails = { tokenBudget: 1000, timeout: "10m", maxIterations: 3, networkPolicy: "strict", egress: [], rbac: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }], approval: { required: false, approverGroups: [] }, tools: [] };
const snapshot: Snapshot = { config: { name: "tester", spec: { systemPrompt: "You test." } }, modelConfig: null, toolServers: {} };
const trusted = (createdBy = "alice"): Trusted => ({ ok: true, guardrails, snapshot, createdBy, timeoutMs: 600_000, startAt: Date.now(), approvedBy: undefined });

async function stamped(o: KubeObject, kind: "PipelineRun" | "CustomRun", createdBy: string): Promise<KubeObject> {
  const withTime = { ...o, metadata: { ...o.metadata, creationTimestamp: new Date().toISOString() } };
  return { ...withTime, metadata: { ...withTime.metadata, annotations: await creatorStamps(withTime, kind, createdBy, key) } };
}

/** A PipelineRun of alice's with one CustomRun (Tekton's, so alice's) and the controller's run per step. */
async function world(steps: string[], crCreator = "alice") {
  const kube = new MemoryKube();
  kube.put({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "tester", namespace: NS } });
  const pr = kube.put(await stamped({ apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name: "pr", namespace: NS } }, "PipelineRun", "alice"));
  const prRef = { apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr", uid: pr.metadata?.uid ?? "", controller: true };
  const runs: AgentRun[] = [];
  for (const step of steps) {
    const cr = kube.put(await stamped({ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", metadata: { name: step, namespace: NS, ownerReferences: [prRef] }, spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" } } }, "CustomRun", crCreator));
    runs.push(kube.put({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: step, namespace: NS, ownerReferences: [{ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", name: step, uid: cr.metadata?.uid ?? "", controller: true }] } }) as AgentRun);
  }
  const deps: SharedAgentDeps = { kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({}) };
  return { kube, pr, runs, keeper: new SharedAgentKeeper(deps, 60_000) };
}

test("two steps choosing at once: one takes the shared Agent, the other gets its own and says why", async () => {
  const { runs, keeper } = await world(["left", "right"]);
  const [a, b] = await Promise.all(runs.map((r) => keeper.choose(r, trusted())));
  const kinds = [a?.kind, b?.kind].sort();
  assert.deepEqual(kinds, ["own", "shared"]);
  const own = [a, b].find((c) => c?.kind === "own");
  assert.match(own?.kind === "own" ? (own.why ?? "") : "", /two goals never share one context at once/);
  await keeper.stop();
});

test("the claim goes with the run that held it: the next step shares", async () => {
  const { runs, keeper } = await world(["setup", "run"]);
  const [setup, run] = runs as [AgentRun, AgentRun];
  const first = await keeper.choose(setup, trusted());
  assert.equal(first.kind, "shared");
  keeper.ended(setup);
  const second = await keeper.choose(run, trusted());
  assert.equal(second.kind, "shared");
  assert.deepEqual(second.kind === "shared" && first.kind === "shared" ? second.names : undefined, first.kind === "shared" ? first.names : "");
  await keeper.stop();
});

test("a step recorded in status as acting through the shared Agent holds it after a restart (no claim in memory)", async () => {
  const { kube, runs, keeper } = await world(["setup", "run"]);
  const [setup, run] = runs as [AgentRun, AgentRun];
  const choice = await keeper.choose(setup, trusted());
  assert.equal(choice.kind, "shared");
  if (choice.kind !== "shared") return;
  kube.put({ ...setup, status: { phase: "Acting", agentRef: { name: choice.names.agent, namespace: NS, contextId: choice.names.contextId } } });
  const restarted = new SharedAgentKeeper({ kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({}) }, 60_000);
  const other = await restarted.choose(run, trusted());
  assert.equal(other.kind, "own");
  assert.match(other.kind === "own" ? (other.why ?? "") : "", /run qe\/setup acts through/);
  await keeper.stop();
});

test("a run the editor created, or a CustomRun she made under alice's PipelineRun, does not join", async () => {
  const forged = await world(["mine"]);
  const choice = await forged.keeper.choose(forged.runs[0] as AgentRun, trusted("mallory"));
  assert.equal(choice.kind, "own");
  assert.match(choice.kind === "own" ? (choice.why ?? "") : "", /created by "mallory"/);
  const hers = await world(["hers"], "mallory");
  const theirs = await hers.keeper.choose(hers.runs[0] as AgentRun, trusted("mallory"));
  assert.equal(theirs.kind, "own");
});

test("calls through the run-time gateway: never shared", async () => {
  const { kube, runs } = await world(["step"]);
  const keeper = new SharedAgentKeeper({ kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({}), calls: { baseUrl: "http://gw", ledgers: { open: () => Promise.reject(new Error("unused")), update: () => Promise.reject(new Error("unused")), read: () => Promise.resolve(undefined), remove: () => Promise.resolve() } } });
  const choice = await keeper.choose(runs[0] as AgentRun, trusted());
  assert.equal(choice.kind, "own");
  assert.match(choice.kind === "own" ? (choice.why ?? "") : "", /run-time gateway/);
});

test("an object under the share's names that is not the share's is never taken over", async () => {
  const { kube, runs, keeper } = await world(["step"]);
  const choice = await keeper.choose(runs[0] as AgentRun, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  kube.put({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: `${choice.names.share}-role`, namespace: NS }, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] });
  const applied = await keeper.apply(runs[0] as AgentRun, choice, { metadata: { name: "tester", namespace: NS }, spec: snapshot.config.spec }, guardrails);
  assert.ok("conflict" in applied);
  assert.match(applied.conflict, /Role ".*-role" already exists .* not made for the Agent shared by PipelineRun pr/);
  assert.equal(await kube.get({ group: "kagent.dev", version: "v1alpha2", plural: "agents" }, NS, choice.names.agent), null, "no Agent made");
  await keeper.stop();
});

test("the shared Agent and its identity go when the PipelineRun ends; not before", async () => {
  const { kube, pr, runs, keeper } = await world(["step"]);
  const choice = await keeper.choose(runs[0] as AgentRun, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  const applied = await keeper.apply(runs[0] as AgentRun, choice, { metadata: { name: "tester", namespace: NS }, spec: snapshot.config.spec }, guardrails);
  assert.ok("agent" in applied && applied.agent !== "no-api" && applied.agent.metadata?.labels?.[SHARE_LABEL] === choice.names.share);
  await keeper.sweep();
  assert.equal(kube.deleted.length, 0, "the PipelineRun still runs");
  kube.put({ ...pr, status: { conditions: [{ type: "Succeeded", status: "True", reason: "Succeeded", message: "", lastTransitionTime: "" }] } });
  await keeper.sweep();
  assert.deepEqual(kube.deleted.map((k) => k.split("/")[0]).sort(), ["Agent", "Role", "RoleBinding", "ServiceAccount"]);
  assert.ok(kube.objects.has(`NetworkPolicy/${NS}/${choice.names.share}-netpol`), "the NetworkPolicy stays with the PipelineRun");
  await keeper.stop();
});
