// The policy contract (docs/policy-contract.md): what bundles receive and return.
import type { AdmissionRequest } from "./admission.ts";
import type { KubeObject } from "./kube.ts";

export type Action = "deny" | "warn" | "dryrun";

export interface Violation {
  policy: string;
  field: string;
  message: string;
  action: Action;
}

export interface NamespaceContext {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PolicyContext {
  namespace: NamespaceContext | null;
  agentConfig: KubeObject | null;
  modelConfig: KubeObject | null;
  /** "<namespace>/<name>" → the referenced server, or null when it does not exist */
  toolServers: Record<string, KubeObject | null>;
}

export interface PolicyInput {
  request: AdmissionRequest;
  context: PolicyContext;
}

/** The proposal's Gate 1 input (agent/goals/allow, agent/goals/deny). */
export interface GoalInput {
  /** everything the agent is sent as its task: the goal, then each hint (guardrails/agent-message.ts) */
  goal: string;
  /** spec.goal alone */
  spec_goal: string;
  hints: string[];
  namespace: string;
  requested_tools: string[];
  require_approval: boolean;
  config: unknown;
}
