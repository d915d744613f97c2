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

function requirements(selector: unknown): Requirement[] | undefined {
  if (selector === undefined || selector === null) return [];
  if (!isRecord(selector)) return undefined;
  const out: Requirement[] = [];
  if (isRecord(selector.matchLabels)) for (const [key, value] of Object.entries(selector.matchLabels)) out.push({ key, operator: "In", values: [String(value)] });
  if (Array.isArray(selector.matchExpressions)) {
    for (const e of selector.matchExpressions as unknown[]) {
      if (!isRecord(e) || typeof e.key !== "string" || typeof e.operator !== "string") return undefined;
      out.push({ key: e.key, operator: e.operator, values: Array.isArray(e.values) ? e.values.map(String) : [] });
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

function allowsSomething(spec: Record<string, unknown>): boolean {
  const nonEmpty = (v: unknown) => Array.isArray(v) && v.length > 0;
  return nonEmpty(spec.ingress) || nonEmpty(spec.egress);
}

export function checkAgentIsolation(policy: KubeObject | null | undefined): Violation[] {
  const spec: unknown = policy?.spec;
  if (!isRecord(spec) || !allowsSomething(spec) || !canSelectAgentPods(spec.podSelector)) return [];
  return [
    {
      policy: "agent-isolation",
      field: "spec.podSelector",
      message:
        "this NetworkPolicy can select the pods of AgentRuns' agents (labels app: kagent, agent.tekton.dev/run: <run>), and NetworkPolicies add up, so its rules would widen what an agent may reach beyond its run's own policy; " +
        'exclude them: add {key: agent.tekton.dev/run, operator: DoesNotExist} to spec.podSelector.matchExpressions (or remove the ingress/egress rules: a policy that only denies is allowed)',
      action: "deny",
    },
  ];
}
