// stamp-integrity, run-immutable and run-status: what the gateway stamped,
// the run the policy admitted, and the record the controller keeps of it,
// stay as they were written.
import { isDeepStrictEqual } from "node:util";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP, type AgentRun } from "../types/agent.ts";
import { isRecord } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import type { KeyResolver } from "../signing/detached.ts";
import { verifyApproval } from "./approval-stamp.ts";
import { MAX_SIGNING_SKEW_MS, verifyDecision } from "./decision.ts";
import type { Identity } from "./identity.ts";
import { labelValue } from "./stamps.ts";

const deny = (policy: string, field: string, message: string): Violation => ({ policy, field, message, action: "deny" });

const annotationField = (key: string) => `metadata.annotations["${key}"]`;
const labelField = (key: string) => `metadata.labels["${key}"]`;

/** A value as a message shows it: JSON, cut short (a goal may be 64 KiB). */
export function brief(value: unknown, max = 80): string {
  const text = value === undefined ? "(unset)" : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Every annotation agentgate writes on a run, and the label. */
export const STAMP_ANNOTATIONS = [STAMP.createdBy, STAMP.policyRevision, STAMP.policyDigests, STAMP.guardrails, STAMP.snapshot, STAMP.decision, STAMP.approval] as const;

/**
 * On CREATE, when the gateway stamps nothing (the run's AgentConfig does not
 * exist): any stamp on the run was written by someone else, and is refused
 * whatever the policy decided about the missing config (a warn or dryrun
 * profile admits the run; the controller then refuses to act on it).
 */
export function checkNoStamps(run: AgentRun): Violation[] {
  const annotations = run.metadata?.annotations ?? {};
  const labels = run.metadata?.labels ?? {};
  const config = JSON.stringify(`${run.metadata?.namespace ?? ""}/${run.spec?.configRef?.name ?? ""}`);
  const why = `agentgate stamps nothing on this run because its AgentConfig ${config} does not exist, so this value was written by someone else`;
  const out: Violation[] = [];
  for (const key of STAMP_ANNOTATIONS) {
    if (annotations[key] !== undefined) out.push(deny("stamp-integrity", annotationField(key), `found ${brief(annotations[key])}; ${why}; only agentgate sets it: remove it from your manifest`));
  }
  if (labels[STAMP.configLabel] !== undefined) out.push(deny("stamp-integrity", labelField(STAMP.configLabel), `found ${brief(labels[STAMP.configLabel])}; ${why}; only agentgate sets it: remove it from your manifest`));
  return out;
}

/**
 * On CREATE: the run carries the decision the mutating webhook signed a
 * moment ago for exactly this run (namespace, name, spec, creator). Anything
 * else means stamps written by someone else, or a mutating webhook that did
 * not run or ran before another changed the run.
 */
export async function checkDecisionOnCreate(run: AgentRun, creator: string, resolve: KeyResolver, now: number): Promise<Violation[]> {
  const annotations = run.metadata?.annotations ?? {};
  if (annotations[STAMP.decision] === undefined && annotations[STAMP.createdBy] === undefined && annotations[STAMP.guardrails] === undefined) {
    return [deny("stamp-integrity", "metadata.annotations", "the AgentRun carries no agentgate stamps, so the agentgate mutating webhook did not run on it; check that MutatingWebhookConfiguration agentgate is installed and matches agentruns")];
  }
  const check = await verifyDecision(run, resolve);
  if (!check.ok) return [deny("stamp-integrity", annotationField(STAMP.decision), `${check.why}; agentgate stamps and signs a run when it is created: remove agentgate's annotations from your manifest (and if another mutating webhook changes AgentRuns, it must not change their spec)`)];
  const out: Violation[] = [];
  if (Math.abs(now - check.decision.signedAt) > MAX_SIGNING_SKEW_MS) out.push(deny("stamp-integrity", annotationField(STAMP.decision), `was signed at ${new Date(check.decision.signedAt).toISOString()}, not for this request: it was copied from another run; remove agentgate's annotations from your manifest`));
  if (check.decision.createdBy !== creator) out.push(deny("stamp-integrity", annotationField(STAMP.createdBy), `is ${JSON.stringify(check.decision.createdBy)} but this run is created by ${JSON.stringify(creator)}; agentgate sets this annotation when the run is created, remove it from your manifest`));
  const label = run.metadata?.labels?.[STAMP.configLabel];
  if (label !== labelValue(check.decision.snapshot.config.name)) {
    out.push(deny("stamp-integrity", labelField(STAMP.configLabel), `is ${brief(label)} but the run's AgentConfig is ${JSON.stringify(check.decision.snapshot.config.name)}; agentgate sets this label, remove it from your manifest`));
  }
  return out;
}

/** On UPDATE: no stamp changes; an approval is added only with the gateway's signature of it. */
export async function checkStampsOnUpdate(run: AgentRun, old: AgentRun, resolve: KeyResolver, now: number): Promise<Violation[]> {
  const out: Violation[] = [];
  const a = run.metadata?.annotations ?? {};
  const b = old.metadata?.annotations ?? {};
  for (const key of STAMP_ANNOTATIONS) {
    if (a[key] === b[key]) continue;
    if (key === STAMP.approval && b[key] === undefined && a[STAMP.approvedBy] !== undefined && b[STAMP.approvedBy] === undefined) {
      // The approval being given now: the mutating webhook signed it for this run and this approver.
      const check = await verifyApproval(run, resolve);
      if (!check.approved) out.push(deny("stamp-integrity", annotationField(key), `${check.why}; remove it from your change, agentgate signs the approval itself`));
      else if (Math.abs(now - check.approvedAt) > MAX_SIGNING_SKEW_MS) out.push(deny("stamp-integrity", annotationField(key), "was signed for an earlier request; remove it from your change, agentgate signs the approval itself"));
      continue;
    }
    out.push(deny("stamp-integrity", annotationField(key), `was ${brief(b[key] ?? "")} and cannot be changed; agentgate stamped it when the run was admitted. Create a new AgentRun to run with other guardrails`));
  }
  if (a[STAMP.approvedBy] !== undefined && b[STAMP.approvedBy] === undefined && a[STAMP.approval] === undefined) {
    out.push(deny("stamp-integrity", annotationField(STAMP.approval), `the approval carries no agentgate signature, so the agentgate mutating webhook did not see it and the controller would not act on it; check that MutatingWebhookConfiguration agentgate matches agentruns, then approve again`));
  }
  const la = run.metadata?.labels ?? {};
  const lb = old.metadata?.labels ?? {};
  if (la[STAMP.configLabel] !== lb[STAMP.configLabel]) {
    out.push(deny("stamp-integrity", labelField(STAMP.configLabel), `was ${JSON.stringify(lb[STAMP.configLabel] ?? "")} and cannot be changed; agentgate stamped it when the run was admitted`));
  }
  return out;
}

/** On UPDATE: the spec is frozen once admitted, except a human may cancel. */
export function checkRunImmutable(run: AgentRun, old: AgentRun): Violation[] {
  const spec = isRecord(run.spec) ? { ...run.spec } : {};
  const oldSpec = isRecord(old.spec) ? { ...old.spec } : {};
  const status = spec.status ?? "";
  const oldStatus = oldSpec.status ?? "";
  delete spec.status;
  delete oldSpec.status;
  const out: Violation[] = [];
  if (!isDeepStrictEqual(spec, oldSpec)) {
    // Own keys only: a spec key named "constructor" or "toString" is not the other spec's inherited method.
    const own = (o: object, k: string): unknown => (Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined);
    const changed = [...new Set([...Object.keys(spec), ...Object.keys(oldSpec)])]
      .filter((k) => !isDeepStrictEqual(own(spec, k), own(oldSpec, k)))
      .sort();
    for (const key of changed) {
      const was = own(oldSpec, key);
      const now = own(spec, key);
      out.push(deny("run-immutable", `spec.${key}`, `changed from ${brief(was)} to ${brief(now)}, but an admitted AgentRun cannot be changed; the only allowed edit is spec.status: Cancelled. Create a new AgentRun with the new value instead`));
    }
  }
  if (status !== oldStatus && !(oldStatus === "" && status === "Cancelled")) {
    out.push(deny("run-immutable", "spec.status", `cannot change from ${JSON.stringify(oldStatus)} to ${JSON.stringify(status)}; the only allowed edit is setting it to "Cancelled"`));
  }
  return out;
}

/**
 * On CREATE and UPDATE: a run's owners are what agentgate's controller gave
 * it. The controller takes a CustomRun's outcome from the run that names the
 * CustomRun as its controlling owner, so a run that claimed one would hand
 * a colleague's pipeline its results. Garbage collection may drop an owner
 * that is gone.
 */
export function checkRunOwners(request: AdmissionRequest, identity: Identity): Violation[] {
  const user = request.userInfo.username ?? "";
  if (identity.trusted.has(user)) return [];
  const owners = request.object?.metadata?.ownerReferences ?? [];
  if (request.operation === "CREATE") {
    const claimed = owners.find((o) => o.kind === "CustomRun");
    return claimed ? [deny("run-owner", "metadata.ownerReferences", `names CustomRun ${JSON.stringify(claimed.name)}, but only agentgate's controller creates the AgentRun of a CustomRun; remove the ownerReference (to run an agent from a pipeline, add an AgentRun task to it)`)] : [];
  }
  const before = request.oldObject?.metadata?.ownerReferences ?? [];
  if (isDeepStrictEqual(owners, before)) return [];
  const dropped = owners.every((o) => before.some((b) => isDeepStrictEqual(b, o)));
  if (dropped && identity.deleters.has(user)) return [];
  return [deny("run-owner", "metadata.ownerReferences", `cannot be changed on an admitted AgentRun; agentgate's controller sets a run's owners when it creates it`)];
}

/** run-status: a run's status is the controller's record of what it did; nobody else writes it. */
export function checkStatusWriter(request: AdmissionRequest, identity: Identity): Violation[] {
  const user = request.userInfo.username ?? "";
  if (identity.trusted.has(user)) return [];
  return [deny("run-status", "status", `only agentgate's controller writes an AgentRun's status (it records what the controller did), so ${JSON.stringify(user)} cannot; to stop the run set spec.status: Cancelled`)];
}
