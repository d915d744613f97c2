// What the run-time gateway's ledger says of a run, as the controller reads
// it (docs/run-time-gateway.md, "What the run keeps"): the run's usage as the
// provider counted it, whether its budget is spent, and the trace its
// provenance carries. Pure.
import type { LedgerState } from "../calls/ledger.ts";
import type { AgentRun, Usage } from "../types/agent.ts";
import type { CallsRecord } from "../provenance/facts.ts";
import { isTerminal } from "./conditions.ts";

/** The run's usage as agentgate counted it: exact, where kagent's usage metadata may be late, partial or absent. */
export function usageOfLedger(state: LedgerState): Usage {
  return { promptTokens: state.prompt ?? 0, completionTokens: state.completion ?? 0, totalTokens: state.used, toolCalls: state.toolCalls ?? 0 };
}

/** Why the run must stop, with the exact count, once its budget is spent; undefined while some is left or it has none. */
export function budgetSpent(state: LedgerState): string | undefined {
  // A budget of 0 or less is spent, never unlimited (run-guards.ts).
  if (state.used < state.budget) return undefined;
  return `the run's model calls used ${String(state.used)} tokens through agentgate's run-time gateway (counted from the provider's answers) against its token budget of ${String(state.budget)}`;
}

export function callsRecord(state: LedgerState): CallsRecord {
  const inFlight = state.inFlight ?? 0;
  return {
    budget: state.budget,
    used: state.used,
    calls: state.calls,
    untraced: Math.max(0, state.calls - state.trace.length),
    ...(inFlight > 0 || state.reserved > 0 ? { unsettled: { toolCalls: inFlight, reservedTokens: state.reserved } } : {}),
    trace: state.trace,
  };
}

/** An Event on the run for one traced call, for `kubectl describe` and `agentgate logs`. */
export interface CallEvent {
  type: "Normal" | "Warning";
  reason: "ToolCall" | "ToolCallDenied" | "ToolCallFailed" | "ModelCall" | "ModelCallDenied" | "ModelCallFailed";
  message: string;
}

const VERDICT_REASON = { allowed: "", denied: "Denied", failed: "Failed" } as const;

export function callEvent(entry: LedgerState["trace"][number], state: Pick<LedgerState, "used" | "budget">): CallEvent {
  const suffix = VERDICT_REASON[entry.verdict];
  const why = entry.reason !== undefined ? `: ${entry.reason}` : "";
  const took = `${String(entry.ms)} ms`;
  if (entry.kind === "tool") {
    return { type: suffix === "" ? "Normal" : "Warning", reason: `ToolCall${suffix}`, message: `#${String(entry.seq)} tool ${entry.tool ?? "?"} on ${entry.server ?? "?"} ${entry.verdict}${why} (${took})` };
  }
  const tokens = entry.tokens ? `${String(entry.tokens.total)} tokens (${String(entry.tokens.prompt)} prompt, ${String(entry.tokens.completion)} completion)` : "no tokens";
  const budget = state.budget > 0 ? `; ${String(state.used)} of ${String(state.budget)} used` : `; ${String(state.used)} used`;
  return { type: suffix === "" ? "Normal" : "Warning", reason: `ModelCall${suffix}`, message: `#${String(entry.seq)} model ${entry.model ?? "?"} ${entry.verdict}${why}: ${tokens}${budget} (${took})` };
}

/** A ledger whose run the controller does not know is left this long before it is swept (the run may be that new). */
export const LEDGER_ORPHAN_MS = 60_000;

/**
 * Whether a ledger outlives its run and is swept: a call that landed as the
 * run ended, a controller stopped before cleaning up. Its run ended, or is
 * another run of the same name, or is gone (once the ledger is older than a
 * run the controller may not have seen yet).
 */
export function ledgerOutlivesRun(state: LedgerState, run: AgentRun | undefined, createdAt: number, now: number): boolean {
  if (run) return run.metadata?.uid !== state.run.uid || isTerminal(run.status);
  return now - createdAt > LEDGER_ORPHAN_MS;
}
