// The policy config in effect for one namespace (docs/policy-contract.md): the base config
// with the namespace's `agent.tekton.dev/guardrail-profile` profile
// deep-merged over it. The Rego of the default bundle makes the same merge
// (`cfg` in policies/agentgate/lib.rego) for its own rules; this is the one
// TypeScript copy, for what the gateway stamps itself (budget fallbacks,
// approver groups). profile.test.ts checks that both agree on the same data.
import { PROFILE_LABEL } from "../types/agent.ts";
import { isRecord } from "../types/kube.ts";
import type { NamespaceContext } from "../types/policy.ts";
import { mergeOverride } from "../policy/merge.ts";

/** The profile a namespace selects, or undefined (no label, unknown or empty profile). */
export function namespaceProfile(policyConfig: Record<string, unknown>, namespace: NamespaceContext | null): Record<string, unknown> | undefined {
  const labels: unknown = namespace?.labels;
  const name: unknown = isRecord(labels) ? labels[PROFILE_LABEL] : undefined;
  if (typeof name !== "string") return undefined;
  const profiles = policyConfig.profiles;
  const profile: unknown = isRecord(profiles) && Object.hasOwn(profiles, name) ? profiles[name] : undefined;
  return isRecord(profile) && Object.keys(profile).length > 0 ? profile : undefined;
}

/** Rego's object.union: objects merge key by key, anything else (lists too) is replaced. */
export function effectiveConfig(policyConfig: Record<string, unknown>, namespace: NamespaceContext | null): Record<string, unknown> {
  const profile = namespaceProfile(policyConfig, namespace);
  return profile === undefined ? policyConfig : (mergeOverride(policyConfig, profile) as Record<string, unknown>);
}
