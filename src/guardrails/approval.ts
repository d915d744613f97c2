// run-approval: who may set agent.tekton.dev/approved-by on a run.
import type { UserInfo } from "../types/admission.ts";
import { STAMP, type AgentRun } from "../types/agent.ts";
import type { Violation } from "../types/policy.ts";
import { parseGuardrails } from "./stamps.ts";

const FIELD = `metadata.annotations["${STAMP.approvedBy}"]`;
const deny = (message: string): Violation => ({ policy: "run-approval", field: FIELD, message, action: "deny" });

export function checkApproval(run: AgentRun, old: AgentRun | null, user: UserInfo): Violation[] {
  const approver = run.metadata?.annotations?.[STAMP.approvedBy];
  const previous = old?.metadata?.annotations?.[STAMP.approvedBy];
  if (approver === previous) return [];
  const username = user.username ?? "";
  if (previous !== undefined) {
    return [deny(`was ${JSON.stringify(previous)} and cannot be changed or withdrawn; to stop the run set spec.status: Cancelled`)];
  }
  if (approver === undefined) return [];
  if (old === null) {
    return [deny(`a run cannot be created already approved; remove the annotation and ask a member of the approver groups to approve it with: kubectl annotate agentrun ${run.metadata?.name ?? "<name>"} ${STAMP.approvedBy}=<their user name>`)];
  }
  const out: Violation[] = [];
  if (approver !== username) {
    out.push(deny(`names ${JSON.stringify(approver)} but the request comes from ${JSON.stringify(username)}; an approver can only approve as themselves (${STAMP.approvedBy}=${username})`));
  }
  const creator = run.metadata?.annotations?.[STAMP.createdBy] ?? old.metadata?.annotations?.[STAMP.createdBy];
  if (creator !== undefined && creator === username) {
    out.push(deny(`${JSON.stringify(username)} created this run and cannot approve it; ask another member of the approver groups`));
  }
  const guardrails = parseGuardrails(old.metadata?.annotations?.[STAMP.guardrails]);
  const groups = guardrails?.approval.approverGroups ?? [];
  const mine = new Set(user.groups ?? []);
  if (!groups.some((g) => mine.has(g))) {
    out.push(
      deny(
        groups.length === 0
          ? "this run has no approver groups, so nobody can approve it through the API; set spec.approval.approverGroups on its AgentConfig"
          : `${JSON.stringify(username)} is not in an approver group of this run; allowed: ${groups.join(", ")}`,
      ),
    );
  }
  return out;
}
