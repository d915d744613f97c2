// What a run's provenance is made of, as the controller gathers it, and the
// port the controller records it through. It lives here, not in the
// controller, so that provenance/ (which states the facts) depends on no
// controller code and the controller depends on provenance/, one way.
import type { TraceEntry } from "../calls/ledger.ts";
import type { AgentConfig, AgentRun, DsseEnvelope, Guardrails, Usage } from "../types/agent.ts";

/** The calls part of the run's provenance: the ledger's counts and trace, as the controller found them when the run ended. */
export interface CallsRecord {
  budget: number;
  used: number;
  calls: number;
  /** calls made but not kept in the trace (it keeps the first TRACE_LIMIT) */
  untraced: number;
  /** calls still in flight when the run's end stopped waiting for them: begun, not in the trace */
  unsettled?: { toolCalls: number; reservedTokens: number };
  trace: TraceEntry[];
}

/** What the provenance says of a routed run whose ledger could not be read: not "no calls". */
export interface CallsUnreadable {
  unreadable: string;
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

export interface ProvenanceRecord {
  envelope: DsseEnvelope;
  /** sha256:<hex of the decoded payload> */
  digest: string;
  signed: boolean;
}

/** How the controller has a run's provenance recorded, so the state machine does not depend on DSSE details. */
export interface ProvenanceRecorder {
  record(facts: ProvenanceFacts): Promise<ProvenanceRecord>;
}
