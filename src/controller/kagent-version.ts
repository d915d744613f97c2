// Which kagent a cluster runs, told from the API server's discovery.
//
// agentgate drives kagent's Deployment-backed `kagent.dev/v1alpha2` Agent, as
// released kagent serves it (v0.9.0–v0.9.12, v0.10.0-rc1–rc3). kagent's main
// branch removed that Agent's controller (commit ae5a948ea "refactor: remove
// deployment-backed agent API (#2422)"): the API server still accepts a
// v1alpha2 Agent (agents.kagent.dev keeps v1alpha1 + v1alpha2), but nothing
// reconciles it, so a run would wait for Ready until it times out. No release
// tag serves `kagent.dev/v1alpha3`; main serves it for SandboxAgent and its
// new kinds AgentTemplate and Harness (helm/kagent-crds/templates at main:
// kagent.dev_agenttemplates.yaml, kagent.dev_harnesses.yaml). That is the test.
import * as k8s from "@kubernetes/client-node";

export const KAGENT_API_GROUP = "kagent.dev";

const SUPPORTED = "agentgate supports kagent v0.9.x and v0.10 release candidates";
/** Kinds only kagent's main branch has. */
const MAIN_ONLY_KINDS = ["AgentTemplate", "Harness"];

/** The parts of discovery this reads, as the API server returns them. */
export interface KagentDiscovery {
  /** GET /apis (APIGroupList) */
  groups: { groups: { name: string; versions: { groupVersion: string; version: string }[] }[] };
  /** GET /apis/kagent.dev/<version> (APIResourceList) for the kagent.dev versions that could be read */
  resources?: { groupVersion: string; resources: { name: string; kind: string }[] }[];
}

export type KagentSupport =
  /** Deployment-backed v1alpha2 Agents: a release agentgate drives */
  | { state: "supported"; versions: string[]; message: string }
  /** v1alpha3 served: kagent's main branch, which no longer runs v1alpha2 Agents */
  | { state: "main"; versions: string[]; message: string }
  /** no kagent Agent API at all (or only kmcp's kagent.dev/v1alpha1 MCPServer) */
  | { state: "not-installed"; versions: string[]; message: string };

function kindsOf(d: KagentDiscovery, version: string): string[] | undefined {
  const list = d.resources?.find((r) => r.groupVersion === `${KAGENT_API_GROUP}/${version}`);
  // subresources ("agents/status") are not kinds of their own
  // discovery lists resources in no particular order; a message should not depend on it
  return list ? [...new Set(list.resources.filter((r) => !r.name.includes("/")).map((r) => r.kind))].sort() : undefined;
}

export function kagentSupport(d: KagentDiscovery): KagentSupport {
  const group = d.groups.groups.find((g) => g.name === KAGENT_API_GROUP);
  const versions = group ? group.versions.map((v) => v.version) : [];
  if (versions.includes("v1alpha3")) {
    const kinds = kindsOf(d, "v1alpha3");
    const named = kinds ? kinds.filter((k) => MAIN_ONLY_KINDS.includes(k)) : [];
    const shown = named.length > 0 ? named : (kinds ?? []);
    return {
      state: "main",
      versions,
      message: `kagent on this cluster serves ${KAGENT_API_GROUP}/v1alpha3${shown.length > 0 ? ` (${shown.join(", ")})` : ""}: its main branch, which no longer runs v1alpha2 Agents; ${SUPPORTED}`,
    };
  }
  if (!group) return { state: "not-installed", versions, message: `kagent is not installed on this cluster (the API server serves no ${KAGENT_API_GROUP} group); ${SUPPORTED}` };
  const v1alpha2 = kindsOf(d, "v1alpha2");
  if (!versions.includes("v1alpha2") || (v1alpha2 !== undefined && !v1alpha2.includes("Agent"))) {
    return {
      state: "not-installed",
      versions,
      message: `kagent's Agent API (agents.${KAGENT_API_GROUP}/v1alpha2) is not served on this cluster (${KAGENT_API_GROUP} serves ${versions.join(", ") || "nothing"}${versions.length === 1 && versions[0] === "v1alpha1" ? ", as kmcp alone does" : ""}); ${SUPPORTED}`,
    };
  }
  return { state: "supported", versions, message: `kagent on this cluster serves ${KAGENT_API_GROUP}/v1alpha2 Agents backed by Deployments, as its releases do; ${SUPPORTED}` };
}

/** Reads discovery and says which kagent the cluster runs. */
export async function readKagentSupport(kc: k8s.KubeConfig): Promise<KagentSupport> {
  const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
  const discovery: KagentDiscovery = { groups, resources: [] };
  const group = groups.groups.find((g) => g.name === KAGENT_API_GROUP);
  if (group) {
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    for (const v of group.versions) {
      try {
        discovery.resources?.push(await custom.getAPIResources({ group: KAGENT_API_GROUP, version: v.version }));
      } catch {
        // a version whose resource list cannot be read is judged by its name alone
      }
    }
  }
  return kagentSupport(discovery);
}
