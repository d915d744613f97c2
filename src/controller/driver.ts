// What the run reconciler needs from the agent runtime and from provenance,
// so the state machine does not depend on A2A or DSSE details.
import type { AgentConfig, AgentRun, DsseEnvelope, Guardrails, Usage } from "../types/agent.ts";

export type ActingReason = "Succeeded" | "BudgetExceeded" | "TimedOut" | "Cancelled" | "AgentFailed";

export interface ActingOutcome {
  reason: ActingReason;
  message: string;
  usage: Usage;
  results: { name: string; value: string }[];
  iterations: number;
  taskId?: string;
}

export interface ActParams {
  run: AgentRun;
  agent: { namespace: string; name: string };
  goal: string;
  hints: string[];
  /** deterministic per run attempt: a resend after a restart is recognised */
  messageId: string;
  /** set when a previous controller already sent the goal: resume, never resend */
  taskId?: string;
  budgetTokens: number;
  maxIterations: number;
  /** epoch ms */
  deadline: number;
  isCancelled: () => boolean;
  onTaskId: (taskId: string) => void;
  onProgress: (line: string, usage: Usage, iterations: number) => void;
}

export interface AgentDriver {
  act(params: ActParams): Promise<ActingOutcome>;
}

export interface ProvenanceRecord {
  envelope: DsseEnvelope;
  /** sha256:<hex of the decoded payload> */
  digest: string;
  signed: boolean;
}

export interface ProvenanceFacts {
  run: AgentRun;
  config: AgentConfig;
  guardrails: Guardrails;
  agent: { namespace: string; name: string; spec: unknown } | null;
  modelConfig: { namespace: string; name: string; spec: unknown } | null;
  toolServers: { namespace: string; name: string; kind: string; spec: unknown }[];
  usage: Usage;
  results: { name: string; value: string }[];
  policyRevision: string;
  startedOn: string;
  finishedOn: string;
  outcome: string;
}

export interface ProvenanceRecorder {
  record(facts: ProvenanceFacts): Promise<ProvenanceRecord>;
}
