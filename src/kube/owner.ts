// The owner of what an agentgate process creates at run time in its own
// namespace: the gateway's certificate Secret, the controller's Lease and
// run ledgers, audit's Lease. Not the signing keys: the decisions of kept
// AgentRuns and their provenance verify with them, and a Deployment deleted
// for any reason (helm upgrade --force, a rename) must not take them along. The chart passes
// `--owner deployment/<name>` (`cronjob/<name>` for a scheduled audit), and
// each such object names that Deployment in its ownerReferences, so when
// `helm uninstall` deletes the Deployment the garbage collector deletes them
// too: no hook Job, no pod that must still run at uninstall.
//
// The owner is the Deployment, never the pod or its ReplicaSet: a rollout
// makes a new ReplicaSet and new pods under the same Deployment (same uid),
// so it deletes nothing, and the Secret every replica serves from survives.
// Its uid is read once at start: a pod still terminating after the
// uninstall that writes one of these objects again names a Deployment that
// is gone, and the garbage collector deletes that object at once.
//
// Neither blockOwnerDeletion (setting it needs update on the owner's
// finalizers, and no deletion needs to wait for these objects) nor
// controller (the objects are shared by replicas and adopted by the next
// version, not controlled by one ReplicaSet).
import type * as k8s from "@kubernetes/client-node";
import type { KubeApi } from "./api.ts";
import { describeError, statusCode } from "./errors.ts";
import { apiVersionOf, listPath, RESOURCES } from "./resources.ts";
import { AgentgateError } from "../errors.ts";

const KINDS = {
  deployment: RESOURCES.deployments,
  cronjob: RESOURCES.cronJobs,
} as const;

export type OwnerKind = keyof typeof KINDS;

/** The owner as configured: KIND/NAME in the process's namespace. */
export interface OwnerRef {
  kind: OwnerKind;
  name: string;
}

/** A resolved owner: the reference objects carry, and the namespace it is in. */
export interface Owner {
  /** only objects in this namespace can name the owner */
  namespace: string;
  reference: k8s.V1OwnerReference;
}

/**
 * An owner that is not KIND/NAME or cannot be read (field "owner"). The
 * message names the owner as `owner KIND/NAME`; `owner` and `detail` let
 * the command line name its flag instead.
 */
export class OwnerError extends AgentgateError {
  /** the owner as given */
  readonly owner: string;
  /** what is wrong with it */
  readonly detail: string;
  constructor(kind: "usage" | "unavailable", owner: string, detail: string, options?: { cause?: unknown }) {
    super(kind, `owner ${owner}: ${detail}`, { ...options, field: "owner" });
    this.name = "OwnerError";
    this.owner = owner;
    this.detail = detail;
  }
}

/** `deployment/NAME` or `cronjob/NAME`. */
export function parseOwnerRef(text: string): OwnerRef {
  const m = /^(deployment|cronjob)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m?.[1] || !m[2] || m[2].length > 253) {
    throw new OwnerError("usage", JSON.stringify(text), "expected deployment/NAME or cronjob/NAME in the process's namespace, e.g. deployment/agentgate-gateway");
  }
  return { kind: m[1] as OwnerKind, name: m[2] };
}

export interface ResolveOptions {
  /** tries before giving up on an API server that does not answer (default 5) */
  attempts?: number;
  /** the first wait between tries, doubled each time (default 1000 ms) */
  retryMs?: number;
}

/**
 * Reads the owner's uid. A missing owner or a refused read is a mistake in
 * the flags or the RBAC and fails at once; an API server that does not
 * answer is tried again a few times.
 */
export async function resolveOwner(api: KubeApi, namespace: string, flag: OwnerRef, opts: ResolveOptions = {}): Promise<Owner> {
  const kind = KINDS[flag.kind];
  const what = `${flag.kind}/${flag.name}`;
  const path = `${listPath(kind, namespace)}/${encodeURIComponent(flag.name)}`;
  const read = async (): Promise<k8s.V1ObjectMeta | undefined> => (await api.get<{ metadata?: k8s.V1ObjectMeta }>(path)).metadata;
  const attempts = Math.max(1, opts.attempts ?? 5);
  for (let attempt = 1; ; attempt++) {
    try {
      const uid = (await read())?.uid;
      if (!uid) throw new OwnerError("unavailable", what, "the API server returned it without a uid");
      return { namespace, reference: { apiVersion: apiVersionOf(kind), kind: kind.kind, name: flag.name, uid } };
    } catch (err) {
      if (err instanceof OwnerError) throw err;
      const code = statusCode(err);
      if (code === 404) throw new OwnerError("usage", what, `no ${kind.kind} ${flag.name} in namespace ${namespace}`, { cause: err });
      if (code === 401 || code === 403) throw new OwnerError("usage", what, `reading it was refused (HTTP ${String(code)}); this process needs get on ${kind.plural}.${kind.group} named ${flag.name} in ${namespace}`, { cause: err });
      if (attempt >= attempts) throw new OwnerError("unavailable", what, `cannot read it from the API server after ${String(attempts)} tries: ${describeError(err)}`, { cause: err });
      await new Promise((r) => setTimeout(r, (opts.retryMs ?? 1000) * 2 ** (attempt - 1)));
    }
  }
}

/**
 * The ownerReferences an object in `namespace` is written with: those it
 * has, with the owner added (replacing a reference to an earlier object of
 * the same kind and name, which is gone). In another namespace nothing is
 * added: the garbage collector looks an owner up in its dependent's
 * namespace, and finding none there it would delete the object.
 */
export function withOwner(existing: readonly k8s.V1OwnerReference[] | undefined, owner: Owner | undefined, namespace: string): k8s.V1OwnerReference[] | undefined {
  if (!owner || owner.namespace !== namespace) return existing ? [...existing] : undefined;
  const ours = owner.reference;
  if (existing?.some((r) => r.uid === ours.uid)) return [...existing];
  const others = (existing ?? []).filter((r) => !(r.apiVersion === ours.apiVersion && r.kind === ours.kind && r.name === ours.name));
  return [...others, ours];
}

/** Whether an object in `namespace` should be written again to name the owner (one an earlier version made). */
export function lacksOwner(existing: readonly k8s.V1OwnerReference[] | undefined, owner: Owner | undefined, namespace: string): boolean {
  return owner !== undefined && owner.namespace === namespace && !(existing ?? []).some((r) => r.uid === owner.reference.uid);
}
