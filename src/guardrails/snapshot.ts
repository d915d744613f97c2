// The frozen copy of what a run will execute (docs/trust-chain.md,
// "Snapshot"): taken when the run is admitted, signed with the decision,
// and what the controller runs: a config edited after approval changes
// nothing for runs already admitted, and a ModelConfig or tool server
// edited since makes the run fail rather than run something unapproved.
import { canonicalJson, sha256 } from "../signing/canonical.ts";
import type { AgentConfig, Guardrails, Snapshot } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import type { PolicyContext } from "../types/policy.ts";

/** The digest a snapshot records for an object's spec; the controller compares the live object's with it. */
export const specSha256 = (object: KubeObject | null | undefined): string => sha256(canonicalJson(object?.spec ?? null));

export function buildSnapshot(config: AgentConfig, context: PolicyContext, guardrails: Guardrails): Snapshot {
  const ns = config.metadata?.namespace ?? "";
  const model = context.modelConfig;
  const toolServers: Snapshot["toolServers"] = {};
  for (const t of guardrails.tools) {
    const server = context.toolServers[t.server];
    toolServers[t.server] = { kind: t.kind, sha256: server ? specSha256(server) : null };
  }
  return {
    config: { name: config.metadata?.name ?? "", spec: config.spec ?? {} },
    modelConfig: model ? { namespace: model.metadata?.namespace ?? ns, name: model.metadata?.name ?? "", sha256: specSha256(model) } : null,
    toolServers,
  };
}

/** Canonical, so the same snapshot always signs alike. */
export function serializeSnapshot(snapshot: Snapshot): string {
  return canonicalJson(snapshot);
}
