import { test } from "node:test";
import assert from "node:assert/strict";
import { STAMP, type AgentRun, type Guardrails } from "../types/agent.ts";
import { approvalGiven, checkApproval } from "./approval.ts";

const guardrails: Guardrails = {
  tokenBudget: 1,
  timeout: "1m",
  maxIterations: 1,
  networkPolicy: "strict",
  egress: [],
  rbac: [],
  approval: { required: true, approverGroups: ["agent-approvers"] },
  tools: [],
};

function run(approvedBy?: string, over: { createdBy?: string | null; approverGroups?: string[] } = {}): AgentRun {
  const stamped: Guardrails = over.approverGroups ? { ...guardrails, approval: { required: true, approverGroups: over.approverGroups } } : guardrails;
  const annotations: Record<string, string> = { [STAMP.guardrails]: JSON.stringify(stamped) };
  if (over.createdBy !== null) annotations[STAMP.createdBy] = over.createdBy ?? "alice";
  if (approvedBy !== undefined) annotations[STAMP.approvedBy] = approvedBy;
  return { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r", annotations }, spec: {} };
}

const cases: { name: string; next: AgentRun; old: AgentRun | null; user: { username: string; groups?: string[] }; denied: RegExp | null }[] = [
  { name: "an approver in the group approves as themselves", next: run("bob"), old: run(), user: { username: "bob", groups: ["agent-approvers"] }, denied: null },
  { name: "unrelated updates pass", next: run(), old: run(), user: { username: "carol" }, denied: null },
  { name: "approving in someone else's name", next: run("bob"), old: run(), user: { username: "mallory", groups: ["agent-approvers"] }, denied: /names "bob" but the request comes from "mallory"/ },
  { name: "the creator approving their own run", next: run("alice"), old: run(), user: { username: "alice", groups: ["agent-approvers"] }, denied: /"alice" created this run and cannot approve it/ },
  { name: "a user outside the approver groups", next: run("dave"), old: run(), user: { username: "dave", groups: ["dev"] }, denied: /not in an approver group of this run; allowed: agent-approvers/ },
  { name: "creating a run already approved", next: run("bob"), old: null, user: { username: "alice", groups: ["agent-approvers"] }, denied: /cannot be created already approved/ },
  { name: "withdrawing an approval", next: run(), old: run("bob"), user: { username: "bob", groups: ["agent-approvers"] }, denied: /cannot be changed or withdrawn/ },
  { name: "replacing an approval, even by another approver", next: run("carol"), old: run("bob"), user: { username: "carol", groups: ["agent-approvers"] }, denied: /^was "bob" and cannot be changed or withdrawn/ },
  { name: "the creator approving while dropping the creator stamp in the same update", next: run("alice", { createdBy: null }), old: run(), user: { username: "alice", groups: ["agent-approvers"] }, denied: /"alice" created this run and cannot approve it/ },
  {
    name: "approver groups are read from the stored run, not from the update",
    next: run("dave", { approverGroups: ["dev"] }),
    old: run(),
    user: { username: "dave", groups: ["dev"] },
    denied: /"dave" is not in an approver group of this run; allowed: agent-approvers/,
  },
  { name: "a run stamped without approver groups", next: run("bob", { approverGroups: [] }), old: run(undefined, { approverGroups: [] }), user: { username: "bob", groups: ["agent-approvers"] }, denied: /this run has no approver groups that today's policy allows, so nobody can approve it; ask the platform team/ },
  { name: "a stamped group today's policy no longer names", next: run("erin", { approverGroups: ["old-leads"] }), old: run(undefined, { approverGroups: ["old-leads"] }), user: { username: "erin", groups: ["old-leads"] }, denied: /no approver groups that today's policy allows/ },
  { name: "a system: group is never an approver group, even stamped", next: run("mallory", { approverGroups: ["system:authenticated"] }), old: run(undefined, { approverGroups: ["system:authenticated", "agent-approvers"] }), user: { username: "mallory", groups: ["system:authenticated"] }, denied: /"mallory" is not in an approver group of this run; allowed: agent-approvers/ },
];

function withStamp(r: AgentRun, stamp: string): AgentRun {
  return { ...r, metadata: { ...r.metadata, annotations: { ...r.metadata?.annotations, [STAMP.guardrails]: stamp } } };
}
for (const stamp of ["{}", "[]"]) {
  cases.push({ name: `a stored run whose guardrails stamp is ${stamp} (a denial, not a crash)`, next: withStamp(run("bob"), stamp), old: withStamp(run(), stamp), user: { username: "bob", groups: ["agent-approvers"] }, denied: /this run has no approver groups/ });
}

for (const c of cases) {
  test(`run-approval: ${c.name}`, () => {
    const violations = checkApproval(c.next, c.old, c.user, { policyGroups: ["agent-approvers", "team-leads"] });
    if (c.denied === null) assert.deepEqual(violations, []);
    else {
      assert.ok(violations.length > 0, "expected a denial");
      assert.ok(violations.every((v) => v.policy === "run-approval" && v.action === "deny"));
      assert.match(violations.map((v) => v.message).join("\n"), c.denied);
    }
  });
}

test("run-approval: an approver who can act as the creator is refused, saying how", () => {
  const v = checkApproval(run("bob"), run(), { username: "bob", groups: ["agent-approvers"] }, { policyGroups: ["agent-approvers"], actsAsCreator: "can impersonate ServiceAccount qe/builder" });
  assert.deepEqual(v.map((x) => x.message), ['"bob" can impersonate ServiceAccount qe/builder, and "alice" created this run, so approving it would be approving their own; ask a member of the approver groups who cannot act as "alice"']);
});

test("approvalGiven: only the update that first sets approved-by", () => {
  assert.equal(approvalGiven(run("bob"), run()), true);
  assert.equal(approvalGiven(run("bob"), run("bob")), false);
  assert.equal(approvalGiven(run("bob"), null), false);
  assert.equal(approvalGiven(run(), run()), false);
});
