// managed-object: the per-run ServiceAccount, Role, RoleBinding,
// NetworkPolicy and kagent Agent (and, through the run-time gateway, the
// run's ModelConfig and RemoteMCPServers) are agentgate's. Nobody else creates one
// (an object made in advance under a run's name, or claiming the label,
// would be adopted or would block the run), changes one, or removes one.
import type { AdmissionRequest } from "../types/admission.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import type { Identity } from "./identity.ts";
import { isDeepStrictEqual } from "node:util";

export const isManaged = (object: KubeObject | null | undefined): boolean => object?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;

/** Whether the request touches an object agentgate manages, or one that claims to be. */
export function touchesManaged(request: AdmissionRequest): boolean {
  return isManaged(request.oldObject) || isManaged(request.object);
}

/**
 * Garbage collection finishing a deletion: the object is already being
 * deleted, and the update only drops finalizers (foregroundDeletion once its
 * dependents are gone, orphan once they are orphaned); nothing else of it
 * changes. Without it a foreground deletion of an object agentgate guards
 * would never complete.
 */
export function onlyDropsFinalizers(old: KubeObject | null | undefined, object: KubeObject | null | undefined): boolean {
  if (old?.metadata?.deletionTimestamp === undefined || !object) return false;
  const before = old.metadata.finalizers ?? [];
  const after = object.metadata?.finalizers ?? [];
  if (after.length >= before.length || !after.every((f) => before.includes(f))) return false;
  // What the API server itself moves on any write.
  const rest = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, finalizers: undefined, managedFields: undefined, resourceVersion: undefined } });
  return isDeepStrictEqual(rest(old), rest(object));
}

export function checkManagedObject(request: AdmissionRequest, identity: Identity): Violation[] {
  const before = isManaged(request.oldObject);
  const after = isManaged(request.object);
  if (!before && !after) return [];
  const user = request.userInfo.username ?? "";
  if (identity.trusted.has(user)) return [];
  if (request.operation === "DELETE" && identity.deleters.has(user)) return [];
  if (request.operation === "UPDATE" && identity.deleters.has(user) && onlyDropsFinalizers(request.oldObject, request.object)) return [];
  // Tekton's controller keeps the hook PipelineRuns agentgate makes (labels, finalizers, cancelling); it makes none.
  if (request.operation === "UPDATE" && before && request.kind.kind === "PipelineRun" && identity.tekton.has(user)) return [];
  const kind = request.kind.kind;
  const name = request.name || request.oldObject?.metadata?.name || request.object?.metadata?.name || request.object?.metadata?.generateName || "";
  const deny = (message: string): Violation[] => [{ policy: "managed-object", field: "metadata", message, action: "deny" }];
  if (!before) {
    return deny(`${kind} "${name}" carries ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}, which only agentgate sets on the objects it makes for an AgentRun; ${JSON.stringify(user)} cannot ${request.operation === "CREATE" ? "create one" : "add it"}: remove the label`);
  }
  const verb = request.operation === "DELETE" ? "deleted" : "changed";
  return deny(`${kind} "${name}" is managed by agentgate for an AgentRun and cannot be ${verb} by ${JSON.stringify(user)}; it goes away with its AgentRun (delete or cancel the run instead)`);
}
