// Which namespaces admission never looks at (docs/policy-contract.md): agentgate's own (so
// the gateway never needs itself to start, update or delete its own pods and
// objects) and kube-system. The webhook configurations leave them out, and
// admit() answers "exempt" for them before any policy runs; `serve`,
// `review` and audit use the same set.
export const SYSTEM_EXEMPT_NAMESPACES: readonly string[] = ["kube-system"];

export function exemptNamespaces(ownNamespace: string): ReadonlySet<string> {
  return new Set([ownNamespace, ...SYSTEM_EXEMPT_NAMESPACES]);
}
