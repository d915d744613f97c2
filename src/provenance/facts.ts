// What a run's provenance is made of, as the controller gathers it, and the
// port the controller records it through. It lives here, not in the
// controller, so that provenance/ (which states the facts) depends on no
// controller code and the controller depends on provenance/, one way.
import type { TraceEntry } from "../calls/ledger.ts";
import type { AgentConfig, AgentRun, DsseEnvelope, Guardrails, Usage } from "../types/agent.ts";
import type { Verification } from "./envelope.ts";

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

/**
 * A run of the same shared A2A context that ended before this run's goal
 * was sent: what formed the model's input besides the goal. Every field is
 * from the run's own provenance (status.provenance), whose signature this
 * controller's key verifies and whose statement names that run's uid, this
 * context and this share; nothing is from its status, which anyone who can
 * write AgentRun status while the webhooks are off can forge.
 */
export interface PreviousStep {
  name: string;
  uid: string;
  /** the kagent task its goal ran as, as its provenance says (externalParameters.context.taskId); null when it says none */
  taskId: string | null;
  /** its provenance's runDetails.metadata.finishedOn */
  finishedOn: string;
  /** the digest of its provenance's payload, as verified (what its provenance-digest result should be) */
  provenance: { sha256: string };
}

/**
 * A run whose status says it was a step of the context that ended before
 * this run's goal, whose own provenance does not prove it (none, unsigned,
 * not this controller's key, or another run's, context's or share's):
 * named for a human to look at, never among the steps. Its name and uid are
 * as its object has them; why, what failed.
 */
export interface UnverifiedStep {
  name: string;
  uid: string;
  why: string;
}

/** How many earlier steps a shared run's provenance lists: the most recent ones (the rest are counted). */
export const PREVIOUS_STEPS_LIMIT = 32;
/** How many unverified runs it names (the rest are counted): they are kept apart, so they never push a step out of the list. */
export const UNVERIFIED_STEPS_LIMIT = 8;

/** The A2A context a run's goal was sent in when it acted through an Agent shared within its PipelineRun. */
export interface SharedContext {
  /** the contextId (agentgate-<share key[:40]>) */
  id: string;
  /** the share (share-<share key[:20]>): with id, a prefix of the share key, which covers what the Agent and its scope are made from */
  share: string;
  /** the PipelineRun the shared Agent is owned by; null when the Agent could not be read */
  pipelineRun: { name: string; uid: string } | null;
  /** the kagent task this run's goal ran as in the context (status.taskId as the controller wrote it); null when none was named. A later step's provenance takes its own taskId from here */
  taskId: string | null;
  /** the runs whose goals were sent in the context before this run's, as their verified provenance says, oldest first, at most PREVIOUS_STEPS_LIMIT; null when they could not be listed */
  previous: PreviousStep[] | null;
  /** verified runs before those listed; or, with previous null, why they could not be listed */
  earlier: number | { unreadable: string };
  /** runs whose status says they were earlier steps but whose provenance does not prove it, at most UNVERIFIED_STEPS_LIMIT, and how many more; null when the runs could not be listed */
  unverified: { runs: UnverifiedStep[]; more: number } | null;
}

export interface ProvenanceFacts {
  run: AgentRun;
  config: AgentConfig;
  guardrails: Guardrails;
  /** the Agent the run acted through, as read when the run ended; null when none (see agentUnproven) */
  agent: { namespace: string; name: string; spec: unknown } | null;
  /** the run's status names a shared Agent whose spec cannot be recorded: not proven to be its PipelineRun's share, or gone */
  agentUnproven?: { namespace: string; name: string; why: string };
  /** the shared A2A context the run's goal was sent in; absent for a run on an Agent (and a context) of its own */
  context?: SharedContext;
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
  /**
   * Whether an envelope is signed by the key this controller records
   * provenance with, and its statement when it is. Absent, or a recorder
   * without a key: nothing verifies (unsigned provenance proves nothing).
   */
  verify?(envelope: DsseEnvelope): Verification;
}
