// agent-isolation: NetworkPolicies add up, so any policy that selects a
// run's agent pods and allows something widens what the run's own strict
// policy allows. Only agentgate's may. A policy that only denies (no rule
// in its directions) cannot widen anything and is left alone.
import { isRecord, type KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";

/**
 * The labels kagent puts on every pod of an Agent (its Deployment's selector
 * labels app/kagent, and app.kubernetes.io/*: kagent's
 * translator/agent/manifest_builder.go) and the run label agentgate asks for
 * (deployment.labels). Values marked as variable are the run's or agent's
 * name: `kagent` and `app.kubernetes.io/name` end in "-agent" for a run.
 */
const FIXED: Readonly<Record<string, string>> = { app: "kagent", "app.kubernetes.io/managed-by": "kagent", "app.kubernetes.io/part-of": "kagent" };
const VARIABLE: Readonly<Record<string, (v: string) => boolean>> = {
  kagent: (v) => v.endsWith("-agent"),
  "app.kubernetes.io/name": (v) => v.endsWith("-agent"),
  "agent.tekton.dev/run": (v) => v !== "",
};

interface Requirement {
  key: string;
  operator: string;
  values: string[];
}

/** Cilium writes a pod label's source before its key ("k8s:app", "any:app"). */
const labelKey = (key: string): string => key.replace(/^(k8s|any):/, "");

function requirements(selector: unknown): Requirement[] | undefined {
  if (selector === undefined || selector === null) return [];
  if (!isRecord(selector)) return undefined;
  const out: Requirement[] = [];
  if (isRecord(selector.matchLabels)) for (const [key, value] of Object.entries(selector.matchLabels)) out.push({ key: labelKey(key), operator: "In", values: [String(value)] });
  if (Array.isArray(selector.matchExpressions)) {
    for (const e of selector.matchExpressions as unknown[]) {
      if (!isRecord(e) || typeof e.key !== "string" || typeof e.operator !== "string") return undefined;
      out.push({ key: labelKey(e.key), operator: e.operator, values: Array.isArray(e.values) ? e.values.map(String) : [] });
    }
  }
  return out;
}

function satisfiable(r: Requirement): boolean {
  const fixed = FIXED[r.key];
  const variable = VARIABLE[r.key];
  const present = fixed !== undefined || variable !== undefined;
  switch (r.operator) {
    case "In":
      if (fixed !== undefined) return r.values.includes(fixed);
      return variable !== undefined && r.values.some(variable);
    case "NotIn":
      // a variable value can always be chosen outside the list
      return fixed === undefined || !r.values.includes(fixed);
    case "Exists":
      return present;
    case "DoesNotExist":
      return !present;
    default:
      // an operator the API server would refuse: assume the worst
      return true;
  }
}

/** Whether a pod selector can match the pods of some run's agent (a selector it cannot read counts as yes). */
export function canSelectAgentPods(selector: unknown): boolean {
  const reqs = requirements(selector);
  return reqs === undefined || reqs.every(satisfiable);
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
  const widening = ruleSets(policy).find((r) => allowsSomething(r.spec) && canSelectAgentPods(r.selector));
  if (!widening) return [];
  const exclude = policy.kind === "CiliumNetworkPolicy" ? "add {key: k8s:agent.tekton.dev/run, operator: DoesNotExist} to its matchExpressions" : "add {key: agent.tekton.dev/run, operator: DoesNotExist} to spec.podSelector.matchExpressions";
  return [
    {
      policy: "agent-isolation",
      field: widening.field,
      message: `this ${policy.kind ?? "NetworkPolicy"} can select the pods of AgentRuns' agents (labels app: kagent, agent.tekton.dev/run: <run>), and network policies add up, so its rules would widen what an agent may reach beyond its run's own policy; exclude them: ${exclude} (or remove the ingress/egress rules: a policy that only denies is allowed)`,
      action: "deny",
    },
  ];
}
