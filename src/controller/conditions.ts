// The run's Succeeded condition (Tekton's convention) and phase.
import type { AgentRunStatus, RunPhase } from "../types/agent.ts";
import type { Condition } from "../types/kube.ts";

export type RunReason =
  | "PolicyDenied"
  | "WaitingForApproval"
  | "KagentNotInstalled"
  | "ConfigNotFound"
  | "PreHookFailed"
  | "PostHookFailed"
  | "TimedOut"
  | "Cancelled"
  | "BudgetExceeded"
  | "AgentFailed"
  | "Succeeded"
  | "Pending"
  | "Running"
  /** the run's namespace is exempt from admission: never acted on */
  | "NotAdmitted"
  /** no decision agentgate signed for this run */
  | "UnverifiedGuardrails"
  /** approved-by without agentgate's signature of it */
  | "UnverifiedApproval"
  /** a status phase the controller did not write */
  | "StatusTampered"
  /** an object of the run's scope exists and is not the run's */
  | "ScopeConflict"
  /** the API server refused an object of the run's scope (a Role above the controller's ceiling) */
  | "ScopeRefused"
  /** the ModelConfig or a tool server differs from what was approved */
  | "ConfigChanged"
  /** kagent refused the run's Agent (Accepted=False) */
  | "AgentRefused"
  /** a kagent agentgate does not drive */
  | "KagentUnsupported";

export function succeededCondition(status: "True" | "False" | "Unknown", reason: RunReason, message: string, previous?: Condition[]): Condition[] {
  const old = previous?.find((c) => c.type === "Succeeded");
  const changed = !old || old.status !== status || old.reason !== reason;
  return [
    ...(previous ?? []).filter((c) => c.type !== "Succeeded"),
    { type: "Succeeded", status, reason, message, lastTransitionTime: changed ? new Date().toISOString() : old.lastTransitionTime },
  ];
}

export function isTerminal(status: AgentRunStatus | undefined): boolean {
  return status?.phase === "Succeeded" || status?.phase === "Failed";
}

export function phaseFor(reason: RunReason): RunPhase {
  return reason === "Succeeded" ? "Succeeded" : "Failed";
}
