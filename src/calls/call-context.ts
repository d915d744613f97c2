// What one call through the run-time gateway works with: the run it speaks
// for, and the gateway's parts.
import type { ObjectLookup } from "../context/lookup.ts";
import type { Logger } from "../log.ts";
import type { ViolationsOutcome } from "../policy/engine.ts";
import type { PodCheck, TokenReviewFn } from "./caller.ts";
import type { UpstreamFetch } from "./egress.ts";
import type { Ledger, RunRef } from "./ledger.ts";
import type { ActingRun, RunRecords } from "./run-record.ts";

export type SecretReader = (namespace: string, name: string, key: string) => Promise<string | undefined>;

/** What judges a tool call: PolicyEngine.toolCall. */
export interface ToolCallJudge {
  toolCall(input: unknown): ViolationsOutcome;
}

export interface CallGatewayDeps {
  /** the bundles in force now (they swap while the gateway runs) */
  engine: () => ToolCallJudge;
  review: TokenReviewFn;
  /** whether an address is one of the run's own agent pods */
  pods: PodCheck;
  runs: RunRecords;
  ledger: Ledger;
  /** tool servers and ModelConfigs, as the webhook reads them */
  lookup: ObjectLookup;
  /** provider keys, read from the pinned ModelConfig's own Secret; a tool server's headersFrom Secrets */
  secret: SecretReader;
  /** a tool server's headersFrom ConfigMaps */
  configMap: SecretReader;
  /** to tool servers and providers, no further than the run's egress (egress.ts) */
  fetch: UpstreamFetch;
  log: Logger;
  now: () => number;
}

export interface CallContext {
  run: ActingRun;
  /** the run as its ledger knows it */
  ref: RunRef;
  deps: CallGatewayDeps;
  /** aborted when the caller goes away */
  signal: AbortSignal;
}

export function callContext(run: ActingRun, deps: CallGatewayDeps, signal: AbortSignal): CallContext {
  return { run, ref: { namespace: run.namespace, name: run.name, uid: run.uid, budget: run.guardrails.tokenBudget }, deps, signal };
}
