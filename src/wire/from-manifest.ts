// Wire in, offline: a manifest as kubectl apply would submit it, turned into
// the AdmissionRequest the API server would send the webhook.
import { randomUUID } from "node:crypto";
import { HANDLED_RESOURCES } from "../kube/resources.ts";
import type { AdmissionRequest, Operation, UserInfo } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";

export interface SubmitOptions {
  operation: Extract<Operation, "CREATE" | "UPDATE">;
  user: UserInfo;
  oldObject?: KubeObject | null;
  defaultNamespace?: string;
  /** the request's uid; a fresh one when absent */
  uid?: string;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The plural resource of a kind, for the kinds agentgate handles; a lower-case guess otherwise. */
export function resourceOf(group: string, kind: string): string {
  return HANDLED_RESOURCES.find((r) => r.group === group && r.kind === kind)?.resource ?? `${kind.toLowerCase()}s`;
}

export function requestFromManifest(object: KubeObject, opts: SubmitOptions): AdmissionRequest {
  const { group, version } = splitApiVersion(object.apiVersion ?? "");
  const kind = object.kind ?? "";
  const namespace = object.metadata?.namespace ?? opts.defaultNamespace ?? "default";
  const namespaced = kind !== "Namespace";
  const stored: KubeObject = namespaced ? { ...object, metadata: { ...(object.metadata ?? {}), namespace } } : object;
  const resource = { group, version, resource: resourceOf(group, kind) };
  const request: AdmissionRequest = {
    uid: opts.uid ?? randomUUID(),
    kind: { group, version, kind },
    resource,
    requestKind: { group, version, kind },
    requestResource: resource,
    operation: opts.operation,
    userInfo: opts.user,
    object: stored,
    oldObject: opts.operation === "UPDATE" ? (opts.oldObject ?? null) : null,
    dryRun: false,
    options: { apiVersion: "meta.k8s.io/v1", kind: opts.operation === "CREATE" ? "CreateOptions" : "UpdateOptions", fieldManager: "kubectl-client-side-apply" },
  };
  if (object.metadata?.name !== undefined) request.name = object.metadata.name;
  if (namespaced) request.namespace = namespace;
  return request;
}

/** The request the API server would send for a replace of a stored object with itself (audit, and a run's references at its admission). */
export function selfUpdateRequest(object: KubeObject, user: UserInfo, uid?: string): AdmissionRequest {
  const request = requestFromManifest(object, { operation: "UPDATE", user, oldObject: object, ...(uid === undefined ? {} : { uid }) });
  request.options = { apiVersion: "meta.k8s.io/v1", kind: "UpdateOptions" };
  return request;
}
