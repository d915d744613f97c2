// Wire out: a Decision as the AdmissionReview response the API server reads.
import type { Decision } from "../types/decision.ts";
import type { AdmissionResponse, AdmissionReview } from "../types/admission.ts";
import { denialLines, warningLines } from "./messages.ts";

/**
 * The last line of a denial the webhook answers: the developer cannot read
 * agentgate's logs, but can hand this id to whoever can (the decision log
 * and the gateway's "admission decision" line carry it as decision_id).
 */
export function decisionIdLine(decisionId: string): string {
  return `decision_id ${decisionId}: the platform team finds this decision in agentgate's logs by it`;
}

/** decisionId: the id the webhook's logs file the decision under (the request's uid); `review --admission-review` gives it too, to answer the same bytes. */
export function toAdmissionResponse(uid: string, decision: Decision, decisionId?: string): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: decision.allowed };
  if (!decision.allowed) {
    const lines = denialLines(decision.violations);
    if (decisionId !== undefined) lines.push(decisionIdLine(decisionId));
    const denials = decision.violations.filter((v) => v.action === "deny");
    const final = denials.length > 0 && denials.every((v) => v.final === true);
    response.status = final ? { code: 400, reason: "BadRequest", message: lines.join("\n"), status: "Failure" } : { code: 403, reason: "Forbidden", message: lines.join("\n"), status: "Failure" };
  } else if (decision.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString("base64");
  }
  const warnings = warningLines(decision.violations);
  if (warnings.length > 0) response.warnings = warnings;
  return response;
}

export function toAdmissionReview(uid: string, decision: Decision, decisionId?: string): AdmissionReview {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: toAdmissionResponse(uid, decision, decisionId) };
}

/** The exact bytes the webhook answers with; `review --admission-review` prints the same. */
export function serializeReview(review: AdmissionReview): string {
  return JSON.stringify(review);
}
