// The policy config in effect for one namespace (docs/policy-contract.md): the base config
// with the namespace's `agent.tekton.dev/guardrail-profile` profile
// deep-merged over it, where the profile's `namespaces` bind it there. The Rego of the default bundle makes the same merge
// (`cfg` in policies/agentgate/lib.rego) for its own rules; this is the one
// TypeScript copy, for what the gateway stamps itself (budget fallbacks,
// approver groups). profile.test.ts checks that both agree on the same data.
import { PROFILE_LABEL } from "../types/agent.ts";
import { isRecord } from "../types/kube.ts";
import type { NamespaceContext } from "../types/policy.ts";
import { mergeOverride } from "../policy/merge.ts";

/** A profile's `namespaces`: names, or prefixes ending in "*". */
export function profileBinds(profile: Record<string, unknown>, namespace: string): boolean {
  const patterns = profile.namespaces;
  if (!Array.isArray(patterns)) return false;
  return patterns.some((p) => typeof p === "string" && (p.endsWith("*") ? namespace.startsWith(p.slice(0, -1)) : p === namespace));
}

/**
 * The profile a namespace selects, or undefined (no label, unknown or empty
 * profile, or one the platform did not bind to this namespace: a tenant who
 * can label namespaces cannot pick a looser profile for theirs).
 */
export function namespaceProfile(policyConfig: Record<string, unknown>, namespace: NamespaceContext | null): Record<string, unknown> | undefined {
  const labels: unknown = namespace?.labels;
  const name: unknown = isRecord(labels) ? labels[PROFILE_LABEL] : undefined;
  if (typeof name !== "string" || !namespace) return undefined;
  const profiles = policyConfig.profiles;
  const raw: unknown = isRecord(profiles) && Object.hasOwn(profiles, name) ? profiles[name] : undefined;
  if (!isRecord(raw) || !profileBinds(raw, namespace.name)) return undefined;
  const { namespaces: _namespaces, ...profile } = raw;
  return Object.keys(profile).length > 0 ? profile : undefined;
}

/** Rego's object.union: objects merge key by key, anything else (lists too) is replaced. */
export function effectiveConfig(policyConfig: Record<string, unknown>, namespace: NamespaceContext | null): Record<string, unknown> {
  const profile = namespaceProfile(policyConfig, namespace);
  return profile === undefined ? policyConfig : (mergeOverride(policyConfig, profile) as Record<string, unknown>);
}
