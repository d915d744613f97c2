// The signed approval of a run (docs/trust-chain.md): when an approver sets
// agent.tekton.dev/approved-by and the gateway admits it, the gateway signs
// who approved which decision of which run (its uid: an approval cannot be
// carried to another run, even one of the same name) and when. The
// controller acts on that signature, not on the annotation, and counts the
// run's timeout from the signed time.
import { canonicalJson, sha256 } from "../signing/canonical.ts";
import { signDetached, verifyDetached, type KeyResolver } from "../signing/detached.ts";
import type { SigningKey } from "../signing/keys.ts";
import { STAMP, type AgentRun } from "../types/agent.ts";

export const APPROVAL_TYP = "agentgate-approval+jws";

export function approvalPayload(run: AgentRun): string {
  const meta = run.metadata ?? {};
  const a = meta.annotations ?? {};
  return canonicalJson({
    v: 1,
    kind: "AgentRunApproval",
    namespace: meta.namespace ?? "",
    name: meta.name ?? "",
    uid: meta.uid ?? "",
    approvedBy: a[STAMP.approvedBy] ?? null,
    decision: sha256(a[STAMP.decision] ?? ""),
  });
}

export function signApproval(run: AgentRun, key: SigningKey, now = Date.now()): Promise<string> {
  return signDetached(approvalPayload(run), key, APPROVAL_TYP, now);
}

export type ApprovalCheck = { approved: true; approvedBy: string; approvedAt: number } | { approved: false; why: string };

/** Whether the run carries an approval the gateway signed for it; `why` says what is missing or wrong. */
export async function verifyApproval(run: AgentRun, resolve: KeyResolver): Promise<ApprovalCheck> {
  const a = run.metadata?.annotations ?? {};
  const approvedBy = a[STAMP.approvedBy];
  if (approvedBy === undefined) return { approved: false, why: "not approved yet" };
  const token = a[STAMP.approval];
  if (token === undefined) return { approved: false, why: `${STAMP.approvedBy} is set but carries no ${STAMP.approval} signature, so agentgate did not admit that approval` };
  try {
    const header = await verifyDetached(token, approvalPayload(run), APPROVAL_TYP, resolve);
    return { approved: true, approvedBy, approvedAt: header.iat * 1000 };
  } catch (err) {
    return { approved: false, why: `its ${STAMP.approval} signature does not verify: ${err instanceof Error ? err.message : String(err)}` };
  }
}
