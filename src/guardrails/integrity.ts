// stamp-integrity and run-immutable: what the gateway stamped, and the run
// the policy admitted, stay as they were.
import { isDeepStrictEqual } from "node:util";
import type { AdmissionRequest } from "../types/admission.ts";
import { STAMP, type AgentRun } from "../types/agent.ts";
import { isRecord } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import type { Stamps } from "./stamps.ts";

const deny = (policy: string, field: string, message: string): Violation => ({ policy, field, message, action: "deny" });

const annotationField = (key: string) => `metadata.annotations["${key}"]`;
const labelField = (key: string) => `metadata.labels["${key}"]`;

/** A value as a message shows it: JSON, cut short (a goal may be 64 KiB). */
export function brief(value: unknown, max = 80): string {
  const text = value === undefined ? "(unset)" : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Which guardrails differ between what was found and what agentgate computed, with both values. */
function guardrailsDifference(found: string | undefined, computed: string): string {
  let parsed: unknown;
  try {
    parsed = found === undefined ? undefined : JSON.parse(found);
  } catch {
    return `is ${brief(found)}, which is not JSON; agentgate computed ${brief(computed, 200)}`;
  }
  const want = JSON.parse(computed) as Record<string, unknown>;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return `is ${brief(found)}; agentgate computed ${brief(computed, 200)}`;
  const got = parsed as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(want), ...Object.keys(got)])].filter((k) => !isDeepStrictEqual(got[k], want[k])).sort();
  return `differs from what agentgate computed for this run in ${keys.map((k) => `${k} (found ${brief(got[k], 60)}, computed ${brief(want[k], 60)})`).join(", ")}`;
}

const STAMP_ANNOTATIONS = [STAMP.createdBy, STAMP.policyRevision, STAMP.guardrails] as const;

/**
 * On CREATE: the stamps on the object are exactly the ones the gateway
 * computes. `expected` is undefined when the gateway computes none (the
 * run's AgentConfig does not exist): then any stamp on the run was written
 * by someone else and is refused, whatever the policy decided about the
 * missing config (a warn or dryrun profile admits the run).
 */
export function checkStampsOnCreate(run: AgentRun, expected: Stamps | undefined, user: string): Violation[] {
  const out: Violation[] = [];
  const annotations = run.metadata?.annotations ?? {};
  const labels = run.metadata?.labels ?? {};
  if (expected === undefined) {
    const config = JSON.stringify(run.metadata?.namespace !== undefined ? `${run.metadata.namespace}/${run.spec?.configRef?.name ?? ""}` : (run.spec?.configRef?.name ?? ""));
    const why = `agentgate stamps nothing on this run because its AgentConfig ${config} does not exist, so this value was written by someone else`;
    for (const key of STAMP_ANNOTATIONS) {
      if (annotations[key] !== undefined) out.push(deny("stamp-integrity", annotationField(key), `found ${brief(annotations[key])}; ${why}; only agentgate sets it: remove it from your manifest`));
    }
    if (labels[STAMP.configLabel] !== undefined) {
      out.push(deny("stamp-integrity", labelField(STAMP.configLabel), `found ${brief(labels[STAMP.configLabel])}; ${why}; only agentgate sets it: remove it from your manifest`));
    }
    return out;
  }
  if (annotations[STAMP.createdBy] === undefined && annotations[STAMP.guardrails] === undefined) {
    return [
      deny(
        "stamp-integrity",
        "metadata.annotations",
        "the AgentRun carries no agentgate stamps, so the agentgate mutating webhook did not run on it; check that MutatingWebhookConfiguration agentgate is installed and matches agentruns",
      ),
    ];
  }
  for (const [key, want] of Object.entries(expected.annotations)) {
    const got = annotations[key];
    if (got === want) continue;
    const why =
      key === STAMP.createdBy
        ? `is ${JSON.stringify(got ?? "")} but the request comes from ${JSON.stringify(user)}`
        : key === STAMP.guardrails
          ? guardrailsDifference(got, want)
          : `is ${brief(got)} but the loaded policy bundles are at revision ${JSON.stringify(want)}`;
    out.push(deny("stamp-integrity", annotationField(key), `${why}; agentgate sets this annotation when the run is created, remove it from your manifest`));
  }
  for (const [key, want] of Object.entries(expected.labels)) {
    if (labels[key] !== want) {
      out.push(deny("stamp-integrity", labelField(key), `is ${brief(labels[key])} but must be ${JSON.stringify(want)} (the run's spec.configRef.name); agentgate sets this label, remove it from your manifest`));
    }
  }
  return out;
}

/** On UPDATE: no stamp changes. */
export function checkStampsOnUpdate(run: AgentRun, old: AgentRun): Violation[] {
  const out: Violation[] = [];
  const a = run.metadata?.annotations ?? {};
  const b = old.metadata?.annotations ?? {};
  for (const key of [STAMP.createdBy, STAMP.policyRevision, STAMP.guardrails]) {
    if (a[key] !== b[key]) {
      out.push(deny("stamp-integrity", annotationField(key), `was ${JSON.stringify(b[key] ?? "")} and cannot be changed; agentgate stamped it when the run was admitted. Create a new AgentRun to run with other guardrails`));
    }
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
    const changed = [...new Set([...Object.keys(spec), ...Object.keys(oldSpec)])]
      .filter((k) => !isDeepStrictEqual(spec[k as keyof typeof spec], oldSpec[k as keyof typeof oldSpec]))
      .sort();
    for (const key of changed) {
      const was = oldSpec[key as keyof typeof oldSpec];
      const now = spec[key as keyof typeof spec];
      out.push(
        deny(
          "run-immutable",
          `spec.${key}`,
          `changed from ${brief(was)} to ${brief(now)}, but an admitted AgentRun cannot be changed; the only allowed edit is spec.status: Cancelled. Create a new AgentRun with the new value instead`,
        ),
      );
    }
  }
  if (status !== oldStatus && !(oldStatus === "" && status === "Cancelled")) {
    out.push(deny("run-immutable", "spec.status", `cannot change from ${JSON.stringify(oldStatus)} to ${JSON.stringify(status)}; the only allowed edit is setting it to "Cancelled"`));
  }
  return out;
}

export function isRunRequest(request: AdmissionRequest): boolean {
  return request.kind.group === "agent.tekton.dev" && request.kind.kind === "AgentRun";
}
