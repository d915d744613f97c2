import { test } from "node:test";
import assert from "node:assert/strict";
import { canSelectAgentPods, checkAgentIsolation, type SelectorContext } from "./network-isolation.ts";

const CNP: SelectorContext = { kind: "CiliumNetworkPolicy", namespace: "team" };
const exprs = (...e: { key: string; operator: string; values?: string[] }[]) => ({ matchExpressions: e });

const selectors: { name: string; selector: unknown; selects: boolean; on?: SelectorContext }[] = [
  { name: "empty selector (every pod)", selector: {}, selects: true },
  { name: "absent selector", selector: undefined, selects: true },
  { name: "app: kagent", selector: { matchLabels: { app: "kagent" } }, selects: true },
  { name: "a run's agent by name", selector: { matchLabels: { kagent: "r1-agent" } }, selects: true },
  { name: "a run label", selector: { matchLabels: { "agent.tekton.dev/run": "r1" } }, selects: true },
  { name: "another app", selector: { matchLabels: { app: "web" } }, selects: false },
  { name: "a label agentgate cannot vouch for (any pod may be given it)", selector: { matchLabels: { role: "db" } }, selects: true },
  { name: "role In [web]: an unknown key", selector: exprs({ key: "role", operator: "In", values: ["web"] }), selects: true },
  { name: "role NotIn [web]: an unknown key", selector: exprs({ key: "role", operator: "NotIn", values: ["web"] }), selects: true },
  { name: "role Exists", selector: exprs({ key: "role", operator: "Exists" }), selects: true },
  { name: "pod-template-hash Exists (the ReplicaSet's label)", selector: exprs({ key: "pod-template-hash", operator: "Exists" }), selects: true },
  { name: "pod-template-hash DoesNotExist (Cilium leaves it out of identities)", selector: exprs({ key: "pod-template-hash", operator: "DoesNotExist" }), selects: true },
  { name: "an unknown key, excluded through app", selector: { matchLabels: { role: "db", app: "web" } }, selects: false },
  { name: "an unknown key, excluded through kagent's own label", selector: exprs({ key: "role", operator: "In", values: ["web"] }, { key: "kagent", operator: "DoesNotExist" }), selects: false },
  { name: "the run label DoesNotExist excludes nothing (kagent may not copy it onto the pods)", selector: exprs({ key: "role", operator: "In", values: ["web"] }, { key: "agent.tekton.dev/run", operator: "DoesNotExist" }), selects: true },
  { name: "kagent In [a-agent] and NotIn [a-agent]: no one value meets both", selector: exprs({ key: "kagent", operator: "In", values: ["a-agent"] }, { key: "kagent", operator: "NotIn", values: ["a-agent"] }), selects: false },
  { name: "kagent In [a-agent, b-agent] and NotIn [a-agent]", selector: exprs({ key: "kagent", operator: "In", values: ["a-agent", "b-agent"] }, { key: "kagent", operator: "NotIn", values: ["a-agent"] }), selects: true },
  { name: "role In [web] and role DoesNotExist: no labelling meets both", selector: exprs({ key: "role", operator: "In", values: ["web"] }, { key: "role", operator: "DoesNotExist" }), selects: false },
  { name: "Cilium: k8s:io.kubernetes.pod.namespace: team (the policy's namespace)", selector: { matchLabels: { "k8s:io.kubernetes.pod.namespace": "team" } }, selects: true, on: CNP },
  { name: "Cilium: io.kubernetes.pod.namespace: other (a namespaced policy never selects there)", selector: { matchLabels: { "io.kubernetes.pod.namespace": "other" } }, selects: false, on: CNP },
  { name: "Cilium: the namespace's name label", selector: { matchLabels: { "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name": "team" } }, selects: true, on: CNP },
  { name: "Cilium: another namespace label (its owner's to set)", selector: { matchLabels: { "k8s:io.cilium.k8s.namespace.labels.tier": "web" } }, selects: true, on: CNP },
  { name: "Cilium: a run's ServiceAccount", selector: { matchLabels: { "io.cilium.k8s.policy.serviceaccount": "agentgate-run-r1" } }, selects: true, on: CNP },
  { name: "Cilium: another ServiceAccount", selector: { matchLabels: { "k8s:io.cilium.k8s.policy.serviceaccount": "web" } }, selects: false, on: CNP },
  { name: "Cilium: the cluster label", selector: { matchLabels: { "io.cilium.k8s.policy.cluster": "default" } }, selects: true, on: CNP },
  { name: "Cilium: any:app: web", selector: { matchLabels: { "any:app": "web" } }, selects: false, on: CNP },
  { name: "Cilium: $init (reserved, not a pod label agentgate models)", selector: exprs({ key: "$init", operator: "Exists" }), selects: true, on: CNP },
  { name: "Cilium: container:app DoesNotExist (another source excludes nothing)", selector: exprs({ key: "container:app", operator: "DoesNotExist" }), selects: true, on: CNP },
  { name: "Cilium: k8s:kagent DoesNotExist (the advised exclusion)", selector: exprs({ key: "k8s:kagent", operator: "DoesNotExist" }), selects: false, on: CNP },
  { name: "a NetworkPolicy: io.kubernetes.pod.namespace is any pod label to a CNI other than Cilium", selector: exprs({ key: "io.kubernetes.pod.namespace", operator: "DoesNotExist" }), selects: true },
  { name: "app NotIn [web]", selector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] }, selects: true },
  { name: "app NotIn [kagent]", selector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["kagent"] }] }, selects: false },
  { name: "kagent DoesNotExist (the advised exclusion)", selector: { matchExpressions: [{ key: "kagent", operator: "DoesNotExist" }] }, selects: false },
  { name: "kagent Exists", selector: { matchExpressions: [{ key: "kagent", operator: "Exists" }] }, selects: true },
  { name: "role DoesNotExist", selector: { matchExpressions: [{ key: "role", operator: "DoesNotExist" }] }, selects: true },
  { name: "kagent In [x] (not a run's agent name)", selector: { matchExpressions: [{ key: "kagent", operator: "In", values: ["x"] }] }, selects: false },
  { name: "kagent NotIn [r1-agent]: another run's agent", selector: { matchExpressions: [{ key: "kagent", operator: "NotIn", values: ["r1-agent"] }] }, selects: true },
  { name: "an unknown operator", selector: { matchExpressions: [{ key: "app", operator: "Near", values: [] }] }, selects: true },
  { name: "an unreadable selector", selector: "everything", selects: true },
];
for (const c of selectors) {
  test(`canSelectAgentPods: ${c.name}`, () => {
    assert.equal(canSelectAgentPods(c.selector, c.on), c.selects);
  });
}

const policy = (spec: Record<string, unknown>) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "p", namespace: "qe" }, spec });

test("agent-isolation: an allow-all selecting every pod is refused, saying how to exclude agent pods", () => {
  const [v] = checkAgentIsolation(policy({ podSelector: {}, policyTypes: ["Egress"], egress: [{}] }));
  assert.equal(v?.policy, "agent-isolation");
  assert.equal(v?.field, "spec.podSelector");
  assert.match(v?.message ?? "", /^this NetworkPolicy can select .*add \{key: kagent, operator: DoesNotExist\}/);
});

test("agent-isolation: ingress rules widen too", () => {
  assert.equal(checkAgentIsolation(policy({ podSelector: { matchLabels: { app: "kagent" } }, ingress: [{ from: [{ podSelector: {} }] }] })).length, 1);
});

test("agent-isolation: a default-deny (no rules) and a policy excluding agent pods are allowed", () => {
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: {}, policyTypes: ["Ingress", "Egress"] })), []);
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: {}, policyTypes: ["Egress"], egress: [] })), []);
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: { matchExpressions: [{ key: "kagent", operator: "DoesNotExist" }] }, egress: [{}] })), []);
});

test("agent-isolation: a CiliumNetworkPolicy is judged by its endpointSelector, Cilium's label prefixes read, in spec and in specs", () => {
  const cnp = (spec: Record<string, unknown>, specs?: Record<string, unknown>[]) => ({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "c", namespace: "qe" }, spec, ...(specs ? { specs } : {}) });
  const [v] = checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { "k8s:app": "kagent" } }, egress: [{ toFQDNs: [{ matchPattern: "*" }] }] }));
  assert.equal(v?.field, "spec.endpointSelector");
  assert.match(v?.message ?? "", /^this CiliumNetworkPolicy can select .*k8s:kagent, operator: DoesNotExist/);
  assert.deepEqual(checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { "k8s:app": "web" } }, egress: [{}] })), []);
  assert.equal(checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { "k8s:io.kubernetes.pod.namespace": "qe" } }, egress: [{}] })).length, 1, "the policy's own namespace is every pod it can select");
  assert.deepEqual(checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { "k8s:io.kubernetes.pod.namespace": "elsewhere" } }, egress: [{}] })), []);
  assert.deepEqual(checkAgentIsolation(cnp({ endpointSelector: {}, egressDeny: [{ toEntities: ["world"] }] })), [], "deny rules only narrow");
  assert.equal(checkAgentIsolation(cnp({ endpointSelector: { matchLabels: { app: "web" } } }, [{ endpointSelector: {}, ingress: [{}] }]))[0]?.field, "specs[0].endpointSelector");
});

test("agent-isolation: a policy selecting through a label agentgate cannot vouch for is refused, one excluding agent pods by a label they carry is not", () => {
  assert.equal(checkAgentIsolation(policy({ podSelector: { matchLabels: { role: "web" } }, egress: [{}] })).length, 1);
  assert.equal(checkAgentIsolation(policy({ podSelector: { matchExpressions: [{ key: "pod-template-hash", operator: "Exists" }] }, ingress: [{}] })).length, 1);
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: { matchLabels: { role: "web" }, matchExpressions: [{ key: "kagent", operator: "DoesNotExist" }] }, egress: [{}] })), []);
  assert.deepEqual(checkAgentIsolation(policy({ podSelector: { matchExpressions: [{ key: "kagent", operator: "DoesNotExist" }] }, egress: [{}] })), []);
});
