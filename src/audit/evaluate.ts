// Audit's view of one stored object: the webhook's answer to an UPDATE of
// the object to itself, through the one evaluation path — the mutating pass
// (as the API server runs it first) and then admit(..., "audit"), which
// decides exactly as admit(..., "validate") does.
import { applyPatch } from "rfc6902";
import { admit, sortViolations, type Decision, type GatewayDeps } from "../gateway/admit.ts";
import type { AgentRun } from "../types/agent.ts";
import { checkStoredRun } from "./run-stamps.ts";
import type { AdmissionRequest, UserInfo } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import { selfUpdateRequest as selfUpdate } from "../wire/from-manifest.ts";

/** Who audit says it is in the requests it evaluates; not one of agentgate's trusted identities, so every gateway check applies. */
export const AUDIT_USER: UserInfo = { username: "system:agentgate:audit", groups: ["system:authenticated"] };

/** The AdmissionRequest the API server would send for `kubectl replace` of the object with itself. */
export function selfUpdateRequest(object: KubeObject, user: UserInfo = AUDIT_USER): AdmissionRequest {
  return selfUpdate(object, user);
}

/** The validating decision (origin "audit") for the request, after the mutating pass as the API server runs it. */
export async function auditRequest(request: AdmissionRequest, deps: GatewayDeps): Promise<Decision> {
  const mutation = await admit(request, deps, "mutate");
  if (!mutation.allowed) return { ...mutation, origin: "audit" };
  let object = request.object ?? null;
  if (object && mutation.patch.length > 0) {
    object = structuredClone(object);
    const errors = applyPatch(object, mutation.patch).filter((e) => e !== null);
    if (errors.length > 0) throw new Error(`mutation patch does not apply: ${errors.map((e) => e.message).join("; ")}`);
  }
  const decision = await admit({ ...request, object }, deps, "audit");
  if (decision.exempt || !object || request.kind.group !== "agent.tekton.dev" || request.kind.kind !== "AgentRun" || deps.keyring.notReady() !== undefined) return decision;
  // An update of a run to itself changes no stamp: its stamps are checked on their own.
  const stamps = await checkStoredRun(request, object as AgentRun, deps.engine(), deps.lookup, deps.keyring.resolve);
  if (stamps.length === 0) return decision;
  const violations = sortViolations([...decision.violations, ...stamps]);
  return { ...decision, violations, allowed: !violations.some((v) => v.action === "deny") };
}

export function auditObject(object: KubeObject, deps: GatewayDeps, user: UserInfo = AUDIT_USER): Promise<Decision> {
  return auditRequest(selfUpdateRequest(object, user), deps);
}
