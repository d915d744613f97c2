// What the controller checks before it acts on a run (docs/trust-chain.md,
// "The controller"), as pure functions: a run is acted on only with a
// decision agentgate signed for it, an approval agentgate signed when one is
// required, and limits that are not "unlimited". Its clock starts at times
// nobody but the API server and the gateway wrote (the run's creation, the
// signed approval), never at status.startTime; and status it did not write
// (a phase that skips the approval or the pre-hooks) fails the run instead
// of being followed.
import type { ApprovalCheck } from "../guardrails/approval-stamp.ts";
import type { DecisionCheck } from "../guardrails/decision.ts";
import { parseExtendedDurationNs } from "../duration.ts";
import { STAMP, type AgentRun, type Guardrails, type RunPhase, type Snapshot } from "../types/agent.ts";
import type { RunReason } from "./conditions.ts";

export interface TrustFacts {
  run: AgentRun;
  /** the run's namespace is one agentgate's webhooks never see */
  exempt: boolean;
  decision: DecisionCheck;
  approval: ApprovalCheck;
  /** epoch ms */
  now: number;
}

export interface Trusted {
  ok: true;
  guardrails: Guardrails;
  snapshot: Snapshot;
  createdBy: string;
  timeoutMs: number;
  /** when the run's time starts (epoch ms): its creation, or its signed approval; undefined while it waits for one */
  startAt: number | undefined;
  approvedBy: string | undefined;
}

export interface Refused {
  ok: false;
  reason: RunReason;
  message: string;
}

/** A timeout as the policy read it (OPA's time.parse_duration_ns: Go units plus d, w, y); undefined when it reads none or not > 0. */
export function timeoutMs(timeout: string): number | undefined {
  try {
    const ms = Number(parseExtendedDurationNs(timeout) / 1_000_000n);
    return ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
}

export function trustRun(f: TrustFacts): Trusted | Refused {
  const ns = f.run.metadata?.namespace ?? "";
  if (f.exempt) return { ok: false, reason: "NotAdmitted", message: `namespace "${ns}" is exempt from agentgate's admission, so its runs are never acted on; run agents in a namespace agentgate guards` };
  if (!f.decision.ok) return { ok: false, reason: "UnverifiedGuardrails", message: `${f.decision.why}; nothing was created for this run. Create it again with agentgate's webhooks in place` };
  const { guardrails, snapshot, createdBy } = f.decision.decision;
  // Limits of 0 or less mean spent, never unlimited.
  if (!(guardrails.tokenBudget >= 1)) return { ok: false, reason: "BudgetExceeded", message: `the run's token budget is ${String(guardrails.tokenBudget)}: spent before it starts` };
  if (!(guardrails.maxIterations >= 1)) return { ok: false, reason: "BudgetExceeded", message: `the run's iteration bound is ${String(guardrails.maxIterations)}: spent before it starts` };
  const ms = timeoutMs(guardrails.timeout);
  if (ms === undefined) return { ok: false, reason: "TimedOut", message: `the run's timeout ${JSON.stringify(guardrails.timeout)} is not a duration greater than zero: no time to run` };
  const created = Date.parse(f.run.metadata?.creationTimestamp ?? "");
  const createdAt = Number.isNaN(created) ? f.now : created;
  if (!guardrails.approval.required) return { ok: true, guardrails, snapshot, createdBy, timeoutMs: ms, startAt: createdAt, approvedBy: undefined };
  // The gateway never signs an approval by the run's creator; one that says so was not given through it.
  if (f.approval.approved && f.approval.approvedBy === createdBy) return { ok: false, reason: "UnverifiedApproval", message: `the run's approval names its creator ${JSON.stringify(createdBy)}, and nobody approves their own run; create the run again and have another member of the approver groups approve it` };
  if (f.approval.approved) return { ok: true, guardrails, snapshot, createdBy, timeoutMs: ms, startAt: Math.max(createdAt, f.approval.approvedAt), approvedBy: f.approval.approvedBy };
  if (f.run.metadata?.annotations?.[STAMP.approvedBy] !== undefined) return { ok: false, reason: "UnverifiedApproval", message: `the run's approval is not one agentgate admitted: ${f.approval.why}; create the run again and have it approved with agentgate's webhooks in place` };
  return { ok: true, guardrails, snapshot, createdBy, timeoutMs: ms, startAt: undefined, approvedBy: undefined };
}

export type HookOutcome = "succeeded" | "running" | "failed" | "absent";

/**
 * Whether the phase the run's status claims could have been written by the
 * controller: Acting and PostHooks come only after the approval and every
 * pre-hook, and PostHooks only after the agent ran (a task id); agentRef
 * (the Agent the run acts through, the claim on a shared one) is written
 * only once Acting, so one in an earlier phase was forged. Undefined when it
 * could; otherwise why not.
 */
export function checkClaimedPhase(phase: RunPhase | undefined, trusted: Trusted, preHooks: readonly HookOutcome[], taskId: string | undefined, agentRef?: string): Refused | undefined {
  const tampered = (what: string): Refused => ({ ok: false, reason: "StatusTampered", message: `status.phase is ${phase ?? "(none)"} but ${what}: the run's status was written by someone other than agentgate's controller (only possible while its webhook was off), so the run is not followed` });
  if (agentRef !== undefined && (phase === undefined || phase === "Pending" || phase === "WaitingForApproval" || phase === "PreHooks")) return tampered(`status.agentRef names Agent ${agentRef}, which the controller records only once the run acts`);
  if (phase !== "Acting" && phase !== "PostHooks" && phase !== "PreHooks") return undefined;
  if (trusted.guardrails.approval.required && trusted.approvedBy === undefined) return tampered("the run was never approved");
  if (phase === "PreHooks") return undefined;
  const pending = preHooks.findIndex((h) => h !== "succeeded");
  if (pending >= 0) return tampered(`pre-hook ${String(pending)} has ${preHooks[pending] === "absent" ? "not run" : preHooks[pending] === "failed" ? "failed" : "not finished"}`);
  if (phase === "PostHooks" && taskId === undefined) return tampered("the agent never ran (no kagent task)");
  return undefined;
}

/** When the run must end (epoch ms); undefined while its time has not started. */
export function deadlineOf(trusted: Trusted): number | undefined {
  return trusted.startAt === undefined ? undefined : trusted.startAt + trusted.timeoutMs;
}
