// What the run reconciler is built with: its clients, ports and settings.
// Apart from reconcile-run.ts so the files that carry out its Steps can take
// them without importing the reconciler itself.
import type { LedgerStore } from "../calls/ledger.ts";
import type { Logger } from "../log.ts";
import type { ProvenanceRecorder } from "../provenance/facts.ts";
import type { Keyring } from "../signing/keyring.ts";
import type { Guardrails } from "../types/agent.ts";
import type { AgentDriver } from "./driver.ts";
import type { KagentRuntime } from "./kagent-agent.ts";
import type { KagentSupport } from "./kagent-version.ts";
import type { Kube } from "./kube.ts";
import type { ScopeEnvironment } from "./scope.ts";

export interface RunReconcilerOptions {
  kube: Kube;
  driver: AgentDriver;
  provenance: ProvenanceRecorder;
  log: Logger;
  /** the API server's endpoints and the Services a strict NetworkPolicy names, read when the scope is made */
  scopeEnvironment: (guardrails: Guardrails) => Promise<ScopeEnvironment>;
  /** asks for another reconcile of a run (the actor finished) */
  requeue: (key: string) => void;
  /** how long to wait for kagent to report an Agent Ready */
  agentReadyTimeoutMs?: number;
  /** how often a running agent's ModelConfig and tool servers are compared with its snapshot (default 15 s) */
  changeCheckMs?: number;
  /** verifies the decisions and approvals the gateway signed */
  keyring: Keyring;
  /** namespaces agentgate's webhooks never see: their runs are never acted on */
  exemptNamespaces: ReadonlySet<string>;
  /** the runtime the run's Agent asks kagent for (default go, which honours tasks/cancel) */
  kagentRuntime?: KagentRuntime;
  /** what the cluster's kagent is, as discovery showed it; undefined when not known */
  kagentSupport?: () => KagentSupport | undefined;
  /** how often the PipelineRuns of shared kagent Agents are looked at for their end (default 5 s) */
  shareSweepMs?: number;
  /** runs' model and tool calls go through agentgate's run-time gateway (--calls-url) */
  calls?: RunCalls;
}

export interface RunCalls {
  /** the gateway's URL as the agents' pods reach it */
  baseUrl: string;
  /** the ledgers the gateway keeps: usage, budget and trace of each run; opened, closed and removed by the controller */
  ledgers: Pick<LedgerStore, "open" | "update" | "read" | "remove">;
}
