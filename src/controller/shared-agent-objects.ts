// What a PipelineRun's shared kagent Agent is made of: the Agent and its
// scope (ServiceAccount, Role, RoleBinding, NetworkPolicy), built by the
// same functions as a run's own (kagent-agent.ts, scope.ts) for the share's
// name, then owned by the PipelineRun instead of a run, so the garbage
// collector takes them with it. Pure; shared-agent-keeper.ts applies them.
//
// The share's name stands in for a run's name everywhere, so every guard
// keyed on a run's names holds for it too: the ServiceAccount starts with
// agentgate-run- (run-identity: only kagent's Deployment of Agent
// <share>-agent runs as it), the NetworkPolicy selects kagent's labels for
// <share>-agent, and everything carries agentgate's label (managed-object).
import { AGENT_API_VERSION, type AgentConfig, type AgentRun, type Guardrails } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import type { KubeObject, ObjectMeta } from "../types/kube.ts";
import { kagentAgent, type KagentRuntime } from "./kagent-agent.ts";
import { GVR, type ObjectRef } from "./kube.ts";
import { names as runNames } from "./owned.ts";
import { scopeObjects, type ScopeEnvironment } from "./scope.ts";
import { SHARE_LABEL, shareKey, type PipelineRunRef, type ShareKeyInputs, type ShareNames } from "./shared-agent.ts";

/** Stands in for the share's name while its key is computed: the key covers what is made, not what it is called. */
const KEY_PLACEHOLDER = "share";

function shareRun(namespace: string, name: string): AgentRun {
  return { apiVersion: AGENT_API_VERSION, kind: "AgentRun", metadata: { name, namespace } };
}

function sharedAgentSpec(namespace: string, name: string, config: AgentConfig, guardrails: Guardrails, runtime: KagentRuntime): Agent {
  return kagentAgent(shareRun(namespace, name), config, guardrails, { serviceAccountName: runNames.serviceAccount(name), runtime });
}

/** The share's key for a run's decision: its config as admitted, what its guardrails materialise, and the Agent that makes. */
export function keyFor(i: Omit<ShareKeyInputs, "agentSpec" | "guardrails"> & { guardrails: Guardrails; runtime: KagentRuntime }): string {
  const config: AgentConfig = { apiVersion: AGENT_API_VERSION, kind: "AgentConfig", metadata: { name: i.snapshot.config.name, namespace: i.namespace }, spec: i.snapshot.config.spec };
  const agent = sharedAgentSpec(i.namespace, KEY_PLACEHOLDER, config, i.guardrails, i.runtime);
  return shareKey({ ...i, agentSpec: agent.spec });
}

function reown(meta: ObjectMeta | undefined, names: ShareNames, pr: PipelineRunRef): ObjectMeta {
  return {
    ...meta,
    labels: { ...meta?.labels, [SHARE_LABEL]: names.share },
    // No blockOwnerDeletion: the controller holds no right on pipelineruns/finalizers, and nothing needs the PipelineRun kept.
    ownerReferences: [{ apiVersion: `${GVR.pipelineRuns.group}/${GVR.pipelineRuns.version}`, kind: "PipelineRun", name: pr.name, uid: pr.uid, controller: true }],
  };
}

export interface SharedObjects {
  /** ServiceAccount, Role, RoleBinding and (strict) NetworkPolicy, in the order they are made */
  scope: KubeObject[];
  agent: Agent;
}

/**
 * Every object a share may be made of, by kind and name: the one list both
 * the keeper's look before a run chooses the share (existing()) and its
 * apply() read for objects not made for the share, and that what
 * sharedObjects builds is always within (it throws otherwise). It holds
 * every kind the cluster can have under the share's names, whatever one
 * run's guardrails build: the NetworkPolicy also for a permissive share,
 * Cilium's policy wherever Cilium is served (`fqdn`), so a look without the
 * guardrails sees all that an apply with them will.
 */
export function shareObjectRefs(namespace: string, names: ShareNames, fqdn: boolean): ObjectRef[] {
  const n = names.share;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", namespace, name: runNames.serviceAccount(n) },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", namespace, name: runNames.role(n) },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", namespace, name: runNames.roleBinding(n) },
    { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", namespace, name: runNames.networkPolicy(n) },
    ...(fqdn ? [{ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", namespace, name: runNames.fqdnPolicy(n) }] : []),
    { apiVersion: `${GVR.agents.group}/${GVR.agents.version}`, kind: "Agent", namespace, name: names.agent },
  ];
}

const sameRef = (o: KubeObject, r: ObjectRef): boolean => o.apiVersion === r.apiVersion && o.kind === r.kind && o.metadata?.namespace === r.namespace && o.metadata.name === r.name;

/** The share's Agent and scope, owned by the PipelineRun. */
export function sharedObjects(namespace: string, names: ShareNames, pr: PipelineRunRef, config: AgentConfig, guardrails: Guardrails, env: ScopeEnvironment, runtime: KagentRuntime): SharedObjects {
  const run = shareRun(namespace, names.share);
  const scope = scopeObjects(run, guardrails, env).map((o) => ({ ...o, metadata: reown(o.metadata, names, pr) }));
  const agent = sharedAgentSpec(namespace, names.share, config, guardrails, runtime);
  const spec = agent.spec ?? { type: "Declarative" };
  const objects: SharedObjects = {
    scope,
    agent: {
      ...agent,
      metadata: reown(agent.metadata, names, pr),
      spec: { ...spec, description: `agentgate: the AgentRuns of PipelineRun ${namespace}/${pr.name} (uid ${pr.uid}) of AgentConfig ${config.metadata?.name ?? ""}, one at a time` },
    },
  };
  const refs = shareObjectRefs(namespace, names, env.fqdn === true);
  const outside = [...objects.scope, objects.agent].find((o) => !refs.some((r) => sameRef(o, r)));
  // A builder that makes a kind or name the list lacks would be applied unread: never.
  if (outside) throw new Error(`agentgate builds ${outside.kind ?? ""} "${outside.metadata?.name ?? ""}" for a shared Agent, which shareObjectRefs does not list`);
  return objects;
}

/**
 * What other writers' additions are tolerated on an object made for a share,
 * by kind: values the API server defaults (where agentgate leaves the field
 * unset), fields platform controllers add to every object of the kind and
 * that grant nothing, and whether annotations are read by what consumes the
 * object (kagent copies an Agent's annotations onto its Deployment, pod
 * template, Service and Secret; cloud workload identity reads a
 * ServiceAccount's, e.g. eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account).
 */
interface KindTolerance {
  /** "spec.egress[].ports[].protocol" → the default the API server writes there */
  defaults?: Record<string, unknown>;
  /** top-level fields some platforms' controllers add (OpenShift: a ServiceAccount's image pull secrets) */
  fields?: readonly string[];
  /** undefined: annotations are not compared; else the ones tolerated besides agentgate's own */
  annotations?: readonly string[];
  /** finalizers the kind's own controllers add (none, for every kind a share is made of) */
  finalizers?: readonly string[];
}

const TOLERANCE: Record<string, KindTolerance> = {
  // CRD defaults of kagent's v1alpha2 Agent (v0.9.0–v0.10.0-rc3) sit where agentgate sets the field (type,
  // declarative.runtime) or under objects it never makes (skills, context, extraContainers…): none applies.
  // Nor does kagent put a finalizer on an Agent (go/core/internal/controller at v0.9.0, v0.9.12, v0.10.0-rc3:
  // only AgentHarness and SandboxAgent get one; agents/finalizers is granted only for owner references).
  Agent: { annotations: [] },
  ServiceAccount: { fields: ["secrets", "imagePullSecrets"], annotations: ["openshift.io/internal-registry-pull-secret-ref"] },
  Role: {},
  // rbac/v1 SetDefaults_Subject: a ServiceAccount subject's apiGroup stays "" (and is then omitted).
  RoleBinding: { defaults: { "subjects[].apiGroup": "" } },
  // networking/v1 SetDefaults_NetworkPolicyPort and _Spec.
  NetworkPolicy: { defaults: { "spec.ingress[].ports[].protocol": "TCP", "spec.egress[].ports[].protocol": "TCP", "spec.policyTypes": ["Ingress", "Egress"] } },
  CiliumNetworkPolicy: {},
};

/**
 * The kinds the controller's client (@kubernetes/client-node) returns as its
 * generated model rather than as the API server's JSON: a member whose JSON
 * name is a reserved word carries a "_" (a NetworkPolicy rule's `from` is
 * `_from`), and every member of the model is there, undefined when absent.
 * No JSON name of these kinds starts with "_", so the prefix is dropped
 * back; undefined already counts as absent.
 */
const BUILT_IN = new Set(["ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"]);

function asJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asJson);
  if (!isMap(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.startsWith("_") && !(k.slice(1) in v) ? k.slice(1) : k, asJson(x)]));
}

/** Fields of an object that are not its content: who it is, and what its controllers report. */
const NOT_CONTENT = new Set(["apiVersion", "kind", "metadata", "status"]);
const DRIFT_LIMIT = 8;

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
/** What a serialiser writes for "nothing" (Go's omitempty drops it; a CRD keeps it): the same as absent. */
const isNothing = (v: unknown): boolean => v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isMap(v) && Object.keys(v).length === 0);

function deepEqual(a: unknown, b: unknown): boolean {
  if (isNothing(a) && isNothing(b)) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a)) return isMap(b) && [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => deepEqual(a[k], b[k]));
  return a === b;
}

/**
 * What makes an object the share's and lets it go with its PipelineRun:
 * agentgate's labels with their values (the keeper and the stop path find
 * the share's objects by them: isSharedAgent, ownedByShare), exactly the
 * owner references agentgate set (the PipelineRun as controlling owner: a
 * second owner keeps the object, and an Agent its Deployment, after the
 * PipelineRun is deleted), and no finalizer but the kind's controllers'
 * (one keeps a deleted Agent Terminating, its Deployment running, while the
 * delete that was to stop a task reports success). Other labels are
 * tolerated: nothing reads them (kagent labels its Deployment and pods from
 * spec.declarative.deployment.labels, which is compared, not from the
 * Agent's own).
 */
function metadataDrift(desired: ObjectMeta | undefined, applied: ObjectMeta | undefined, tolerance: KindTolerance, out: string[]): void {
  const theirs = applied?.labels ?? {};
  for (const [k, v] of Object.entries(desired?.labels ?? {})) if (theirs[k] !== v) out.push(`metadata.labels[${JSON.stringify(k)}]`);
  compare(desired?.ownerReferences, applied?.ownerReferences, "metadata.ownerReferences", "metadata.ownerReferences", {}, out);
  for (const f of applied?.finalizers ?? []) if (f !== FOREGROUND_DELETION && !(tolerance.finalizers ?? []).includes(f)) out.push(`metadata.finalizers[${JSON.stringify(f)}]`);
}

/**
 * The garbage collector's finalizer on an object deleted with foreground
 * propagation (as the keeper deletes a share's Agent): it holds the object
 * only until its dependents (kagent's Deployment) are gone, then the
 * collector removes it, so the delete takes effect. Not "orphan", which
 * lets the object go and leaves its Deployment running.
 */
const FOREGROUND_DELETION = "foregroundDeletion";

function compare(want: unknown, got: unknown, path: string, pattern: string, defaults: Record<string, unknown>, out: string[]): void {
  if (out.length >= DRIFT_LIMIT) return;
  if (isNothing(want) && isNothing(got)) return;
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      out.push(path);
      return;
    }
    want.forEach((w, i) => { compare(w, got[i], `${path}[${String(i)}]`, `${pattern}[]`, defaults, out); });
    return;
  }
  if (isMap(want)) {
    if (!isMap(got)) {
      out.push(path);
      return;
    }
    for (const [k, w] of Object.entries(want)) compare(w, got[k], `${path}.${k}`, `${pattern}.${k}`, defaults, out);
    for (const [k, g] of Object.entries(got)) {
      if (k in want || isNothing(g)) continue;
      const p = `${pattern}.${k}`;
      if (p in defaults && deepEqual(defaults[p], g)) continue;
      if (out.length < DRIFT_LIMIT) out.push(`${path}.${k}`);
    }
    return;
  }
  if (want !== got) out.push(path);
}

/**
 * Where an object as the API server returned it after agentgate's forced
 * apply differs from what agentgate built: a field agentgate set that does
 * not read back as set, or a field it did not set that someone else wrote
 * (a forced apply resets only agentgate's fields; an env, volume, skill or
 * pod label added by an editor survives it). Every field but apiVersion,
 * kind, metadata and status is compared; of metadata, agentgate's labels,
 * the owner references, the finalizers (metadataDrift), and the
 * annotations of the kinds whose consumers read them. Tolerated: what a serialiser writes for
 * nothing ([], {}, null, absent), defaults the API server writes where
 * agentgate leaves a field unset, and per kind what TOLERANCE lists. Empty
 * when the object is what agentgate made; at most DRIFT_LIMIT paths.
 */
export function driftFromDesired(desired: KubeObject, applied: KubeObject): string[] {
  const tolerance = TOLERANCE[desired.kind ?? ""] ?? {};
  const defaults = tolerance.defaults ?? {};
  const out: string[] = [];
  const want = desired as Record<string, unknown>;
  const got = (BUILT_IN.has(desired.kind ?? "") ? asJson(applied) : applied) as Record<string, unknown>;
  metadataDrift(desired.metadata, (got as KubeObject).metadata, tolerance, out);
  for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
    if (NOT_CONTENT.has(k)) continue;
    if (!(k in want) && tolerance.fields?.includes(k)) continue;
    if (!(k in want) && (isNothing(got[k]) || (k in defaults && deepEqual(defaults[k], got[k])))) continue;
    compare(want[k], got[k], k, k, defaults, out);
  }
  if (tolerance.annotations !== undefined) {
    const mine = desired.metadata?.annotations ?? {};
    const theirs = applied.metadata?.annotations ?? {};
    for (const [k, v] of Object.entries(mine)) if (theirs[k] !== v) out.push(`metadata.annotations[${JSON.stringify(k)}]`);
    for (const k of Object.keys(theirs)) if (!(k in mine) && !tolerance.annotations.includes(k)) out.push(`metadata.annotations[${JSON.stringify(k)}]`);
  }
  return out.slice(0, DRIFT_LIMIT);
}

/** The names of a share's scope objects (for deleting them when its PipelineRun ends). */
export function sharedScopeRefs(namespace: string, names: ShareNames): { apiVersion: string; kind: string; namespace: string; name: string }[] {
  const n = names.share;
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", namespace, name: runNames.roleBinding(n) },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", namespace, name: runNames.role(n) },
    { apiVersion: "v1", kind: "ServiceAccount", namespace, name: runNames.serviceAccount(n) },
  ];
}
