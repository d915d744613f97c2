// agent-isolation: NetworkPolicies add up, so any policy that selects a
// run's agent pods and allows something widens what the run's own strict
// policy allows. Only agentgate's may. A policy that only denies (no rule
// in its directions) cannot widen anything and is left alone.
import { RUN_SERVICE_ACCOUNT_PREFIX } from "../types/agent.ts";
import { isRecord, type KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";

/**
 * What an agent pod may hold under one label key: whether it may lack the
 * key, and the value it has when present (one known value, or any of the
 * infinitely many a test accepts: every test here must accept values
 * outside any finite list, which "some value no requirement names" relies on).
 */
interface LabelModel {
  absent: boolean;
  present: { value: string } | { test: (v: string) => boolean };
}

const carries = (value: string): LabelModel => ({ absent: false, present: { value } });
const carriesSome = (test: (v: string) => boolean): LabelModel => ({ absent: false, present: { test } });

/**
 * A key agentgate cannot vouch for: the agent pod may carry it with any
 * value or lack it. Every key not modelled below is read this way, so a
 * selector can only exclude agent pods through a label they certainly carry.
 */
const UNKNOWN: LabelModel = { absent: true, present: { test: () => true } };

/**
 * The labels kagent puts on every pod of an Agent (its Deployment's selector
 * labels app/kagent, and app.kubernetes.io/*: kagent's
 * translator/agent/manifest_builder.go) and the run label agentgate asks for
 * (deployment.labels, which may not reach them). `kagent` and `app.kubernetes.io/name` are the
 * Agent's name, which ends in "-agent" for a run.
 */
const POD_LABELS: Readonly<Record<string, LabelModel>> = {
  app: carries("kagent"),
  "app.kubernetes.io/managed-by": carries("kagent"),
  "app.kubernetes.io/part-of": carries("kagent"),
  kagent: carriesSome((v) => v.endsWith("-agent")),
  "app.kubernetes.io/name": carriesSome((v) => v.endsWith("-agent")),
  // Asked of kagent through deployment.labels, which agentgate does not rely
  // on reaching the pods (scope.ts selects on kagent's own labels): it may be absent.
  "agent.tekton.dev/run": { absent: true, present: { test: (v) => v !== "" } },
  // The ReplicaSet's hash is on the pod, but Cilium leaves it out of
  // identities by default (labelsfilter: !pod-template-hash): present to one
  // enforcer, absent to another, so it excludes nothing.
  "pod-template-hash": UNKNOWN,
};

const CILIUM_NAMESPACE_LABELS = "io.cilium.k8s.namespace.labels.";

/**
 * The labels Cilium adds to every pod's identity (k8s.SanitizePodLabels;
 * pod labels under these keys are dropped, so a pod cannot forge them).
 * Only Cilium has them, so only a CiliumNetworkPolicy is judged with them:
 * to another CNI enforcing a NetworkPolicy they are ordinary pod labels.
 */
function ciliumLabel(key: string, namespace: string | undefined): LabelModel | undefined {
  // A CiliumNetworkPolicy only selects pods of its own namespace.
  const ns = namespace !== undefined && namespace !== "" ? carries(namespace) : carriesSome(() => true);
  if (key === "io.kubernetes.pod.namespace" || key === `${CILIUM_NAMESPACE_LABELS}kubernetes.io/metadata.name`) return ns;
  if (key === "io.cilium.k8s.policy.serviceaccount") return carriesSome((v) => v.startsWith(RUN_SERVICE_ACCOUNT_PREFIX) && v.length > RUN_SERVICE_ACCOUNT_PREFIX.length);
  // The cluster's name, and the namespace's other labels (its owner's to change).
  if (key === "io.cilium.k8s.policy.cluster" || key.startsWith(CILIUM_NAMESPACE_LABELS)) return UNKNOWN;
  return undefined;
}

/** Which policy a selector is read for: Cilium's labels and key syntax apply to a CiliumNetworkPolicy only. */
export interface SelectorContext {
  kind: "NetworkPolicy" | "CiliumNetworkPolicy";
  namespace?: string | undefined;
}

function agentLabel(key: string, on: SelectorContext): LabelModel {
  return (Object.hasOwn(POD_LABELS, key) ? POD_LABELS[key] : undefined) ?? (on.kind === "CiliumNetworkPolicy" ? ciliumLabel(key, on.namespace) : undefined) ?? UNKNOWN;
}

/**
 * Cilium writes a label's source before its key ("k8s:app"; "$host" is
 * "reserved:host"). No source, `any:` and `k8s:` all reach a pod's
 * Kubernetes labels; any other source is kept in the key, so it is
 * modelled as unknown.
 */
function ciliumKey(key: string): string {
  if (key.startsWith("$")) return `reserved:${key.slice(1)}`;
  const colon = key.indexOf(":");
  if (colon < 0) return key;
  const source = key.slice(0, colon);
  return source === "k8s" || source === "any" ? key.slice(colon + 1) : key;
}

interface Requirement {
  key: string;
  operator: string;
  values: string[];
}

function requirements(selector: unknown, on: SelectorContext): Requirement[] | undefined {
  if (selector === undefined || selector === null) return [];
  if (!isRecord(selector)) return undefined;
  const keyOf = on.kind === "CiliumNetworkPolicy" ? ciliumKey : (k: string) => k;
  const out: Requirement[] = [];
  if (isRecord(selector.matchLabels)) for (const [key, value] of Object.entries(selector.matchLabels)) out.push({ key: keyOf(key), operator: "In", values: [String(value)] });
  if (Array.isArray(selector.matchExpressions)) {
    for (const e of selector.matchExpressions as unknown[]) {
      if (!isRecord(e) || typeof e.key !== "string" || typeof e.operator !== "string") return undefined;
      out.push({ key: keyOf(e.key), operator: e.operator, values: Array.isArray(e.values) ? e.values.map(String) : [] });
    }
  }
  return out;
}

/**
 * Whether one assignment of the key (absent, or a value the model allows)
 * meets every requirement on it at once. Linear in the selector's size: a
 * value meets them all only if it is in every In list and in no NotIn list,
 * so the candidates are the smallest In list's values (or, with no In, any
 * value no list names).
 */
function satisfiable(model: LabelModel, reqs: Requirement[]): boolean {
  const ins: Set<string>[] = [];
  const notIn = new Set<string>();
  let exists = false;
  let doesNotExist = false;
  for (const r of reqs) {
    if (r.operator === "In") ins.push(new Set(r.values));
    else if (r.operator === "NotIn") for (const v of r.values) notIn.add(v);
    else if (r.operator === "Exists") exists = true;
    else if (r.operator === "DoesNotExist") doesNotExist = true;
    // an operator the API server would refuse: assume the worst (it holds)
  }
  // NotIn and DoesNotExist also match a pod without the key.
  if (model.absent && ins.length === 0 && !exists) return true;
  if (doesNotExist) return false;
  const meets = (v: string) => ins.every((s) => s.has(v)) && !notIn.has(v);
  const { present } = model;
  if ("value" in present) return meets(present.value);
  // Label values are unbounded: with no In list, some allowed value is named by no NotIn list.
  if (ins.length === 0) return true;
  const smallest = ins.reduce((a, b) => (b.size < a.size ? b : a));
  for (const v of smallest) if (present.test(v) && meets(v)) return true;
  return false;
}

/**
 * Whether a pod selector can match the pods of some run's agent: whether
 * some labelling of an agent pod that agentgate cannot rule out meets it
 * (a selector it cannot read counts as yes).
 */
export function canSelectAgentPods(selector: unknown, on: SelectorContext = { kind: "NetworkPolicy" }): boolean {
  const reqs = requirements(selector, on);
  if (reqs === undefined) return true;
  const byKey = new Map<string, Requirement[]>();
  for (const r of reqs) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  return [...byKey].every(([key, rs]) => satisfiable(agentLabel(key, on), rs));
}

/** Allow rules only: a deny rule (Cilium's ingressDeny/egressDeny) narrows, never widens. */
function allowsSomething(spec: Record<string, unknown>): boolean {
  const nonEmpty = (v: unknown) => Array.isArray(v) && v.length > 0;
  return nonEmpty(spec.ingress) || nonEmpty(spec.egress);
}

/** The rule sets of a policy with what they select: a NetworkPolicy's podSelector, a CiliumNetworkPolicy's endpointSelector (in spec and in each of specs). */
function ruleSets(policy: KubeObject): { selector: unknown; spec: Record<string, unknown>; field: string }[] {
  if (policy.kind === "CiliumNetworkPolicy") {
    const out: { selector: unknown; spec: Record<string, unknown>; field: string }[] = [];
    if (isRecord(policy.spec)) out.push({ selector: policy.spec.endpointSelector, spec: policy.spec, field: "spec.endpointSelector" });
    const specs: unknown = policy.specs;
    if (Array.isArray(specs)) specs.forEach((s: unknown, i) => { if (isRecord(s)) out.push({ selector: s.endpointSelector, spec: s, field: `specs[${String(i)}].endpointSelector` }); });
    return out;
  }
  return isRecord(policy.spec) ? [{ selector: policy.spec.podSelector, spec: policy.spec, field: "spec.podSelector" }] : [];
}

export function checkAgentIsolation(policy: KubeObject | null | undefined): Violation[] {
  if (!policy) return [];
  const on: SelectorContext = { kind: policy.kind === "CiliumNetworkPolicy" ? "CiliumNetworkPolicy" : "NetworkPolicy", namespace: policy.metadata?.namespace };
  const widening = ruleSets(policy).find((r) => allowsSomething(r.spec) && canSelectAgentPods(r.selector, on));
  if (!widening) return [];
  const exclude = policy.kind === "CiliumNetworkPolicy" ? "add {key: k8s:kagent, operator: DoesNotExist} to its matchExpressions" : "add {key: kagent, operator: DoesNotExist} to spec.podSelector.matchExpressions";
  return [
    {
      policy: "agent-isolation",
      field: widening.field,
      message: `this ${policy.kind ?? "NetworkPolicy"} can select the pods of AgentRuns' agents (labels app: kagent, kagent: <run>-agent; a label agentgate cannot vouch for counts as one they may carry with any value, or lack), and network policies add up, so its rules would widen what an agent may reach beyond its run's own policy; exclude them: ${exclude} (or remove the ingress/egress rules: a policy that only denies is allowed)`,
      action: "deny",
    },
  ];
}
