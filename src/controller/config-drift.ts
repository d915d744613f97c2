// What runs must be what was approved: the ModelConfig and tool servers a
// run's snapshot recorded, compared with the cluster's (kagent reads them by
// name on every reconcile of the run's Agent). Checked when the Agent is
// first made and, while the agent acts, every few seconds.
import { specSha256, toolServerSha256 } from "../guardrails/snapshot.ts";
import type { Snapshot, ToolServerKind } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { GVR, type Kube } from "./kube.ts";

/** When the next check is due: now, or after `waitMs` (what is left of `everyMs` since the last one). */
export function nextDriftCheck(now: number, last: number | undefined, everyMs: number): { due: true } | { due: false; waitMs: number } {
  if (last === undefined || now - last >= everyMs) return { due: true };
  return { due: false, waitMs: everyMs - (now - last) };
}

function toolServer(kube: Kube, kind: ToolServerKind, namespace: string, name: string): Promise<KubeObject | null> {
  if (kind === "Service") return kube.getObject({ apiVersion: "v1", kind: "Service", namespace, name });
  return kube.get(kind === "MCPServer" ? GVR.mcpServers : GVR.remoteMcpServers, namespace, name);
}

/** What changed since the run was admitted, in one line for its condition; undefined when nothing did. */
export async function changedSinceAdmission(kube: Kube, namespace: string, snapshot: Snapshot): Promise<string | undefined> {
  const model = snapshot.modelConfig;
  if (model) {
    const live = await kube.get(GVR.modelConfigs, model.namespace, model.name);
    if (!live) return `ModelConfig "${model.namespace}/${model.name}" the run was admitted with no longer exists`;
    if (specSha256(live) !== model.sha256) return `ModelConfig "${model.namespace}/${model.name}" changed after the run was admitted; what runs must be what was approved, so create a new AgentRun`;
  }
  for (const [key, server] of Object.entries(snapshot.toolServers)) {
    const [sns = namespace, sname = ""] = key.split("/");
    const live = await toolServer(kube, server.kind, sns, sname);
    const now = live ? toolServerSha256(server.kind, live) : null;
    if (now !== server.sha256) return `${server.kind} "${key}" ${live ? "changed" : "is gone"} since the run was admitted; what runs must be what was approved, so create a new AgentRun`;
  }
  return undefined;
}
