// run-identity: a run's ServiceAccount is its agent's alone. Its pods come
// only through the chain kagent's controller starts (Deployment → ReplicaSet
// → Pod, each step made by the one controller that makes it), and nobody
// requests tokens for it: the kubelet gets those for the agent's pods
// without asking admission. A pod anyone else starts as that account would
// act as the run outside its NetworkPolicy, and outlive it. The kubelet
// asks for the agent pods' tokens through admission too (TokenRequest bound
// to the pod; NodeRestriction limits a node to pods bound to it), and a
// legacy token Secret naming the account is a token nobody bound.
import { isDeepStrictEqual } from "node:util";
import type { AdmissionRequest } from "../types/admission.ts";
import { RUN_LABEL, RUN_SERVICE_ACCOUNT_PREFIX } from "../types/agent.ts";
import { isRecord, type KubeObject } from "../types/kube.ts";
import type { Violation } from "../types/policy.ts";
import { DEPLOYMENT_CONTROLLERS, REPLICASET_CONTROLLERS, type Identity } from "./identity.ts";
import { isManaged, onlyDropsFinalizers } from "./managed-object.ts";


function podSpecOf(kind: string, object: KubeObject | null | undefined): Record<string, unknown> | undefined {
  const spec: unknown = object?.spec;
  if (!isRecord(spec)) return undefined;
  if (kind === "Pod") return spec;
  const template: unknown = kind === "CronJob" ? (isRecord(spec.jobTemplate) && isRecord(spec.jobTemplate.spec) ? spec.jobTemplate.spec.template : undefined) : spec.template;
  return isRecord(template) && isRecord(template.spec) ? template.spec : undefined;
}

export const TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token";
export const TOKEN_SECRET_ACCOUNT = "kubernetes.io/service-account.name";

/**
 * The ServiceAccount a pod or pod template runs as ("default" when none is
 * named), or that a legacy token Secret is for.
 */
export function serviceAccountOf(kind: string, object: KubeObject | null | undefined): string | undefined {
  if (kind === "Secret") return object?.type === TOKEN_SECRET_TYPE ? object.metadata?.annotations?.[TOKEN_SECRET_ACCOUNT] : undefined;
  const spec = podSpecOf(kind, object);
  if (!spec) return undefined;
  const name = typeof spec.serviceAccountName === "string" && spec.serviceAccountName !== "" ? spec.serviceAccountName : spec.serviceAccount;
  return typeof name === "string" && name !== "" ? name : "default";
}

/** The run ServiceAccounts a request is about: the token's, or the pod template's before and after. */
export function runServiceAccounts(request: AdmissionRequest): string[] {
  if (request.subResource === "token") return request.name?.startsWith(RUN_SERVICE_ACCOUNT_PREFIX) ? [request.name] : [];
  const names = [serviceAccountOf(request.kind.kind, request.object), serviceAccountOf(request.kind.kind, request.oldObject)];
  return [...new Set(names.filter((n): n is string => n?.startsWith(RUN_SERVICE_ACCOUNT_PREFIX) === true))];
}

/** What keeps a pod in its run and its NetworkPolicy: its labels, owners and spec. Annotations and finalizers are others' to write. */
function sameGuardedPodFields(object: KubeObject | null | undefined, old: KubeObject | null | undefined): boolean {
  const m = object?.metadata ?? {};
  const o = old?.metadata ?? {};
  return isDeepStrictEqual(m.labels ?? {}, o.labels ?? {}) && isDeepStrictEqual(m.ownerReferences ?? [], o.ownerReferences ?? []) && isDeepStrictEqual(object?.spec, old?.spec);
}

/** A kubelet asking for a token bound to a pod: the way the run's agent pods get theirs. */
function isKubeletForPod(request: AdmissionRequest): boolean {
  const user = request.userInfo.username ?? "";
  const spec: unknown = request.object?.spec;
  const bound = isRecord(spec) && isRecord(spec.boundObjectRef) ? spec.boundObjectRef : undefined;
  return user.startsWith("system:node:") && (request.userInfo.groups ?? []).includes("system:nodes") && bound?.kind === "Pod";
}

function ownedBy(object: KubeObject | null | undefined, kind: string, name?: string): boolean {
  return object?.metadata?.ownerReferences?.some((o) => o.kind === kind && o.controller === true && (name === undefined || o.name === name)) === true;
}

/**
 * `account` is the ServiceAccount as stored (null: it does not exist);
 * `runAgent` the kagent Agent `<run>-agent` as stored, when the request is a
 * Deployment. Accounts agentgate made for a run are guarded, and so is a
 * name with the run prefix that no account holds yet: a workload made for
 * it in advance would get pods as the run's account the moment agentgate
 * creates it. An account someone else made under the prefix is left alone
 * (the run would refuse it: ScopeConflict).
 */
export function checkRunIdentity(request: AdmissionRequest, name: string, account: KubeObject | null, identity: Identity, runAgent: KubeObject | null = null): Violation[] {
  if (account !== null && !isManaged(account)) return [];
  const user = request.userInfo.username ?? "";
  if (identity.trusted.has(user)) return [];
  const run = account?.metadata?.labels?.[RUN_LABEL] ?? name.slice(RUN_SERVICE_ACCOUNT_PREFIX.length);
  const kind = request.kind.kind;
  const owner = account ? `ServiceAccount "${name}" belongs to AgentRun "${run}"` : `ServiceAccount "${name}" is reserved for AgentRun "${run}" (names starting with ${RUN_SERVICE_ACCOUNT_PREFIX} are agentgate's)`;
  const deny = (field: string, message: string): Violation[] => [{ policy: "run-identity", field, message, action: "deny" }];
  if (request.subResource === "token") {
    if (isKubeletForPod(request)) return [];
    return deny("metadata.name", `${owner}; tokens for it go only to the run's agent pods, through the kubelet, so ${JSON.stringify(user)} cannot request one`);
  }
  if (kind === "Secret") {
    // The token controller fills the Secret it is asked for; what counts is who names the account.
    if (request.operation === "UPDATE" && serviceAccountOf(kind, request.oldObject) === name) return [];
    return deny(`metadata.annotations["${TOKEN_SECRET_ACCOUNT}"]`, `${owner}; a ${TOKEN_SECRET_TYPE} Secret for it would hold a token that outlives the run, so ${JSON.stringify(user)} cannot make one`);
  }
  if (kind === "Pod" && request.subResource === "ephemeralcontainers") {
    return deny("spec.ephemeralContainers", `${owner}; a container added to the run's pod runs as it, so ${JSON.stringify(user)} cannot add one (read the agent's logs with kubectl logs)`);
  }
  const field = kind === "Pod" ? "spec.serviceAccountName" : kind === "CronJob" ? "spec.jobTemplate.spec.template.spec.serviceAccountName" : "spec.template.spec.serviceAccountName";
  const why = `${owner}; only the run's agent runs as it (kagent's Deployment for Agent "${run}-agent", and the ReplicaSets and pods Kubernetes makes from it)`;
  if (kind === "Pod" && request.operation === "CREATE" && REPLICASET_CONTROLLERS.includes(user) && ownedBy(request.object, "ReplicaSet")) return [];
  // The built-in controllers relabel, adopt and orphan pods; nobody else changes a run's pod's labels (one removed takes it
  // out of its NetworkPolicy), owners (an orphan outlives the run) or spec (a new image). Annotations and finalizers stay
  // open: network plugins and meshes write them.
  if (kind === "Pod" && request.operation === "UPDATE" && [...REPLICASET_CONTROLLERS, ...identity.deleters].includes(user)) return [];
  // Garbage collection finishing a foreground deletion (kagent's Deployment and its ReplicaSets, under a shared Agent deleted so): it drops its finalizer, nothing else.
  if (request.operation === "UPDATE" && identity.deleters.has(user) && onlyDropsFinalizers(request.oldObject, request.object)) return [];
  if (kind === "Pod" && request.operation === "UPDATE" && !request.subResource && sameGuardedPodFields(request.object, request.oldObject)) return [];
  if (kind === "ReplicaSet" && DEPLOYMENT_CONTROLLERS.includes(user) && ownedBy(request.object, "Deployment", undefined)) return [];
  // kagent makes the Deployment of any Agent: only that of the run's own Agent (agentgate's) may run as the run.
  if (kind === "Deployment" && identity.kagent.has(user) && ownedBy(request.object, "Agent", `${run}-agent`) && isManaged(runAgent) && runAgent?.metadata?.labels?.[RUN_LABEL] === run) return [];
  const verb = request.operation === "CREATE" ? "start" : "change";
  return deny(field, `${why}; ${JSON.stringify(user)} cannot ${verb} a ${kind} that runs as it`);
}
