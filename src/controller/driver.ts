// What the run reconciler needs from the agent runtime and from provenance,
// so the state machine does not depend on A2A or DSSE details.
import type { AgentConfig, AgentRun, DsseEnvelope, Guardrails, Usage } from "../types/agent.ts";
import type { CallsRecord, CallsUnreadable } from "./run-ledger.ts";

export type ActingReason = "Succeeded" | "BudgetExceeded" | "TimedOut" | "Cancelled" | "AgentFailed";

export interface ActingOutcome {
  reason: ActingReason;
  message: string;
  usage: Usage;
  results: { name: string; value: string }[];
  iterations: number;
  taskId?: string;
  /**
   * kagent's answer when it refused tasks/cancel and the task still ran
   * (its Python runtime refuses every cancel): the agent is only stopped by
   * deleting its Agent, and `message` says so.
   */
  cancelRefused?: string;
}

export interface ActParams {
  run: AgentRun;
  agent: { namespace: string; name: string };
  goal: string;
  hints: string[];
  /** the goal message's A2A messageId, recorded in status.goal (kagent does not deduplicate by it) */
  messageId: string;
  /** set when a previous controller already sent the goal: resume, never resend */
  taskId?: string;
  budgetTokens: number;
  maxIterations: number;
  /** epoch ms */
  deadline: number;
  /** controller shutdown: stop following and reject, leaving the task running for the next leader */
  signal: AbortSignal;
  /** why the controller stops the agent (spec.status: Cancelled, the config deleted), or false */
  isCancelled: () => string | false;
  /** awaited before the goal is sent; a rejection means it is not sent */
  beforeSend: () => Promise<void>;
  /** awaited as soon as kagent names the task, before anything else happens */
  onTaskId: (taskId: string) => Promise<void>;
  onProgress: (line: string, usage: Usage, iterations: number) => void;
  /** the agent waits for a human in kagent (a tool call to approve, a question) */
  onPause: (message: string) => void;
  onResume: () => void;
}

export interface AgentDriver {
  act(params: ActParams): Promise<ActingOutcome>;
  /** cancels a task nobody follows any more (its run ended while no controller followed it) */
  cancel(agent: { namespace: string; name: string }, taskId: string): Promise<void>;
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
  /**
   * What ran the agent: the runtime its Agent asked kagent for, and the
   * images of the Deployment kagent made for it (kagent reports neither in
   * the Agent's status); images empty when the Deployment could not be read.
   */
  agentRuntime?: { runtime: string; images: string[] };
  /** bundle name → "sha256:<hex>", from the run's signed decision (the policy-digests stamp) */
  policyDigests?: Record<string, string>;
  startedOn: string;
  finishedOn: string;
  outcome: string;
  /** the run's calls through agentgate's run-time gateway, from its ledger; absent when calls do not go through it */
  calls?: CallsRecord | CallsUnreadable;
}

export interface ProvenanceRecorder {
  record(facts: ProvenanceFacts): Promise<ProvenanceRecord>;
}
