import { test } from "node:test";
import assert from "node:assert/strict";
import { canSelectAgentPods, checkAgentIsolation } from "./network-isolation.ts";

const selectors: { name: string; selector: unknown; selects: boolean }[] = [
  { name: "empty selector (every pod)", selector: {}, selects: true },
  { name: "absent selector", selector: undefined, selects: true },
  { name: "app: kagent", selector: { matchLabels: { app: "kagent" } }, selects: true },
  { name: "a run's agent by name", selector: { matchLabels: { kagent: "r1-agent" } }, selects: true },
  { name: "a run label", selector: { matchLabels: { "agent.tekton.dev/run": "r1" } }, selects: true },
  { name: "another app", selector: { matchLabels: { app: "web" } }, selects: false },
  { name: "a label agent pods do not carry", selector: { matchLabels: { role: "db" } }, selects: false },
  { name: "app NotIn [web]", selector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] }, selects: true },
  { name: "app NotIn [kagent]", selector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["kagent"] }] }, selects: false },
  { name: "run label DoesNotExist (the advised exclusion)", selector: { matchExpressions: [{ key: "agent.tekton.dev/run", operator: "DoesNotExist" }] }, selects: false },
  { name: "kagent Exists", selector: { matchExpressions: [{ key: "kagent", operator: "Exists" }] }, selects: true },
  { name: "role DoesNotExist", selector: { matchExpressions: [{ key: "role", operator: "DoesNotExist" }] }, selects: true },
  { name: "kagent In [x] (not a run's agent name)", selector: { matchExpressions: [{ key: "kagent", operator: "In", values: ["x"] }] }, selects: false },
  { name: "kagent NotIn [r1-agent]: another run's agent", selector: { matchExpressions: [{ key: "kagent", operator: "NotIn", values: ["r1-agent"] }] }, selects: true },
  { name: "an unknown operator", selector: { matchExpressions: [{ key: "app", operator: "Near", values: [] }] }, selects: true },
  { name: "an unreadable selector", selector: "everything", selects: true },
];
for (const c of selectors) {
  test(`canSelectAgentPods: ${c.name}`, () => {
    assert.equal(canSelectAgentPods(c.selector), c.selects);
  });
}

const policy = (spec: Record<string, unknown>) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "p", namespace: "qe" }, spec });

test("agent-isolation: an allow-all selecting every pod is refused, saying how to exclude agent pods", () => {
  const [v] = checkAgentIsolation(policy({ podSelector: {}, policyTypes: ["Egress"], egress: [{}] }));
  assert.equal(v?.policy, "agent-isolation");
  assert.equal(v?.field, "spec.podSelector");
  assert.match(v?.message ?? "", /^this NetworkPolicy can select .*add \{key: agent\.tekton\.dev\/run, operator: DoesNotExist\}/);
});

test("agent-isolation: ingress rules widen too", () => {
  assert.equal(checkAgentIsolation(policy({ podSelector: { matchLabels: { app: "kagent" } }, ingress: [{ from: [{ podSelector: {} }] }] })).length, 1);
});

test("agent-isolation: a default-deny (no rules) and a policy excluding agent pods are allowed", () => {
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: {}, policyTypes: ["Ingress", "Egress"] })), []);
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: {}, policyTypes: ["Egress"], egress: [] })), []);
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: { matchExpressions: [{ key: "agent.tekton.dev/run", operator: "DoesNotExist" }] }, egress: [{}] })), []);
});

test("agent-isolation: a CiliumNetworkPolicy is judged by its endpointSelector, Cilium's label prefixes read, in spec and in specs", () => {
  const cnp = (spec: Record<string, unknown>, specs?: Record<string, unknown>[]) => ({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "c", namespace: "qe" }, spec, ...(specs ? { specs } : {}) });
  const [v] = checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { "k8s:app": "kagent" } }, egress: [{ toFQDNs: [{ matchPattern: "*" }] }] }));
  assert.equal(v?.field, "spec.endpointSelector");
  assert.match(v?.message ?? "", /^this CiliumNetworkPolicy can select .*k8s:agent\.tekton\.dev\/run, operator: DoesNotExist/);
  assert.deepEqual(checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { "k8s:app": "web" } }, egress: [{}] })), []);
  assert.deepEqual(checkAgentIsolation(cnp({ endpointSelector: {}, egressDeny: [{ toEntities: ["world"] }] })), [], "deny rules only narrow");
  assert.equal(checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { app: "web" } } }, [{ endpointSelector: {}, ingress: [{}] }]))[0]?.field, "specs[0].endpointSelector");
});
