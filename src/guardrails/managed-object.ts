// managed-object: the per-run ServiceAccount, Role, RoleBinding and
// NetworkPolicy are agentgate's; nobody else edits or removes them.
import type { AdmissionRequest } from "../types/admission.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../types/agent.ts";
import type { Violation } from "../types/policy.ts";
import type { Identity } from "./identity.ts";

export function checkManagedObject(request: AdmissionRequest, identity: Identity): Violation[] {
  const before = request.oldObject?.metadata?.labels?.[MANAGED_BY_LABEL];
  if (before !== MANAGED_BY_VALUE) return [];
  const user = request.userInfo.username ?? "";
  if (identity.trusted.has(user)) return [];
  if (request.operation === "DELETE" && identity.deleters.has(user)) return [];
  const kind = request.kind.kind;
  const name = request.name ?? request.oldObject?.metadata?.name ?? "";
  const verb = request.operation === "DELETE" ? "deleted" : "changed";
  return [
    {
      policy: "managed-object",
      field: "metadata",
      message: `${kind} "${name}" is managed by agentgate for an AgentRun and cannot be ${verb} by ${JSON.stringify(user)}; it goes away with its AgentRun (delete or cancel the run instead)`,
      action: "deny",
    },
  ];
}
