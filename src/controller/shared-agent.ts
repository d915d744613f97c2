// Agents reused within a PipelineRun (TEP R2/R3), the pure half: whether a
// run belongs to a PipelineRun (proven from what the editor cannot write),
// the key runs must share to share one kagent Agent and one A2A context,
// and which Agent a run gets. shared-agent-keeper.ts reads the cluster and
// carries the choice out; docs/kagent.md ("Agents shared within a
// PipelineRun") says what this promises and what it does not.
//
// Why each input: labels and owner references on an AgentRun are claims
// (an editor can write them on a run they create while the webhooks are
// off, and on anything without agentgate's label); the signed decision's
// creator, the creator stamps the gateway signed on the CustomRun and the
// PipelineRun, and the live objects' uids are not. Sharing is keyed on the
// PipelineRun's uid, never its name, so a PipelineRun deleted and created
// again under the same name starts with a new context.
import { canonicalJson, sha256 } from "../signing/canonical.ts";
import type { CreatorCheck } from "../guardrails/creator.ts";
import { isTerminal } from "./conditions.ts";
import type { AgentRun, Guardrails, Snapshot } from "../types/agent.ts";
import { customRunOfAgentRun, type CustomRun, type PipelineRun } from "../types/tekton.ts";
import type { ObjectMeta } from "../types/kube.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../types/agent.ts";

/** On every object made for a shared Agent: which share it belongs to (with agentgate's label and the PipelineRun as controlling owner). */
export const SHARE_LABEL = "agent.tekton.dev/share";

export interface PipelineRunRef {
  name: string;
  uid: string;
}

/** What the keeper read to judge a run's membership; null for an object that is not there. */
export interface MembershipFacts {
  run: AgentRun;
  /** the creator the run's verified decision names */
  createdBy: string;
  /** the CustomRun the run names as its controlling owner, read by that name */
  customRun: CustomRun | null;
  customRunCreator: CreatorCheck | undefined;
  /** the PipelineRun that CustomRun names as its controlling owner, read by that name */
  pipelineRun: PipelineRun | null;
  pipelineRunCreator: CreatorCheck | undefined;
}

export type Membership =
  | { member: true; pipelineRun: PipelineRunRef }
  /** standalone: the run claims no PipelineRun at all, so not sharing needs no word */
  | { member: false; standalone: boolean; why: string };

const controllingOwner = (meta: ObjectMeta | undefined, kind: string) => meta?.ownerReferences?.find((o) => o.kind === kind && o.controller === true);

/** The CustomRun a run claims to have been made for: a claim, proven by pipelineMembership. */
export function claimedCustomRun(run: AgentRun): PipelineRunRef | undefined {
  const owner = controllingOwner(run.metadata, "CustomRun");
  return owner && owner.apiVersion.startsWith("tekton.dev/") ? { name: owner.name, uid: owner.uid } : undefined;
}

/** The PipelineRun a CustomRun claims to belong to. */
export function claimedPipelineRun(cr: CustomRun | null): PipelineRunRef | undefined {
  const owner = controllingOwner(cr?.metadata, "PipelineRun");
  return owner && owner.apiVersion.startsWith("tekton.dev/") ? { name: owner.name, uid: owner.uid } : undefined;
}

/**
 * Whether the run is a step of a PipelineRun: made by agentgate's
 * controller for a CustomRun (its one owner, of its own name) that is
 * really there under that uid, an AgentRun CustomRun Tekton made for a
 * PipelineRun that is really there under the uid the CustomRun names; and
 * the creator the gateway signed on the run, the CustomRun and the
 * PipelineRun is one person. A run an editor made with owner references to
 * a colleague's CustomRun names the editor as its creator, so it does not
 * join, whatever its owners say.
 *
 * Equal creator strings do not show that Tekton made the CustomRun: when a
 * ServiceAccount of the namespace created the PipelineRun (a Triggers
 * EventListener, a CronJob), an editor impersonating it makes a CustomRun
 * under that PipelineRun with the same creator. What shows it is the
 * stamp's inheritance: the gateway signs the PipelineRun's uid into the
 * creator of a CustomRun only when Tekton's controller creates it, and
 * verification rebuilds that uid from the CustomRun's controlling owner as
 * it is now, so one moved under another PipelineRun does not verify.
 *
 * The reasons go to the run's Events: they name only objects of the run's
 * namespace, their uids, and creators as those objects' own annotations say.
 */
export function pipelineMembership(f: MembershipFacts): Membership {
  const runName = f.run.metadata?.name ?? "";
  const claim = claimedCustomRun(f.run);
  const no = (why: string): Membership => ({ member: false, standalone: false, why });
  if (!claim) return { member: false, standalone: true, why: "the run was not made for a Tekton CustomRun" };
  // What agentgate's controller writes (customrun.ts buildRun): one owner, the CustomRun of the run's own name.
  if ((f.run.metadata?.ownerReferences ?? []).length !== 1 || claim.name !== runName) return no(`the run's owners are not what agentgate's controller gives a run it makes for CustomRun ${claim.name}`);
  const cr = f.customRun;
  if (!cr || cr.metadata?.uid !== claim.uid) return no(`CustomRun ${claim.name} (uid ${claim.uid}) is not there`);
  if (!customRunOfAgentRun(cr)) return no(`CustomRun ${claim.name} does not ask for an AgentRun`);
  const prClaim = claimedPipelineRun(cr);
  if (!prClaim) return { member: false, standalone: true, why: `CustomRun ${claim.name} belongs to no PipelineRun` };
  const pr = f.pipelineRun;
  if (!pr || pr.metadata?.uid !== prClaim.uid) return no(`PipelineRun ${prClaim.name} (uid ${prClaim.uid}) is not there; one of that name made since is another PipelineRun`);
  const prCreator = f.pipelineRunCreator;
  if (!prCreator?.ok) return no(prCreator?.why ?? `PipelineRun ${prClaim.name}'s creator was not checked`);
  const crCreator = f.customRunCreator;
  if (!crCreator?.ok) return no(crCreator?.why ?? `CustomRun ${claim.name}'s creator was not checked`);
  // Creators are the stamps' readable agent.tekton.dev/created-by annotations on objects of the run's namespace: naming them tells a reader of the run's Events nothing new.
  if (crCreator.createdBy !== prCreator.createdBy || f.createdBy !== prCreator.createdBy) {
    return no(`the run was created by ${JSON.stringify(f.createdBy)} and CustomRun ${claim.name} by ${JSON.stringify(crCreator.createdBy)}, not by PipelineRun ${prClaim.name}'s creator ${JSON.stringify(prCreator.createdBy)}`);
  }
  if (crCreator.inheritedFrom !== prClaim.uid) return no(`CustomRun ${claim.name} is not one Tekton made for PipelineRun ${prClaim.name} (uid ${prClaim.uid}): its signed creator was not inherited from that PipelineRun, whoever created it`);
  return { member: true, pipelineRun: prClaim };
}

/** Everything a shared Agent materialises, and whose it is: two runs share only when all of it is equal. */
export interface ShareKeyInputs {
  namespace: string;
  pipelineRun: PipelineRunRef;
  createdBy: string;
  /** the AgentConfig as it is now: a config deleted and made again under the same name has another uid */
  config: { name: string; uid: string };
  /** what the gateway signed the run would execute: the config's spec at admission, the ModelConfig's and tool servers' digests */
  snapshot: Snapshot;
  guardrails: Guardrails;
  /** the kagent Agent's spec as it would be made for the share (names aside) */
  agentSpec: unknown;
}

/**
 * The share's key: a digest over what the shared Agent and its scope are
 * made from. The guardrails enter only with what they materialise (tools,
 * RBAC, network); budgets, timeout, iterations and approval stay each
 * run's own and are enforced per run, so they do not split a share.
 */
export function shareKey(i: ShareKeyInputs): string {
  const { networkPolicy, egress, rbac, tools } = i.guardrails;
  return sha256(canonicalJson({ v: 1, namespace: i.namespace, pipelineRun: i.pipelineRun, createdBy: i.createdBy, config: i.config, snapshot: i.snapshot, materialised: { networkPolicy, egress, rbac, tools }, agent: i.agentSpec ?? null }));
}

/** The names a share's objects and conversation go by, all from its key. */
export interface ShareNames {
  /** stands for the run's name in the scope's names: agentgate-run-<share>, <share>-role, … */
  share: string;
  /** the kagent Agent: <share>-agent */
  agent: string;
  /** the A2A contextId every goal of the share is sent in */
  contextId: string;
}

export function shareNames(key: string): ShareNames {
  const share = `share-${key.slice(0, 20)}`;
  return { share, agent: `${share}-agent`, contextId: `agentgate-${key.slice(0, 40)}` };
}

/** Which Agent a run acts through. */
export type AgentChoice =
  /** its own Agent, <run>-agent; `why` (for an Event) when it could have been a step of a PipelineRun and is not sharing */
  | { kind: "own"; why?: string }
  | { kind: "shared"; names: ShareNames; pipelineRun: PipelineRunRef; key: string }
  /** the run was recorded on a shared Agent it may no longer use (AgentFailed), or an object of the share's names is someone else's (ScopeConflict) */
  | { kind: "refused"; reason?: "AgentFailed" | "ScopeConflict"; message: string };

export interface ChoiceFacts {
  runName: string;
  membership: Membership;
  /** the run's calls go through agentgate's run-time gateway (a ModelConfig and call token of the run's own) */
  routed: boolean;
  runtime: string;
  /** the share's key, when the run is a member */
  key: string | undefined;
  /** the share's objects as found: absent, made for this share, or something else under their names */
  existing: "absent" | "ours" | "foreign";
  /** another run that acts through the shared Agent now ("ns/name"), if any */
  holder: string | undefined;
  /** status.agentRef.name, once written: the choice already made */
  recorded: string | undefined;
}

/**
 * One goal at a time per context: a run whose shared Agent another run of
 * the PipelineRun holds gets its own Agent (and says so) instead of waiting
 * on it or interleaving with it. Once recorded in status.agentRef, a
 * choice stands; a run recorded on a shared Agent it can no longer prove it
 * may use is refused.
 */
export function chooseAgent(f: ChoiceFacts): AgentChoice {
  const own = `${f.runName}-agent`;
  const names = f.key !== undefined ? shareNames(f.key) : undefined;
  if (f.recorded === own) return { kind: "own" };
  if (f.recorded !== undefined) {
    if (!f.membership.member) return { kind: "refused", message: `the run acts through shared Agent ${f.recorded}, and is no longer a step of its PipelineRun: ${f.membership.why}` };
    if (names === undefined || f.key === undefined || names.agent !== f.recorded) return { kind: "refused", message: `the run acts through shared Agent ${f.recorded}, which is not the Agent its decision makes now (${names?.agent ?? "none"}): what the Agent materialises changed` };
    if (f.existing === "foreign") return { kind: "refused", message: `shared Agent ${f.recorded} (or an object of its scope) was not made for this PipelineRun` };
    return { kind: "shared", names, pipelineRun: f.membership.pipelineRun, key: f.key };
  }
  if (!f.membership.member) return f.membership.standalone ? { kind: "own" } : { kind: "own", why: `not shared: ${f.membership.why}` };
  const pr = `PipelineRun ${f.membership.pipelineRun.name}`;
  if (f.routed) return { kind: "own", why: `not shared with the other steps of ${pr}: calls go through agentgate's run-time gateway, which meters each run through a ModelConfig and call token of its own` };
  if (f.runtime !== "go") return { kind: "own", why: `not shared with the other steps of ${pr}: kagent's ${f.runtime} runtime refuses tasks/cancel, so a run is stopped only by deleting its Agent` };
  if (!names || f.key === undefined) return { kind: "own", why: `not shared with the other steps of ${pr}: no share key` };
  if (f.existing === "foreign") return { kind: "own", why: `not shared with the other steps of ${pr}: an object named for the share (${names.agent} or its scope) was not made for it` };
  if (f.holder !== undefined) return { kind: "own", why: `not shared with the other steps of ${pr}: run ${f.holder} acts through ${names.agent} now, and two goals never share one context at once` };
  return { kind: "shared", names, pipelineRun: f.membership.pipelineRun, key: f.key };
}

/**
 * Another live run acting through the shared Agent. Only a run in a phase
 * where the controller writes agentRef (Acting, then PostHooks) counts: a
 * status written while the webhooks were off may name a colleague's share
 * in a phase the controller parks (WaitingForApproval), and would hold it
 * forever; one in Acting or PostHooks is checked (run-guards.ts
 * checkClaimedPhase) and, not a step of that share, ended at its next pass.
 */
export function holderOf(runs: readonly AgentRun[], agent: string, self: string): string | undefined {
  const other = runs.find((r) => r.metadata?.uid !== self && r.status?.agentRef?.name === agent && (r.status.phase === "Acting" || r.status.phase === "PostHooks") && !isTerminal(r.status));
  return other ? `${other.metadata?.namespace ?? ""}/${other.metadata?.name ?? ""}` : undefined;
}

/** Made by agentgate for this share: its label, the share label, and the PipelineRun (same uid) as controlling owner. */
export function ownedByShare(meta: ObjectMeta | undefined, share: string, pipelineRunUid: string): boolean {
  return pipelineRunUid !== "" && meta?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && meta.labels[SHARE_LABEL] === share && meta.ownerReferences?.some((o) => o.kind === "PipelineRun" && o.uid === pipelineRunUid && o.controller === true) === true;
}

/**
 * Whether an Agent was made for some share under this name: agentgate's
 * label, the share label its name implies, a PipelineRun as controlling
 * owner. Which PipelineRun is proven by the keeper before the run acts.
 */
export function isSharedAgent(meta: ObjectMeta | undefined, agentName: string): boolean {
  const owner = controllingOwner(meta, "PipelineRun");
  return owner !== undefined && agentName.endsWith("-agent") && ownedByShare(meta, agentName.slice(0, -"-agent".length), owner.uid);
}

/** Why a share's PipelineRun is over (deleted, made again under its name, or finished), or undefined while it runs. */
export function pipelineRunOver(pr: PipelineRun | null, ref: PipelineRunRef): string | undefined {
  if (!pr) return `PipelineRun ${ref.name} was deleted`;
  if (pr.metadata?.uid !== ref.uid) return `PipelineRun ${ref.name} was deleted (one of its name made since is another)`;
  const c = pr.status?.conditions?.find((x) => x.type === "Succeeded");
  if (c && c.status !== "Unknown") return `PipelineRun ${ref.name} ended (${c.reason})`;
  return undefined;
}
