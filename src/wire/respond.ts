// Wire out: a Decision as the AdmissionReview response the API server reads.
import type { Decision } from "../gateway/admit.ts";
import type { AdmissionResponse, AdmissionReview } from "../types/admission.ts";
import { denialLines, warningLines } from "./messages.ts";

export function toAdmissionResponse(uid: string, decision: Decision): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: decision.allowed };
  if (!decision.allowed) {
    response.status = { code: 403, reason: "Forbidden", message: denialLines(decision.violations).join("\n"), status: "Failure" };
  } else if (decision.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString("base64");
  }
  const warnings = warningLines(decision.violations);
  if (warnings.length > 0) response.warnings = warnings;
  return response;
}

export function toAdmissionReview(uid: string, decision: Decision): AdmissionReview {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: toAdmissionResponse(uid, decision) };
}

/** The exact bytes the webhook answers with; `review --admission-review` prints the same. */
export function serializeReview(review: AdmissionReview): string {
  return JSON.stringify(review);
}
