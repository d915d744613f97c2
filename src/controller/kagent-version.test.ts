import { test } from "node:test";
import assert from "node:assert/strict";
import type { KagentDiscovery, KagentSupport } from "./kagent-version.ts";
import { kagentSupport } from "./kagent-version.ts";

// Discovery as kube-apiserver answers it: GET /apis lists each group with its
// served versions (highest priority first), GET /apis/<group>/<version> the
// resources, subresources included. The kagent.dev versions per CRD are those
// of helm/kagent-crds/templates at the tag named.
const group = (name: string, ...versions: string[]) => ({
  name,
  versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
  preferredVersion: { groupVersion: `${name}/${versions[0] ?? ""}`, version: versions[0] ?? "" },
});
const resources = (version: string, kinds: [string, string][]) => ({
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: `kagent.dev/${version}`,
  resources: kinds.flatMap(([name, kind]) => [
    { name, singularName: kind.toLowerCase(), namespaced: true, kind, verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"], storageVersionHash: "x" },
    { name: `${name}/status`, singularName: "", namespaced: true, kind, verbs: ["get", "patch", "update"] },
  ]),
});
const others = [group("apps", "v1"), group("rbac.authorization.k8s.io", "v1"), group("tekton.dev", "v1", "v1beta1"), group("agent.tekton.dev", "v1alpha1")];

// v0.9.12 / v0.10.0-rc3: agents, modelconfigs v1alpha1+v1alpha2; memories, toolservers v1alpha1; the rest v1alpha2; kmcp's mcpservers v1alpha1
const release: KagentDiscovery = {
  groups: { groups: [...others, group("kagent.dev", "v1alpha2", "v1alpha1")] },
  resources: [
    resources("v1alpha2", [["agentharnesses", "AgentHarness"], ["agents", "Agent"], ["modelconfigs", "ModelConfig"], ["modelproviderconfigs", "ModelProviderConfig"], ["remotemcpservers", "RemoteMCPServer"], ["sandboxagents", "SandboxAgent"]]),
    resources("v1alpha1", [["agents", "Agent"], ["memories", "Memory"], ["modelconfigs", "ModelConfig"], ["toolservers", "ToolServer"], ["mcpservers", "MCPServer"]]),
  ],
};
// main at 5229184e: v1alpha3 served for SandboxAgent, ModelConfig, RemoteMCPServer, ModelProviderConfig, AgentHarness and the new AgentTemplate, Harness
const main: KagentDiscovery = {
  groups: { groups: [...others, group("kagent.dev", "v1alpha3", "v1alpha2", "v1alpha1")] },
  resources: [
    resources("v1alpha3", [["agentharnesses", "AgentHarness"], ["agenttemplates", "AgentTemplate"], ["harnesses", "Harness"], ["modelconfigs", "ModelConfig"], ["modelproviderconfigs", "ModelProviderConfig"], ["remotemcpservers", "RemoteMCPServer"], ["sandboxagents", "SandboxAgent"]]),
    ...(release.resources ?? []),
  ],
};

const cases: { name: string; discovery: KagentDiscovery; state: KagentSupport["state"]; message?: string | RegExp }[] = [
  { name: "a release (v0.9.x, v0.10 rc): v1alpha2 Agents", discovery: release, state: "supported", message: /serves kagent\.dev\/v1alpha2 Agents backed by Deployments/ },
  { name: "a release whose resource lists could not be read: judged by the versions", discovery: { groups: release.groups }, state: "supported" },
  {
    name: "main: v1alpha3 with AgentTemplate and Harness",
    discovery: main,
    state: "main",
    message: "kagent on this cluster serves kagent.dev/v1alpha3 (AgentTemplate, Harness): its main branch, which no longer runs v1alpha2 Agents; agentgate supports kagent v0.9.x and v0.10 release candidates",
  },
  {
    name: "main, resources listed in another order",
    discovery: { groups: main.groups, resources: (main.resources ?? []).map((r) => ({ ...r, resources: [...r.resources].reverse() })) },
    state: "main",
    message: /\(AgentTemplate, Harness\)/,
  },
  { name: "main, even though agents.kagent.dev/v1alpha2 is still served", discovery: { groups: main.groups, resources: release.resources ?? [] }, state: "main", message: /^kagent on this cluster serves kagent\.dev\/v1alpha3: its main branch/ },
  { name: "no kagent.dev group", discovery: { groups: { groups: others } }, state: "not-installed", message: "kagent is not installed on this cluster (the API server serves no kagent.dev group); agentgate supports kagent v0.9.x and v0.10 release candidates" },
  {
    name: "kmcp alone (kagent.dev/v1alpha1 MCPServer)",
    discovery: { groups: { groups: [...others, group("kagent.dev", "v1alpha1")] }, resources: [resources("v1alpha1", [["mcpservers", "MCPServer"]])] },
    state: "not-installed",
    message: /agents\.kagent\.dev\/v1alpha2\) is not served on this cluster \(kagent\.dev serves v1alpha1, as kmcp alone does\)/,
  },
  {
    name: "v1alpha2 served but without Agent",
    discovery: { groups: { groups: [group("kagent.dev", "v1alpha2")] }, resources: [resources("v1alpha2", [["remotemcpservers", "RemoteMCPServer"]])] },
    state: "not-installed",
  },
];

for (const c of cases) {
  test(`kagentSupport: ${c.name}`, () => {
    const got = kagentSupport(c.discovery);
    assert.equal(got.state, c.state, got.message);
    if (typeof c.message === "string") assert.equal(got.message, c.message);
    else if (c.message) assert.match(got.message, c.message);
  });
}
