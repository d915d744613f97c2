// One tool call judged (docs/run-time-gateway.md, "Tool calls"): the
// server must be one the run's decision names, the tool on its stamped
// allowlist, and no bundle's agent/tools/deny may object. A bundle that
// fails to answer refuses the call. Pure but for the judge it is handed
// (PolicyEngine.toolCall).
import type { Guardrails } from "../types/agent.ts";
import type { ToolCallJudge } from "./call-context.ts";
import type { TraceEntry } from "./ledger.ts";
import type { ActingRun } from "./run-record.ts";

export type StampedServer = Guardrails["tools"][number];

export type ToolVerdict = { allowed: true } | { allowed: false; reason: string };

/** How many earlier calls the policy input carries (the newest ones). */
export const CALLS_IN_INPUT = 100;

export function stampedServer(guardrails: Guardrails, server: string): StampedServer | undefined {
  return guardrails.tools.find((t) => t.server === server);
}

/** The input of agent/tools/deny (docs/policy-contract.md, "Tool calls"). */
export function toolCallInput(run: ActingRun, server: StampedServer, tool: string, args: unknown, calls: readonly TraceEntry[]): Record<string, unknown> {
  const tools = calls.filter((c) => c.kind === "tool").slice(-CALLS_IN_INPUT);
  return {
    run: { namespace: run.namespace, name: run.name, config: run.config, guardrails: run.guardrails, policyRevision: run.policyRevision },
    server: { name: server.server, kind: server.kind, allowedTools: server.allowedTools, requireApproval: server.requireApproval },
    tool,
    arguments: args ?? {},
    calls: tools.map((c) => ({ seq: c.seq, server: c.server ?? "", tool: c.tool ?? "", verdict: c.verdict, inputSha256: c.inputSha256 })),
  };
}

export function judgeToolCall(engine: ToolCallJudge, run: ActingRun, server: StampedServer, tool: string, args: unknown, calls: readonly TraceEntry[]): ToolVerdict {
  if (!server.allowedTools.includes(tool)) {
    const allowed = server.allowedTools.length > 0 ? server.allowedTools.join(", ") : "none";
    return { allowed: false, reason: `tool "${tool}" of ${server.server} is not in this run's allowlist (allowed: ${allowed}); it was not called` };
  }
  const outcome = engine.toolCall(toolCallInput(run, server, tool, args, calls));
  if (outcome.failures.length > 0) {
    const f = outcome.failures[0];
    return { allowed: false, reason: `policy could not judge this call (bundle "${f?.bundle ?? ""}" failed), so it was refused; tell the platform team` };
  }
  if (outcome.violations.length > 0) return { allowed: false, reason: `policy refused this call of "${tool}": ${outcome.violations.map((v) => v.message).join("; ")}` };
  return { allowed: true };
}
