// The policy contract (docs/policy-contract.md): what bundles receive and return.
import type { AdmissionRequest } from "./admission.ts";
import type { KubeObject } from "./kube.ts";

export type Action = "deny" | "warn" | "dryrun";

export interface Violation {
  policy: string;
  field: string;
  message: string;
  action: Action;
  /**
   * The same request will be refused again whatever happens meanwhile. A
   * denial made only of final violations is answered 400 rather than 403,
   * so a controller that makes the object (Tekton making a CustomRun) fails
   * its run at once instead of retrying until it times out; 403 stays for
   * what may pass later (a cache that lags, a key not yet published).
   */
  final?: true;
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

/**
 * The TEP's Gate 1 input (agent/goals/allow, agent/goals/deny): its five
 * fields as TEP-0164 builds them (goal, namespace, requested_tools,
 * require_approval, config), and what agentgate adds under names of its own
 * (docs/policy-contract.md, "The goal input").
 */
export interface GoalInput {
  /** everything the agent is sent as its task: the goal, then each hint (guardrails/agent-message.ts) */
  goal: string;
  namespace: string;
  /** the tools the config allows, sorted, once each */
  requested_tools: string[];
  /** the tools the config makes wait for a human's approval, sorted, once each */
  require_approval: string[];
  /** the AgentConfig's name */
  config: string;
  /** spec.goal alone */
  spec_goal: string;
  hints: string[];
  /** the system prompt the agent is given with the goal: no text reaches the agent unseen by the goal policy */
  system_prompt: string;
  /** the config's approval.required: a human approves the run before it starts */
  approval_required: boolean;
  /** the AgentConfig's spec */
  config_spec: unknown;
}

/** A bundle that could not answer; the gateway fails closed on it. */
export interface BundleFailure {
  bundle: string;
  revision: string;
  error: string;
}
