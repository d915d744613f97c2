// The AgentRun's own admission beyond its policy (docs/trust-chain.md): the
// stamps the mutating webhook writes and signs (creator, policy revision,
// guardrails, snapshot, decision; the approval when one is given), and what
// the validating webhook checks of them, of the run's references under
// today's bundles, and of who approves.
import type { AccessReviewer } from "../context/access-review.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import { agentMessageText } from "../guardrails/agent-message.ts";
import { checkApproval, approvalGiven } from "../guardrails/approval.ts";
import { signApproval, verifyApproval } from "../guardrails/approval-stamp.ts";
import { controllingOwner, verifyCreator } from "../guardrails/creator.ts";
import { MAX_SIGNING_SKEW_MS, signDecision, verifyDecision } from "../guardrails/decision.ts";
import { computeGuardrails } from "../guardrails/effective.ts";
import type { Identity } from "../guardrails/identity.ts";
import { checkDecisionOnCreate, checkNoStamps, checkRunImmutable, checkRunOwners, checkStampsOnUpdate } from "../guardrails/integrity.ts";
import { effectiveConfig } from "../guardrails/profile.ts";
import { buildSnapshot, serializeSnapshot } from "../guardrails/snapshot.ts";
import { computeStamps, serializeGuardrails } from "../guardrails/stamps.ts";
import type { PolicyEngine } from "../policy/engine.ts";
import { whyNoSigningKey, type Keyring } from "../signing/keyring.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP, type AgentConfig, type AgentRun } from "../types/agent.ts";
import { isRecord } from "../types/kube.ts";
import type { GoalInput, PolicyContext, Violation } from "../types/policy.ts";

export interface RunDeps {
  lookup: ObjectLookup;
  identity: Identity;
  keyring: Keyring;
  access?: AccessReviewer | undefined;
  now: () => number;
}

const denial = (policy: string, field: string, message: string): Violation => ({ policy, field, message, action: "deny" });

/**
 * Who created the run. The API server names who sent the request; for a
 * run agentgate's controller made from a Tekton CustomRun, the creator is
 * the CustomRun's signed creator (who made it, or who made the PipelineRun
 * Tekton made it for).
 */
export async function runCreator(request: AdmissionRequest, run: AgentRun, deps: RunDeps): Promise<{ createdBy: string } | { refused: Violation }> {
  const user = request.userInfo.username ?? "";
  const owner = controllingOwner(run, "CustomRun");
  if (!deps.identity.trusted.has(user) || !owner) return { createdBy: user };
  const customRun = await deps.lookup.get("CustomRun", request.namespace ?? "", owner.name);
  const refuse = (why: string) => ({ refused: denial("run-creator", "metadata.ownerReferences", `${why}; agentgate cannot tell who asked for this run, so it is not admitted: re-run the pipeline with agentgate's webhook installed`) });
  if (!customRun || customRun.metadata?.uid !== owner.uid) return refuse(`CustomRun ${JSON.stringify(owner.name)} that owns this run does not exist`);
  const check = await verifyCreator(customRun, "CustomRun", deps.keyring.resolve);
  return check.ok ? { createdBy: check.createdBy } : refuse(check.why);
}

function guardrailsOf(request: AdmissionRequest, run: AgentRun, context: PolicyContext, engine: PolicyEngine) {
  const config = context.agentConfig as AgentConfig | null;
  if (!config) return undefined;
  // The namespace's profile applies to the stamped fallbacks as it does to the Rego rules.
  const guardrails = computeGuardrails(run, config, context, effectiveConfig(engine.policyConfig, context.namespace));
  return { config, guardrails };
}

/** The annotations and label to add to a run being created, signed; undefined when its AgentConfig does not exist. */
export async function runStamps(request: AdmissionRequest, run: AgentRun, context: PolicyContext, engine: PolicyEngine, deps: RunDeps): Promise<{ annotations: Record<string, string>; labels: Record<string, string> } | { refused: Violation } | undefined> {
  const found = guardrailsOf(request, run, context, engine);
  if (!found) return undefined;
  const creator = await runCreator(request, run, deps);
  if ("refused" in creator) return creator;
  const key = deps.keyring.signingKey();
  if (!key) return { refused: denial("stamp-integrity", "metadata.annotations", `agentgate cannot sign decisions now (${whyNoSigningKey(deps.keyring)}); retry once it can`) };
  const snapshot = serializeSnapshot(buildSnapshot(found.config, context, found.guardrails));
  const stamps = computeStamps(creator.createdBy, engine.revision, run.spec?.configRef?.name ?? "", found.guardrails, snapshot, engine.digests);
  const metadata = { ...(run.metadata ?? {}), namespace: run.metadata?.namespace ?? request.namespace ?? "" };
  const annotations = { ...(metadata.annotations ?? {}), ...stamps.annotations };
  const stamped: AgentRun = { ...run, metadata: { ...metadata, annotations } };
  // The API server may call the webhook again on the stamped run: a decision
  // already signed for exactly these stamps is kept, so the second pass
  // changes nothing.
  const existing = await verifyDecision(stamped, deps.keyring.resolve);
  if (!existing.ok || Math.abs(deps.now() - existing.decision.signedAt) > MAX_SIGNING_SKEW_MS) annotations[STAMP.decision] = await signDecision(stamped, key, deps.now());
  return { annotations, labels: { ...(metadata.labels ?? {}), ...stamps.labels } };
}

/**
 * Who approves, as today's policy and the API server see it: the approver
 * is the caller, in an approver group of the run, and neither its creator nor
 * able to act as its creator. Both passes use it; the mutating pass signs an
 * approval only when it finds nothing.
 */
async function approvalFindings(request: AdmissionRequest, run: AgentRun, old: AgentRun, engine: PolicyEngine, context: PolicyContext, deps: RunDeps): Promise<Violation[]> {
  const approval = effectiveConfig(engine.policyConfig, context.namespace).approval;
  const policyGroups = isRecord(approval) && Array.isArray(approval.approverGroups) ? approval.approverGroups.filter((g): g is string => typeof g === "string") : [];
  // The cheap checks first: someone who is not an approver, or approves as
  // someone else, is refused without a single SubjectAccessReview.
  const plain = checkApproval(run, old, request.userInfo, { policyGroups });
  if (plain.some((v) => v.action === "deny")) return plain;
  const creator = old.metadata?.annotations?.[STAMP.createdBy];
  if (!approvalGiven(run, old) || creator === undefined || creator === (request.userInfo.username ?? "") || !deps.access) return plain;
  const actsAsCreator = await deps.access.actsAs(request.userInfo, creator);
  return checkApproval(run, old, request.userInfo, { policyGroups, actsAsCreator });
}

/**
 * The approval signature to add when this update gives the run its
 * approval, signed only for an approver the gateway has checked (anyone who
 * can reach /mutate could otherwise sign their own); undefined when the
 * update approves nothing.
 */
export async function approvalStamp(request: AdmissionRequest, run: AgentRun, old: AgentRun, engine: PolicyEngine, context: PolicyContext, deps: RunDeps): Promise<{ signature: string } | { refused: Violation[] } | undefined> {
  if (!approvalGiven(run, old)) return undefined;
  const findings = await approvalFindings(request, run, old, engine, context, deps);
  if (findings.some((v) => v.action === "deny")) return { refused: findings };
  const key = deps.keyring.signingKey();
  if (!key) return { refused: [denial("stamp-integrity", `metadata.annotations["${STAMP.approval}"]`, `agentgate cannot sign approvals now (${whyNoSigningKey(deps.keyring)}); approve again once it can`)] };
  // The uid is the stored run's: an approval signed for it verifies on no other run.
  const stored: AgentRun = { ...run, metadata: { ...(run.metadata ?? {}), uid: old.metadata?.uid ?? run.metadata?.uid ?? "", annotations: { ...(run.metadata?.annotations ?? {}) } } };
  const existing = await verifyApproval(stored, deps.keyring.resolve);
  const given = run.metadata?.annotations?.[STAMP.approval];
  if (existing.approved && given !== undefined && Math.abs(deps.now() - existing.approvedAt) <= MAX_SIGNING_SKEW_MS) return { signature: given };
  return { signature: await signApproval(stored, key, deps.now()) };
}

export function goalInput(run: AgentRun, context: PolicyContext, namespace: string): GoalInput {
  const config = context.agentConfig as AgentConfig | null;
  const spec = config?.spec;
  const tools = new Set<string>();
  const gated = new Set<string>();
  for (const server of Array.isArray(spec?.toolServers) ? spec.toolServers : []) {
    // A config is read as it is stored: an entry that is not an object (review admits `toolServers: [null]`) names no tools.
    if (!isRecord(server)) continue;
    for (const tool of Array.isArray(server.allowedTools) ? server.allowedTools : []) if (typeof tool === "string") tools.add(tool);
    for (const tool of Array.isArray(server.requireApproval) ? server.requireApproval : []) if (typeof tool === "string") gated.add(tool);
  }
  const goal = typeof run.spec?.goal === "string" ? run.spec.goal : "";
  const hints = Array.isArray(run.spec?.context?.hints) ? run.spec.context.hints.filter((h): h is string => typeof h === "string") : [];
  return {
    goal: agentMessageText(goal, hints),
    namespace,
    requested_tools: [...tools].sort(),
    require_approval: [...gated].sort(),
    config: config?.metadata?.name ?? run.spec?.configRef?.name ?? "",
    spec_goal: goal,
    hints,
    system_prompt: typeof spec?.systemPrompt === "string" ? spec.systemPrompt : "",
    approval_required: spec?.approval?.required === true,
    config_spec: spec ?? null,
  };
}

/**
 * stamp-integrity: the guardrails and snapshot signed by the mutating pass
 * are the ones this pass computes from the context it just judged. The two
 * passes read the cluster apart; a config changed between them (or a second
 * replica's cache) must not give a run judged on one config and signed with
 * another.
 */
function checkStampsJudged(request: AdmissionRequest, run: AgentRun, context: PolicyContext, engine: PolicyEngine): Violation[] {
  const found = guardrailsOf(request, run, context, engine);
  if (!found) return [];
  const annotations = run.metadata?.annotations ?? {};
  const changed = (key: string) => denial("stamp-integrity", `metadata.annotations["${key}"]`, `does not match the AgentConfig ${JSON.stringify(found.config.metadata?.name ?? "")} and the objects it references as they are now: they changed while the run was being admitted; create the run again`);
  const out: Violation[] = [];
  if (annotations[STAMP.guardrails] !== serializeGuardrails(found.guardrails)) out.push(changed(STAMP.guardrails));
  if (annotations[STAMP.snapshot] !== serializeSnapshot(buildSnapshot(found.config, context, found.guardrails))) out.push(changed(STAMP.snapshot));
  return out;
}

/** The gateway's own checks of a run being created. */
export async function validateRunCreate(request: AdmissionRequest, run: AgentRun, context: PolicyContext, engine: PolicyEngine, deps: RunDeps): Promise<Violation[]> {
  if (!context.agentConfig) return checkNoStamps(run);
  const creator = await runCreator(request, run, deps);
  if ("refused" in creator) return [creator.refused];
  const out = await checkDecisionOnCreate(run, creator.createdBy, deps.keyring.resolve, deps.now());
  // Only a run whose stamps are genuine is compared; otherwise the finding above says why.
  if (out.length === 0) out.push(...checkStampsJudged(request, run, context, engine));
  return out;
}

/** The gateway's own checks of an update of a run: frozen stamps and spec, and who approves. */
export async function validateRunUpdate(request: AdmissionRequest, run: AgentRun, old: AgentRun, engine: PolicyEngine, context: PolicyContext, deps: RunDeps): Promise<Violation[]> {
  return [...(await checkStampsOnUpdate(run, old, deps.keyring.resolve, deps.now())), ...checkRunImmutable(run, old), ...checkRunOwners(request, deps.identity), ...(await approvalFindings(request, run, old, engine, context, deps))];
}
