// The controller's checks as tables: the signed decision (missing, forged,
// valid), the approval (none, forged, signed), limits that would mean
// "unlimited", the clock's start, and a status phase written by someone else.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ApprovalCheck } from "../guardrails/approval-stamp.ts";
import type { DecisionCheck } from "../guardrails/decision.ts";
import { STAMP, type AgentRun, type Guardrails } from "../types/agent.ts";
import { checkClaimedPhase, deadlineOf, timeoutMs, trustRun, type HookOutcome, type Trusted } from "./run-guards.ts";

const CREATED = "2026-12-07T10:00:00Z";
const created = Date.parse(CREATED);
const guardrails = (over: Partial<Guardrails> = {}): Guardrails => ({ tokenBudget: 1000, timeout: "10m", maxIterations: 3, networkPolicy: "strict", egress: [], rbac: [], approval: { required: false, approverGroups: ["leads"] }, tools: [], ...over });
const valid = (g: Guardrails = guardrails()): DecisionCheck => ({ ok: true, decision: { guardrails: g, snapshot: { config: { name: "c", spec: {} }, modelConfig: null, toolServers: {} }, createdBy: "alice", policyRevision: "default@1", policyDigests: {}, signedAt: created, kid: "k" } });
const run = (annotations: Record<string, string> = {}): AgentRun => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r", namespace: "qe", creationTimestamp: CREATED, annotations }, spec: {} });
const none: ApprovalCheck = { approved: false, why: "not approved yet" };
const approvedAt = created + 3_600_000;
const signed: ApprovalCheck = { approved: true, approvedBy: "bob", approvedAt };

const cases: { name: string; run?: AgentRun; exempt?: boolean; decision: DecisionCheck; approval?: ApprovalCheck; want: { reason: string; message: RegExp } | { startAt: number | undefined; approvedBy?: string } }[] = [
  { name: "a signed decision, no approval needed: the clock starts at creation", decision: valid(), want: { startAt: created } },
  { name: "stamp missing", decision: { ok: false, why: "the run carries no agent.tekton.dev/decision stamp" }, want: { reason: "UnverifiedGuardrails", message: /carries no agent\.tekton\.dev\/decision stamp; nothing was created for this run/ } },
  { name: "stamp forged", decision: { ok: false, why: "its agent.tekton.dev/decision stamp does not verify: the signature does not match" }, want: { reason: "UnverifiedGuardrails", message: /does not verify/ } },
  { name: "an exempt namespace, whatever it carries", exempt: true, decision: valid(), want: { reason: "NotAdmitted", message: /namespace "qe" is exempt from agentgate's admission, so its runs are never acted on/ } },
  { name: "a token budget of 0 is spent, not unlimited", decision: valid(guardrails({ tokenBudget: 0 })), want: { reason: "BudgetExceeded", message: /token budget is 0: spent before it starts/ } },
  { name: "a negative iteration bound is spent", decision: valid(guardrails({ maxIterations: -1 })), want: { reason: "BudgetExceeded", message: /iteration bound is -1/ } },
  { name: "a 0s timeout leaves no time", decision: valid(guardrails({ timeout: "0s" })), want: { reason: "TimedOut", message: /"0s" is not a duration greater than zero/ } },
  { name: "an unreadable timeout leaves no time (it is not 15 minutes)", decision: valid(guardrails({ timeout: "forever" })), want: { reason: "TimedOut", message: /"forever"/ } },
  { name: "approval needed, none yet: waiting, no clock", decision: valid(guardrails({ approval: { required: true, approverGroups: ["leads"] } })), want: { startAt: undefined } },
  { name: "approval needed and signed: the clock starts at the signed approval", decision: valid(guardrails({ approval: { required: true, approverGroups: ["leads"] } })), approval: signed, want: { startAt: approvedAt, approvedBy: "bob" } },
  {
    name: "approved-by written without agentgate's signature",
    run: run({ [STAMP.approvedBy]: "bob" }),
    decision: valid(guardrails({ approval: { required: true, approverGroups: ["leads"] } })),
    approval: { approved: false, why: "approved-by is set but carries no agent.tekton.dev/approval signature" },
    want: { reason: "UnverifiedApproval", message: /the run's approval is not one agentgate admitted: approved-by is set but carries no/ },
  },
  {
    name: "an approval that names the run's creator is never one the gateway gave",
    decision: valid(guardrails({ approval: { required: true, approverGroups: ["leads"] } })),
    approval: { approved: true, approvedBy: "alice", approvedAt },
    want: { reason: "UnverifiedApproval", message: /names its creator "alice", and nobody approves their own run/ },
  },
  {
    name: "status.startTime is never the clock: a run stamped 2099 still starts at creation",
    run: { ...run(), status: { phase: "Acting", startTime: "2099-01-01T00:00:00Z" } },
    decision: valid(),
    want: { startAt: created },
  },
];

for (const c of cases) {
  test(`trustRun: ${c.name}`, () => {
    const got = trustRun({ run: c.run ?? run(), exempt: c.exempt ?? false, decision: c.decision, approval: c.approval ?? none, now: created + 1000 });
    if ("reason" in c.want) {
      assert.equal(got.ok, false);
      if (!got.ok) {
        assert.equal(got.reason, c.want.reason);
        assert.match(got.message, c.want.message);
      }
    } else {
      assert.equal(got.ok, true, got.ok ? "" : got.message);
      if (got.ok) {
        assert.equal(got.startAt, c.want.startAt);
        assert.equal(got.approvedBy, c.want.approvedBy);
      }
    }
  });
}

const trusted = (required: boolean, approvedBy?: string): Trusted => ({ ok: true, guardrails: guardrails({ approval: { required, approverGroups: ["leads"] } }), snapshot: { config: { name: "c", spec: {} }, modelConfig: null, toolServers: {} }, createdBy: "alice", timeoutMs: 600_000, startAt: created, approvedBy });

const phases: { name: string; phase: Parameters<typeof checkClaimedPhase>[0]; trusted: Trusted; pre: HookOutcome[]; taskId?: string; agentRef?: string; tampered: RegExp | null }[] = [
  { name: "Acting with approval and every pre-hook done", phase: "Acting", trusted: trusted(true, "bob"), pre: ["succeeded"], tampered: null },
  { name: "Acting without the approval it needs", phase: "Acting", trusted: trusted(true), pre: [], tampered: /status\.phase is Acting but the run was never approved/ },
  { name: "Acting with a pre-hook that never ran", phase: "Acting", trusted: trusted(false), pre: ["succeeded", "absent"], tampered: /pre-hook 1 has not run/ },
  { name: "Acting with a pre-hook that failed", phase: "Acting", trusted: trusted(false), pre: ["failed"], tampered: /pre-hook 0 has failed/ },
  { name: "PreHooks without the approval it needs", phase: "PreHooks", trusted: trusted(true), pre: [], tampered: /never approved/ },
  { name: "PostHooks with no kagent task", phase: "PostHooks", trusted: trusted(false), pre: [], tampered: /the agent never ran/ },
  { name: "PostHooks after the agent ran", phase: "PostHooks", trusted: trusted(false), pre: [], taskId: "t1", tampered: null },
  { name: "Pending is never a claim", phase: "Pending", trusted: trusted(true), pre: ["absent"], tampered: null },
  // agentRef is written only once Acting: in an earlier phase it is a forged claim on (a colleague's) shared Agent.
  { name: "WaitingForApproval naming an Agent", phase: "WaitingForApproval", trusted: trusted(true), pre: [], agentRef: "share-0123-agent", tampered: /status\.phase is WaitingForApproval but status\.agentRef names Agent share-0123-agent, which the controller records only once the run acts/ },
  { name: "Pending naming an Agent", phase: "Pending", trusted: trusted(false), pre: [], agentRef: "share-0123-agent", tampered: /agentRef names Agent share-0123-agent/ },
  { name: "PreHooks naming an Agent, approved", phase: "PreHooks", trusted: trusted(true, "bob"), pre: [], agentRef: "share-0123-agent", tampered: /agentRef names Agent/ },
  { name: "Acting naming its Agent", phase: "Acting", trusted: trusted(false), pre: [], agentRef: "share-0123-agent", tampered: null },
  { name: "PostHooks naming its Agent", phase: "PostHooks", trusted: trusted(false), pre: [], taskId: "t1", agentRef: "share-0123-agent", tampered: null },
];
for (const c of phases) {
  test(`checkClaimedPhase: ${c.name}`, () => {
    const got = checkClaimedPhase(c.phase, c.trusted, c.pre, c.taskId, c.agentRef);
    if (c.tampered === null) assert.equal(got, undefined);
    else {
      assert.equal(got?.reason, "StatusTampered");
      assert.match(got?.message ?? "", c.tampered);
    }
  });
}

test("timeoutMs reads OPA's units and refuses what is not > 0; deadlineOf counts from the trusted start", () => {
  assert.equal(timeoutMs("1d"), 86_400_000);
  assert.equal(timeoutMs("-1m"), undefined);
  assert.equal(deadlineOf(trusted(false)), created + 600_000);
  assert.equal(deadlineOf({ ...trusted(true), startAt: undefined }), undefined);
});
