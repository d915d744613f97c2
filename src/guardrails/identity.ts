// Who the gateway trusts to change what it stamped and what it manages.

export interface Identity {
  /** agentgate's own ServiceAccounts (gateway and controller), as usernames */
  readonly trusted: ReadonlySet<string>;
  /** may delete managed objects (garbage collection, namespace deletion) but change nothing */
  readonly deleters: ReadonlySet<string>;
}

export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export const SYSTEM_DELETERS: readonly string[] = [
  serviceAccountUser("kube-system", "generic-garbage-collector"),
  serviceAccountUser("kube-system", "namespace-controller"),
  // kube-controller-manager running with its own credentials (no per-controller SAs)
  "system:kube-controller-manager",
];

export function makeIdentity(trusted: Iterable<string>, deleters: Iterable<string> = SYSTEM_DELETERS): Identity {
  return { trusted: new Set(trusted), deleters: new Set(deleters) };
}
