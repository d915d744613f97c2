// Admission as the API server runs it, end to end, for one object: the
// mutating pass, its patch applied, then the validating pass on the result.
// `agentgate review` and the benchmark's offline mode use it.
import { randomUUID } from "node:crypto";
import { applyPatch, type Operation as PatchOperation } from "rfc6902";
import type { AdmissionRequest } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import { warningLines } from "../wire/messages.ts";
import { admit, sortViolations, type GatewayDeps } from "./admit.ts";
import { findResource } from "../kube/resources.ts";

export interface ReviewResult {
  kind: string;
  namespace: string;
  name: string;
  allowed: boolean;
  violations: Violation[];
  warnings: string[];
  patch: PatchOperation[];
}

export interface AdmissionOutcome {
  result: ReviewResult;
  /** the object as it would be stored */
  object: KubeObject | null;
}

export async function admitLikeApiServer(request: AdmissionRequest, deps: GatewayDeps): Promise<AdmissionOutcome> {
  const base = { kind: request.kind.kind, namespace: request.namespace ?? "", name: request.name ?? request.object?.metadata?.name ?? "" };
  if (!findResource(request.resource)) {
    return { result: { ...base, allowed: true, violations: [], warnings: [], patch: [] }, object: request.object ?? null };
  }
  const mutation = await admit(request, deps, "mutate");
  if (!mutation.allowed) {
    return { result: { ...base, allowed: false, violations: mutation.violations, warnings: [], patch: [] }, object: null };
  }
  let object = request.object ?? null;
  if (object && mutation.patch.length > 0) {
    object = structuredClone(object);
    const errors = applyPatch(object, mutation.patch).filter((e) => e !== null);
    if (errors.length > 0) throw new Error(`mutation patch does not apply: ${errors.map((e) => e.message).join("; ")}`);
  }
  // Between the two passes the API server gives a new object its uid and
  // creation time, and drops the status a client sent with it.
  if (object && request.operation === "CREATE") {
    const { status: _status, ...rest } = object;
    object = { ...rest, metadata: { ...(object.metadata ?? {}), uid: object.metadata?.uid ?? randomUUID(), creationTimestamp: object.metadata?.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, "Z") } };
  }
  const validation = await admit({ ...request, object }, deps, "validate");
  const violations = sortViolations([...validation.violations]);
  const warnings = warningLines(violations);
  return { result: { ...base, allowed: validation.allowed, violations, warnings, patch: mutation.patch }, object };
}
