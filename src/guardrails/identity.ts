// Who the gateway trusts, and with what: agentgate's own identities change
// stamps and managed objects; kagent's controller makes the Deployment of a
// run's Agent; Tekton's controller makes CustomRuns for PipelineRuns; the
// built-in workload controllers make the ReplicaSets and pods under it;
// garbage collection deletes.

export interface Identity {
  /** agentgate's own ServiceAccounts (gateway and controller), as usernames */
  readonly trusted: ReadonlySet<string>;
  /** may delete managed objects (garbage collection, namespace deletion) but change nothing */
  readonly deleters: ReadonlySet<string>;
  /** kagent's controller: makes and keeps the Deployment, Service and Secret of an Agent */
  readonly kagent: ReadonlySet<string>;
  /** Tekton's controller: makes CustomRuns on behalf of whoever created the PipelineRun */
  readonly tekton: ReadonlySet<string>;
}

export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The ServiceAccount a username names, if it names one. */
export function parseServiceAccountUser(user: string): { namespace: string; name: string } | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  return m?.[1] && m[2] ? { namespace: m[1], name: m[2] } : undefined;
}

export const SYSTEM_DELETERS: readonly string[] = [
  serviceAccountUser("kube-system", "generic-garbage-collector"),
  serviceAccountUser("kube-system", "namespace-controller"),
  // kube-controller-manager running with its own credentials (no per-controller SAs)
  "system:kube-controller-manager",
];

/**
 * The built-in controllers that turn a Deployment into ReplicaSets and a
 * ReplicaSet into pods (kube-controller-manager with or without
 * --use-service-account-credentials).
 */
export const DEPLOYMENT_CONTROLLERS: readonly string[] = [serviceAccountUser("kube-system", "deployment-controller"), "system:kube-controller-manager"];
export const REPLICASET_CONTROLLERS: readonly string[] = [serviceAccountUser("kube-system", "replicaset-controller"), "system:kube-controller-manager"];

export const DEFAULT_KAGENT_USER = serviceAccountUser("kagent", "kagent-controller");
export const DEFAULT_TEKTON_USER = serviceAccountUser("tekton-pipelines", "tekton-pipelines-controller");

export interface IdentityOptions {
  deleters?: Iterable<string>;
  kagent?: Iterable<string>;
  tekton?: Iterable<string>;
}

export function makeIdentity(trusted: Iterable<string>, opts: IdentityOptions = {}): Identity {
  return {
    trusted: new Set(trusted),
    deleters: new Set(opts.deleters ?? SYSTEM_DELETERS),
    kagent: new Set(opts.kagent ?? [DEFAULT_KAGENT_USER]),
    tekton: new Set(opts.tekton ?? [DEFAULT_TEKTON_USER]),
  };
}
