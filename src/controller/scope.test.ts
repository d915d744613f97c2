import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentRun, Guardrails } from "../types/agent.ts";
import { networkPolicy, scopeObjects } from "./scope.ts";

const run: AgentRun = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r1", namespace: "qe", uid: "u-1" }, spec: {} };

function guardrails(over: Partial<Guardrails> = {}): Guardrails {
  return {
    tokenBudget: 1000,
    timeout: "15m",
    maxIterations: 5,
    networkPolicy: "strict",
    egress: [
      { purpose: "model", host: "api.anthropic.com", port: 443 },
      { purpose: "mcp:kagent/tools", host: "kagent-tools.kagent", port: 8084, service: { namespace: "kagent", name: "kagent-tools" } },
    ],
    rbac: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
    approval: { required: false, approverGroups: [] },
    tools: [],
    ...over,
  };
}

const apiServer = { ips: ["10.0.0.1"], port: 6443 };

test("scope: ServiceAccount, Role with exactly the stamped rules, RoleBinding, NetworkPolicy, all owned and labelled", () => {
  const objects = scopeObjects(run, guardrails(), apiServer);
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata?.name ?? ""}`), ["ServiceAccount/r1-sa", "Role/r1-role", "RoleBinding/r1-binding", "NetworkPolicy/r1-netpol"]);
  for (const o of objects) {
    assert.equal(o.metadata?.labels?.["app.kubernetes.io/managed-by"], "agentgate");
    assert.deepEqual(o.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [["AgentRun", "r1", "u-1", true]]);
  }
  assert.deepEqual((objects[1] as { rules: unknown }).rules, guardrails().rbac);
  assert.deepEqual((objects[2] as { subjects: unknown }).subjects, [{ kind: "ServiceAccount", name: "r1-sa", namespace: "qe" }]);
});

test("permissive runs get no NetworkPolicy", () => {
  assert.equal(scopeObjects(run, guardrails({ networkPolicy: "permissive" }), apiServer).length, 3);
});

test("strict NetworkPolicy: DNS, the API server only with RBAC rules, and each stamped endpoint", () => {
  type Egress = { to: Record<string, unknown>[]; ports?: { port: number }[] }[];
  const egress = (g: Guardrails) => ((networkPolicy(run, g, apiServer).spec as { egress: Egress }).egress);
  const withRbac = egress(guardrails());
  assert.deepEqual(withRbac.map((e) => e.ports?.map((p) => p.port).join(",") ?? "any"), ["53,53", "6443", "443", "8084"]);
  assert.deepEqual(withRbac[1]?.to, [{ ipBlock: { cidr: "10.0.0.1/32" } }]);
  assert.deepEqual(withRbac[3]?.to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kagent" } } }]);
  const withoutRbac = egress(guardrails({ rbac: [] }));
  assert.ok(!withoutRbac.some((e) => e.ports?.some((p) => p.port === 6443)), "no API server egress without RBAC rules");
  const spec = networkPolicy(run, guardrails(), apiServer).spec as { policyTypes: string[]; podSelector: unknown; ingress: unknown[] };
  assert.deepEqual(spec.policyTypes, ["Ingress", "Egress"]);
  assert.deepEqual(spec.ingress, []);
  assert.deepEqual(spec.podSelector, { matchLabels: { "agent.tekton.dev/run": "r1" } });
});
