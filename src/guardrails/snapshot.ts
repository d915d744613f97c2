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

/**
 * The digest of what kagent reads from a tool server: its spec, and for a
 * Service also the kagent.dev/mcp-service-* annotations that choose its
 * port, path and protocol (kagent's ConvertServiceToRemoteMCPServer). The
 * Service's spec alone is the digest where it has none of them, so runs
 * admitted before these were counted still match.
 */
export function toolServerSha256(kind: string, server: KubeObject): string {
  const annotations = Object.entries(server.metadata?.annotations ?? {}).filter(([k]) => k.startsWith("kagent.dev/mcp-service-"));
  if (kind !== "Service" || annotations.length === 0) return specSha256(server);
  return sha256(canonicalJson({ spec: server.spec ?? null, annotations: Object.fromEntries(annotations) }));
}

export function buildSnapshot(config: AgentConfig, context: PolicyContext, guardrails: Guardrails): Snapshot {
  const ns = config.metadata?.namespace ?? "";
  const model = context.modelConfig;
  const toolServers: Snapshot["toolServers"] = {};
  for (const t of guardrails.tools) {
    const server = context.toolServers[t.server];
    toolServers[t.server] = { kind: t.kind, sha256: server ? toolServerSha256(t.kind, server) : null };
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
