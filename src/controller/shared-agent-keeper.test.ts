// The keeper against an API server held in memory: membership read from
// signed creator stamps, one claim per shared Agent when two steps choose at
// once, no take-over of an object under the share's names, and the Agent's
// end with its PipelineRun.
import { test } from "node:test";
import assert from "node:assert/strict";
import { creatorStamps } from "../guardrails/creator.ts";
import { signDecision } from "../guardrails/decision.ts";
import { serializeSnapshot } from "../guardrails/snapshot.ts";
import { serializeGuardrails } from "../guardrails/stamps.ts";
import { logger } from "../log.ts";
import { generateSigningKey } from "../signing/keys.ts";
import { staticKeyring } from "../signing/keyring.ts";
import { STAMP, type AgentRun, type Guardrails, type Snapshot } from "../types/agent.ts";
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
  /** every namespace's, with the label the selector names (a bare key) */
  listAll(gvr: Gvr, labelKey: string): Promise<KubeObject[]> {
    return Promise.resolve([...this.objects.values()].filter((o) => o.kind === KINDS[gvr.plural] && o.metadata?.labels?.[labelKey] !== undefined));
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

async function stamped(o: KubeObject, kind: "PipelineRun" | "CustomRun", createdBy: string, inheritedFrom?: string): Promise<KubeObject> {
  const withTime = { ...o, metadata: { ...o.metadata, creationTimestamp: new Date().toISOString() } };
  return { ...withTime, metadata: { ...withTime.metadata, annotations: await creatorStamps(withTime, kind, createdBy, key, Date.now(), inheritedFrom) } };
}

/** A PipelineRun of alice's with one CustomRun (Tekton's, so alice's, inherited from the PipelineRun; or one crCreator made) and the controller's run per step. */
async function world(steps: string[], crCreator = "alice") {
  const kube = new MemoryKube();
  kube.put({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "tester", namespace: NS } });
  const pr = kube.put(await stamped({ apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name: "pr", namespace: NS } }, "PipelineRun", "alice"));
  const prRef = { apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr", uid: pr.metadata?.uid ?? "", controller: true };
  const runs: AgentRun[] = [];
  for (const step of steps) {
    const cr = kube.put(await stamped({ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", metadata: { name: step, namespace: NS, ownerReferences: [prRef] }, spec: { customRef: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" } } }, "CustomRun", crCreator, crCreator === "alice" ? prRef.uid : undefined));
    const run: AgentRun = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: step, namespace: NS, ownerReferences: [{ apiVersion: "tekton.dev/v1beta1", kind: "CustomRun", name: step, uid: cr.metadata?.uid ?? "", controller: true }], annotations: { [STAMP.createdBy]: "alice", [STAMP.policyRevision]: "default@1", [STAMP.guardrails]: serializeGuardrails(guardrails), [STAMP.snapshot]: serializeSnapshot(snapshot) } }, spec: { configRef: { name: "tester" }, goal: step } };
    // The gateway's decision: the keeper proves a holder by it (dropIdle).
    (run.metadata?.annotations ?? {})[STAMP.decision] = await signDecision(run, key);
    runs.push(kube.put(run) as AgentRun);
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

/** Server-side apply as the API server does it: the applied fields over what is there, so fields another writer added survive. */
class ApplyKube extends MemoryKube {
  override apply(o: KubeObject): Promise<KubeObject> {
    const merge = (a: unknown, b: unknown): unknown => {
      if (typeof a !== "object" || a === null || Array.isArray(a) || typeof b !== "object" || b === null || Array.isArray(b)) return b;
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
      for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
      return out;
    };
    const there = this.objects.get(`${o.kind ?? ""}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`);
    return Promise.resolve(this.put((there ? merge(there, o) : o) as KubeObject));
  }
}

test("a shared Agent or scope object changed outside agentgate (webhooks off) is refused after the apply, not carried into the next step; defaults are not changes", async () => {
  const { kube: plain, runs } = await world(["setup", "run"]);
  const kube = new ApplyKube();
  for (const [k, v] of plain.objects) kube.objects.set(k, v);
  const env = { fqdn: false };
  const keeper = new SharedAgentKeeper({ kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve(env) }, 60_000);
  const [setup, run] = runs as [AgentRun, AgentRun];
  const config = { metadata: { name: "tester", namespace: NS }, spec: snapshot.config.spec };
  const choice = await keeper.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  const first = await keeper.apply(setup, choice, config, guardrails);
  assert.ok("agent" in first, JSON.stringify(first));
  // What the API server adds of its own (a ServiceAccount's pull secrets on OpenShift, a subject's empty apiGroup) is no change.
  const sa = `ServiceAccount/${NS}/agentgate-run-${choice.names.share}`;
  const rb = `RoleBinding/${NS}/${choice.names.share}-binding`;
  kube.objects.set(sa, { ...kube.objects.get(sa), imagePullSecrets: [{ name: "dockercfg-x" }] });
  const binding = kube.objects.get(rb) as KubeObject & { subjects: Record<string, unknown>[] };
  assert.ok(binding, [...kube.objects.keys()].join(" "));
  kube.objects.set(rb, { ...binding, subjects: binding.subjects.map((s) => ({ ...s, apiGroup: "" })) });
  keeper.ended(setup);
  const again = await keeper.apply(setup, choice, config, guardrails);
  assert.ok("agent" in again, JSON.stringify(again));
  // An editor, webhooks off, adds a proxy to the Agent's pods: the forced apply keeps it, the keeper refuses.
  const agentKey = `Agent/${NS}/${choice.names.agent}`;
  const agent = kube.objects.get(agentKey) as KubeObject & { spec: { declarative: { deployment: Record<string, unknown> } } };
  kube.objects.set(agentKey, { ...agent, spec: { ...agent.spec, declarative: { ...agent.spec.declarative, deployment: { ...agent.spec.declarative.deployment, env: [{ name: "HTTPS_PROXY", value: "http://evil:3128" }] } } } });
  const next = await keeper.choose(run, trusted());
  if (next.kind !== "shared") assert.fail(JSON.stringify(next));
  const refused = await keeper.apply(run, next, config, guardrails);
  assert.ok("conflict" in refused, JSON.stringify(refused));
  assert.match(refused.conflict, /Agent ".*-agent" of the Agent shared by PipelineRun pr was changed outside agentgate \(spec\.declarative\.deployment\.env\)/);
  // So is a workload-identity annotation on the share's ServiceAccount.
  kube.objects.set(agentKey, agent);
  kube.objects.set(sa, { ...kube.objects.get(sa), metadata: { ...kube.objects.get(sa)?.metadata, annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/admin" } } });
  const refusedSa = await keeper.apply(run, next, config, guardrails);
  assert.ok("conflict" in refusedSa && /ServiceAccount .*metadata\.annotations\["eks\.amazonaws\.com\/role-arn"\]/.test(refusedSa.conflict), JSON.stringify(refusedSa));
  await keeper.stop();
});

test("existing() reads the objects apply() reads: a CiliumNetworkPolicy under the share's name not made for it keeps a new step on its own Agent", async () => {
  const { kube, runs } = await world(["step"]);
  const keeper = new SharedAgentKeeper({ kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({ fqdn: true }) }, 60_000);
  const first = await keeper.choose(runs[0] as AgentRun, trusted());
  if (first.kind !== "shared") assert.fail(JSON.stringify(first));
  keeper.ended(runs[0] as AgentRun);
  kube.put({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: `${first.names.share}-fqdn`, namespace: NS }, spec: {} });
  const choice = await keeper.choose(runs[0] as AgentRun, trusted());
  assert.equal(choice.kind, "own");
  assert.match(choice.kind === "own" ? (choice.why ?? "") : "", /was not made for it/);
  const applied = await keeper.apply(runs[0] as AgentRun, first, { metadata: { name: "tester", namespace: NS }, spec: snapshot.config.spec }, guardrails);
  assert.ok("conflict" in applied && /CiliumNetworkPolicy ".*-fqdn" already exists/.test(applied.conflict), JSON.stringify(applied));
  await keeper.stop();
});

// ---- between steps: no rights while no run holds the share; no task of a vanished run left in its context

const AGENTS: Gvr = { group: "kagent.dev", version: "v1alpha2", plural: "agents" };
const config = { metadata: { name: "tester", namespace: NS }, spec: snapshot.config.spec };
const ended = (run: AgentRun, agentRef: { name: string; namespace: string; contextId: string }): AgentRun => ({ ...run, status: { phase: "Succeeded", agentRef, conditions: [{ type: "Succeeded", status: "True", reason: "Succeeded", message: "", lastTransitionTime: "" }] } });
const kindsOf = (keys: string[]) => keys.map((k) => k.split("/")[0]).sort();

test("between steps the share keeps no rights: its Role and RoleBinding go once the step that held it ends, the Agent stays for the next step, whose apply makes them again", async () => {
  const { kube, runs, keeper } = await world(["setup", "run"]);
  const [setup, run] = runs as [AgentRun, AgentRun];
  const choice = await keeper.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  assert.ok("agent" in (await keeper.apply(setup, choice, config, guardrails)));
  const ref = { name: choice.names.agent, namespace: NS, contextId: choice.names.contextId };
  // While the step holds it (status names the share, not ended), nothing goes.
  kube.put({ ...setup, status: { phase: "Acting", agentRef: ref } });
  await keeper.sweep();
  assert.deepEqual(kube.deleted, []);
  const done = kube.put(ended(setup, ref)) as AgentRun;
  keeper.ended(done);
  await keeper.sweep();
  assert.deepEqual(kindsOf(kube.deleted), ["Role", "RoleBinding"]);
  assert.ok(await kube.get(AGENTS, NS, choice.names.agent), "the Agent stays: the run that held it ended, and its end stopped its task");
  assert.ok(kube.objects.has(`ServiceAccount/${NS}/agentgate-run-${choice.names.share}`));
  const next = await keeper.choose(run, trusted());
  assert.deepEqual(next, choice);
  assert.ok("agent" in (await keeper.apply(run, next, config, guardrails)));
  assert.ok(kube.objects.has(`RoleBinding/${NS}/${choice.names.share}-binding`), "made again for the step");
  await keeper.stop();
});

/** Holds the first delete of a kind until released, and says when it is held. */
class GatedKube extends MemoryKube {
  held: () => void = () => undefined;
  release: () => void = () => undefined;
  readonly reached = new Promise<void>((r) => { this.held = r; });
  private readonly gate = new Promise<void>((r) => { this.release = r; });
  private gated = false;
  private readonly kind: string;
  constructor(kind: string) {
    super();
    this.kind = kind;
  }
  override async deleteObject(ref: ObjectRef): Promise<boolean> {
    if (ref.kind === this.kind && !this.gated) {
      this.gated = true;
      this.held();
      await this.gate;
    }
    return super.deleteObject(ref);
  }
}

test("a step choosing the share while it is being stripped waits for that, so its apply is not undone", async () => {
  const { kube: plain, runs } = await world(["setup", "run"]);
  const kube = new GatedKube("RoleBinding");
  for (const [k, v] of plain.objects) kube.objects.set(k, v);
  const keeper = new SharedAgentKeeper({ kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({}) }, 60_000);
  const [setup, run] = runs as [AgentRun, AgentRun];
  const choice = await keeper.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  await keeper.apply(setup, choice, config, guardrails);
  keeper.ended(kube.put(ended(setup, { name: choice.names.agent, namespace: NS, contextId: choice.names.contextId })) as AgentRun);
  await kube.reached;
  let chosen = false;
  const next = keeper.choose(run, trusted()).then((c) => { chosen = true; return c; });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(chosen, false, "the choice waits for the drop under way");
  kube.release();
  const c = await next;
  if (c.kind !== "shared") assert.fail(JSON.stringify(c));
  await keeper.apply(run, c, config, guardrails);
  await keeper.sweep();
  assert.ok(kube.objects.has(`RoleBinding/${NS}/${choice.names.share}-binding`), "the step's RoleBinding survives the drop");
  await keeper.stop();
});

test("a step that held the share deleted while nobody followed it (its CustomRun deleted): the Agent and its identity go, stopping any task it left in the context", async () => {
  const { kube, runs, keeper } = await world(["setup", "run"]);
  const [setup] = runs as [AgentRun, AgentRun];
  const choice = await keeper.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  await keeper.apply(setup, choice, config, guardrails);
  kube.put({ ...setup, status: { phase: "Acting", taskId: "t1", agentRef: { name: choice.names.agent, namespace: NS, contextId: choice.names.contextId } } });
  await keeper.sweep();
  assert.deepEqual(kube.deleted, [], "held");
  kube.objects.delete(`AgentRun/${NS}/setup`);
  await keeper.sweep();
  assert.deepEqual(kindsOf(kube.deleted), ["Agent", "Role", "RoleBinding", "ServiceAccount"]);
  assert.equal(await kube.get(AGENTS, NS, choice.names.agent), null);
  await keeper.stop();
});

test("after a restart: the shares in the cluster are found by their Agents, and one no run holds is deleted (its last holder unknown); a step taking a share whose last holder is unknown gets it made afresh", async () => {
  const { kube, runs, keeper } = await world(["setup", "run"]);
  const [setup, run] = runs as [AgentRun, AgentRun];
  const choice = await keeper.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  await keeper.apply(setup, choice, config, guardrails);
  await keeper.stop();
  // The step and its CustomRun deleted while no controller ran: nothing is left that names the share but its objects.
  kube.objects.delete(`AgentRun/${NS}/setup`);
  const restarted = new SharedAgentKeeper({ kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({}) }, 60_000);
  await restarted.resume();
  await restarted.sweep();
  assert.deepEqual(kindsOf(kube.deleted), ["Agent", "Role", "RoleBinding", "ServiceAccount"]);
  await restarted.stop();
  // Made again, then a new step chooses it in a process that never saw who held it.
  await keeper.apply(setup, choice, config, guardrails);
  kube.deleted.length = 0;
  const fresh = new SharedAgentKeeper({ kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({}) }, 60_000);
  const next = await fresh.choose(run, trusted());
  assert.deepEqual(next, choice);
  assert.ok(kindsOf(kube.deleted).includes("Agent"), "deleted before the step takes it");
  assert.equal(await kube.get(AGENTS, NS, choice.names.agent), null);
  await fresh.stop();
});

// ---- a status forged while the webhooks were off; an Agent deleted is not stopped until it is gone

test("a run whose status (forged, webhooks off) names the share while it waits for approval holds nothing: the share's rights still go between steps", async () => {
  const { kube, runs, keeper } = await world(["setup", "forger"]);
  const [setup, forger] = runs as [AgentRun, AgentRun];
  const choice = await keeper.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  await keeper.apply(setup, choice, config, guardrails);
  const ref = { name: choice.names.agent, namespace: NS, contextId: choice.names.contextId };
  kube.put({ ...forger, status: { phase: "WaitingForApproval", agentRef: ref } });
  keeper.ended(kube.put(ended(setup, ref)) as AgentRun);
  await keeper.sweep();
  assert.deepEqual(kindsOf(kube.deleted), ["Role", "RoleBinding"], "no permanent holder");
  await keeper.stop();
});

/** Deletes in the foreground: the Agent stays, being deleted, until `gc` lets it go (never, without one); records each propagation. */
class ForegroundKube extends MemoryKube {
  readonly policies: string[] = [];
  gcAfterMs: number | undefined = 0;
  override delete(gvr: Gvr, ns: string, name: string, policy = "Background"): Promise<boolean> {
    this.policies.push(policy);
    const k = `Agent/${ns}/${name}`;
    const there = this.objects.get(k);
    if (gvr.plural !== "agents" || !there || policy !== "Foreground") return super.delete(gvr, ns, name);
    this.deleted.push(k);
    this.objects.set(k, { ...there, metadata: { ...there.metadata, deletionTimestamp: new Date().toISOString(), finalizers: ["foregroundDeletion"] } });
    if (this.gcAfterMs !== undefined) setTimeout(() => { this.objects.delete(k); }, this.gcAfterMs);
    return Promise.resolve(true);
  }
  override apply(o: KubeObject): Promise<KubeObject> {
    const there = this.objects.get(`${o.kind ?? ""}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`);
    // What the API server does: an apply lands on the object being deleted, which then goes all the same.
    return Promise.resolve(there?.metadata?.deletionTimestamp !== undefined ? { ...o, metadata: { ...o.metadata, deletionTimestamp: there.metadata.deletionTimestamp } } : this.put(o));
  }
}

test("a step taking a share whose last holder is unknown: the Agent is deleted in the foreground and made again only once it reads 404; without a garbage collector the step fails after the bounded wait instead of sending its goal", async () => {
  const { kube: plain, runs } = await world(["setup", "run"]);
  const kube = new ForegroundKube();
  for (const [k, v] of plain.objects) kube.objects.set(k, v);
  const deps = { kube, keyring: staticKeyring(key), log: logger, scopeEnvironment: () => Promise.resolve({}) };
  const first = new SharedAgentKeeper(deps, 60_000, 2_000);
  const [setup, run] = runs as [AgentRun, AgentRun];
  const choice = await first.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  await first.apply(setup, choice, config, guardrails);
  await first.stop();
  // A restarted controller: the last holder is unknown, so the Agent is deleted before the step takes it; its pods take 300 ms to go.
  kube.gcAfterMs = 300;
  const fresh = new SharedAgentKeeper(deps, 60_000, 2_000);
  const next = await fresh.choose(run, trusted());
  if (next.kind !== "shared") assert.fail(JSON.stringify(next));
  assert.ok(kube.policies.includes("Foreground"));
  const dying = kube.objects.get(`Agent/${NS}/${choice.names.agent}`);
  assert.ok(dying?.metadata?.deletionTimestamp, "being deleted, not gone");
  const applied = await fresh.apply(run, next, config, guardrails);
  assert.ok("agent" in applied && applied.agent !== "no-api" && applied.agent.metadata?.deletionTimestamp === undefined, JSON.stringify(applied));
  assert.ok(kube.objects.get(`Agent/${NS}/${choice.names.agent}`), "made again after the old one went");
  await fresh.stop();
  // No garbage collector: the foreground deletion never completes; the step fails after the wait.
  kube.gcAfterMs = undefined;
  const stuck = new SharedAgentKeeper(deps, 60_000, 300);
  const again = await stuck.choose(run, trusted());
  if (again.kind !== "shared") assert.fail(JSON.stringify(again));
  const failed = await stuck.apply(run, again, config, guardrails);
  assert.ok("failed" in failed, JSON.stringify(failed));
  assert.match(failed.failed, /still there after 0 s \(being deleted since .*finalizers: foregroundDeletion\).*no goal is sent into its context/);
  await stuck.stop();
});

test("a run in Acting whose status names the share but that is not proven a step of it (its decision another creator's) keeps it no rights; a proven one keeps them", async () => {
  const { kube, runs, keeper } = await world(["setup", "forger"]);
  const [setup, forger] = runs as [AgentRun, AgentRun];
  const choice = await keeper.choose(setup, trusted());
  if (choice.kind !== "shared") assert.fail(JSON.stringify(choice));
  await keeper.apply(setup, choice, config, guardrails);
  const ref = { name: choice.names.agent, namespace: NS, contextId: choice.names.contextId };
  keeper.ended(kube.put(ended(setup, ref)) as AgentRun);
  await keeper.sweep();
  kube.deleted.length = 0;
  // Made again for a proven holder (the step itself, acting again in this picture): nothing goes.
  await keeper.apply(setup, choice, config, guardrails);
  kube.put({ ...setup, status: { phase: "Acting", taskId: "t1", agentRef: ref } });
  (keeper as unknown as { stripped: Set<string> }).stripped.clear();
  await keeper.sweep();
  assert.deepEqual(kube.deleted, [], "a proven holder keeps the share's rights");
  // mallory's run (her decision), status forged to Acting on alice's share while the webhooks were off.
  kube.put({ ...setup, status: ended(setup, ref).status });
  const annotations = { ...forger.metadata?.annotations, [STAMP.createdBy]: "mallory" };
  const hers: AgentRun = { ...forger, metadata: { ...forger.metadata, annotations } };
  (hers.metadata?.annotations ?? {})[STAMP.decision] = await signDecision(hers, key);
  kube.put({ ...hers, status: { phase: "Acting", taskId: "t9", agentRef: ref } });
  await keeper.sweep();
  assert.deepEqual(kindsOf(kube.deleted), ["Role", "RoleBinding"], "an unproven holder keeps it no rights");
  assert.ok(await kube.get(AGENTS, NS, choice.names.agent), "the Agent stays: the forged run's end stops whatever it runs");
  await keeper.stop();
});
