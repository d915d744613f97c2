// run-approval: who may set agent.tekton.dev/approved-by on a run. An
// approval means a second, authorised person: a member of an approver group
// the policy names (never a system: group), approving as themselves, who is
// not the run's creator and cannot act as the creator either (impersonate
// them, mint their token, run a pod as them), so nobody approves their own
// run through an identity they control.
import type { UserInfo } from "../types/admission.ts";
import { STAMP, type AgentRun } from "../types/agent.ts";
import type { Violation } from "../types/policy.ts";
import { parseGuardrails } from "./stamps.ts";

const FIELD = `metadata.annotations["${STAMP.approvedBy}"]`;
const deny = (message: string): Violation => ({ policy: "run-approval", field: FIELD, message, action: "deny" });

/** Groups that name everyone of a kind (system:authenticated, system:serviceaccounts…): never approvers. */
export const isSystemGroup = (g: string): boolean => g.startsWith("system:");

export interface ApprovalContext {
  /** the approver groups today's policy config names for the run's namespace */
  policyGroups: readonly string[];
  /** how the approver can act as the run's creator (SubjectAccessReviews), undefined when they cannot or it was not asked */
  actsAsCreator?: string | undefined;
}

/** Whether this update sets an approval (the only moment the approver checks apply). */
export function approvalGiven(run: AgentRun, old: AgentRun | null): boolean {
  const now = run.metadata?.annotations?.[STAMP.approvedBy];
  return old !== null && now !== undefined && old.metadata?.annotations?.[STAMP.approvedBy] === undefined;
}

/** The run's approver groups: the stamped ones that today's policy still names, without system: groups. */
export function effectiveApproverGroups(old: AgentRun, policyGroups: readonly string[]): string[] {
  const stamped = parseGuardrails(old.metadata?.annotations?.[STAMP.guardrails])?.approval.approverGroups ?? [];
  const allowed = new Set(policyGroups.filter((g) => !isSystemGroup(g)));
  return stamped.filter((g) => allowed.has(g));
}

export function checkApproval(run: AgentRun, old: AgentRun | null, user: UserInfo, ctx: ApprovalContext): Violation[] {
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
  // The stored run's creator: an update cannot rewrite who it was (stamp-integrity refuses that too).
  const creator = old.metadata?.annotations?.[STAMP.createdBy];
  if (creator !== undefined && creator === username) {
    out.push(deny(`${JSON.stringify(username)} created this run and cannot approve it; ask another member of the approver groups`));
  } else if (creator !== undefined && ctx.actsAsCreator !== undefined) {
    out.push(deny(`${JSON.stringify(username)} ${ctx.actsAsCreator}, and ${JSON.stringify(creator)} created this run, so approving it would be approving their own; ask a member of the approver groups who cannot act as ${JSON.stringify(creator)}`));
  }
  const groups = effectiveApproverGroups(old, ctx.policyGroups);
  const mine = new Set((user.groups ?? []).filter((g) => !isSystemGroup(g)));
  if (!groups.some((g) => mine.has(g))) {
    out.push(
      deny(
        groups.length === 0
          ? "this run has no approver groups that today's policy allows, so nobody can approve it; ask the platform team to name approver groups in the policy config (approval.approverGroups)"
          : `${JSON.stringify(username)} is not in an approver group of this run; allowed: ${groups.join(", ")}`,
      ),
    );
  }
  return out;
}
