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

/** On CREATE: the stamps on the object are exactly the ones the gateway computes. */
export function checkStampsOnCreate(run: AgentRun, expected: Stamps, user: string): Violation[] {
  const out: Violation[] = [];
  const annotations = run.metadata?.annotations ?? {};
  const labels = run.metadata?.labels ?? {};
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
        : `is not the value agentgate computed for this run`;
    out.push(deny("stamp-integrity", annotationField(key), `${why}; agentgate sets this annotation when the run is created, remove it from your manifest`));
  }
  for (const [key, want] of Object.entries(expected.labels)) {
    if (labels[key] !== want) {
      out.push(deny("stamp-integrity", labelField(key), `must be ${JSON.stringify(want)} (the run's spec.configRef.name); agentgate sets this label, remove it from your manifest`));
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
      out.push(deny("run-immutable", `spec.${key}`, "an admitted AgentRun cannot be changed; the only allowed edit is spec.status: Cancelled. Create a new AgentRun instead"));
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
