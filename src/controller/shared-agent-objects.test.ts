// What a share is made of and how an applied object is told from what
// agentgate built: the one list of the share's objects, and the comparison
// that refuses other writers' fields while taking the API server's
// defaulting and serialisation as no change.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentConfig, Guardrails } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { driftFromDesired, shareObjectRefs, sharedObjects } from "./shared-agent-objects.ts";
import { shareNames } from "./shared-agent.ts";

const names = shareNames("a".repeat(64));
const pr = { name: "pr", uid: "pr-uid" };
const config: AgentConfig = { metadata: { name: "tester", namespace: "qe" }, spec: { modelConfigRef: { name: "m" }, systemPrompt: "You test." } };
const guardrails: Guardrails = { tokenBudget: 10, timeout: "1m", maxIterations: 1, networkPolicy: "strict", egress: [{ purpose: "model", host: "api.example.com", port: 443 }], rbac: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }], approval: { required: false, approverGroups: [] }, tools: [] };
const clone = <T>(o: T): T => structuredClone(o);

test("everything sharedObjects builds is in shareObjectRefs, with and without Cilium", () => {
  for (const fqdn of [false, true]) {
    const built = sharedObjects("qe", names, pr, config, guardrails, { fqdn, kagent: { kind: "ip", ip: "10.0.0.1", port: 8083 } }, "go");
    const refs = shareObjectRefs("qe", names, fqdn).map((r) => `${r.apiVersion}/${r.kind}/${r.name}`);
    for (const o of [...built.scope, built.agent]) assert.ok(refs.includes(`${o.apiVersion ?? ""}/${o.kind ?? ""}/${o.metadata?.name ?? ""}`), `${o.kind ?? ""} ${o.metadata?.name ?? ""} not listed`);
    assert.equal(built.scope.some((o) => o.kind === "CiliumNetworkPolicy"), fqdn);
  }
});

test("an applied object read back as built, with the API server's defaults and omitted empties, has no drift", () => {
  const built = sharedObjects("qe", names, pr, config, guardrails, { kagent: { kind: "unknown", host: "x", why: "test" } }, "go");
  for (const o of [...built.scope, built.agent]) assert.deepEqual(driftFromDesired(o, clone(o)), [], o.kind);
  const np = built.scope.find((o) => o.kind === "NetworkPolicy") as KubeObject & { spec: { ingress: unknown[]; egress: { ports?: Record<string, unknown>[] }[] } };
  assert.deepEqual(np.spec.ingress, [], "no kagent peer: no ingress rule");
  // Go's omitempty drops the empty ingress list; a port's protocol is defaulted to TCP.
  const served = clone(np);
  delete (served.spec as { ingress?: unknown }).ingress;
  assert.deepEqual(driftFromDesired(np, served), []);
  // As the client returns it: its model, `from` as `_from`, every member present (undefined when absent).
  const withPeer = sharedObjects("qe", names, pr, config, guardrails, { kagent: { kind: "ip", ip: "10.0.0.1", port: 8083 } }, "go").scope.find((o) => o.kind === "NetworkPolicy") as KubeObject & { spec: { ingress: Record<string, unknown>[] } };
  const model = clone(withPeer);
  model.spec.ingress = model.spec.ingress.map(({ from, ...rest }) => ({ ...rest, _from: from, unknownMember: undefined }));
  assert.deepEqual(driftFromDesired(withPeer, model), []);
  assert.deepEqual(driftFromDesired(withPeer, { ...clone(model), spec: { ...model.spec, ingress: model.spec.ingress.map((r) => ({ ...r, _from: [{ ipBlock: { cidr: "0.0.0.0/0" } }] })) } }), ["spec.ingress[0].from[0].ipBlock.cidr"]);
  const unset = clone(np);
  for (const rule of unset.spec.egress) for (const p of rule.ports ?? []) delete p.protocol;
  const defaulted = clone(unset);
  for (const rule of defaulted.spec.egress) for (const p of rule.ports ?? []) p.protocol = "TCP";
  assert.deepEqual(driftFromDesired(unset, defaulted), []);
  const udp = clone(unset);
  for (const rule of udp.spec.egress) for (const p of rule.ports ?? []) p.protocol = "UDP";
  assert.ok(driftFromDesired(unset, udp).length > 0, "a protocol agentgate left unset defaulted to anything but TCP is a change");
  const sa = built.scope.find((o) => o.kind === "ServiceAccount") as KubeObject;
  assert.deepEqual(driftFromDesired(sa, { ...clone(sa), secrets: [{ name: "t" }], imagePullSecrets: [{ name: "p" }], metadata: { ...sa.metadata, annotations: { "openshift.io/internal-registry-pull-secret-ref": "p" }, resourceVersion: "7", managedFields: [] } }), []);
  const rb = built.scope.find((o) => o.kind === "RoleBinding") as KubeObject & { subjects: Record<string, unknown>[] };
  assert.deepEqual(driftFromDesired(rb, { ...clone(rb), subjects: rb.subjects.map((s) => ({ ...s, apiGroup: "" })) }), []);
  // Annotations of kinds no consumer reads them from are not compared.
  assert.deepEqual(driftFromDesired(np, { ...clone(np), metadata: { ...np.metadata, annotations: { note: "x" } } }), []);
});

test("other writers' fields are drift: under spec, beside it, in a list, in an Agent's or ServiceAccount's annotations", () => {
  const built = sharedObjects("qe", names, pr, config, guardrails, { fqdn: true, kagent: { kind: "ip", ip: "10.0.0.1", port: 8083 } }, "go");
  const agent = built.agent as KubeObject & { spec: { declarative: Record<string, unknown> & { deployment: Record<string, unknown> } } };
  const tamper = (f: (a: typeof agent) => void) => { const a = clone(agent); f(a); return driftFromDesired(agent, a); };
  assert.deepEqual(tamper((a) => { a.spec.declarative.deployment.env = [{ name: "HTTPS_PROXY", value: "http://evil" }]; }), ["spec.declarative.deployment.env"]);
  assert.deepEqual(tamper((a) => { a.spec.declarative.deployment.labels = { ...(a.spec.declarative.deployment.labels as object), "egress": "open" }; }), ["spec.declarative.deployment.labels.egress"]);
  assert.deepEqual(tamper((a) => { (a.spec as Record<string, unknown>).skills = { refs: ["ghcr.io/x/skill"] }; }), ["spec.skills"]);
  assert.deepEqual(tamper((a) => { a.spec.declarative.memory = { modelConfig: "m" }; }), ["spec.declarative.memory"]);
  assert.deepEqual(tamper((a) => { a.metadata = { ...a.metadata, annotations: { "sidecar.istio.io/inject": "false" } }; }), ['metadata.annotations["sidecar.istio.io/inject"]']);
  assert.deepEqual(tamper((a) => { a.spec.declarative.systemMessage = "Obey me."; }), ["spec.declarative.systemMessage"]);
  // A default the API server would write is drift where its value is not the default.
  const np = built.scope.find((o) => o.kind === "NetworkPolicy") as KubeObject & { spec: Record<string, unknown> & { podSelector: Record<string, unknown>; egress: unknown[] } };
  const wider = clone(np);
  wider.spec.podSelector = { ...wider.spec.podSelector, matchExpressions: [{ key: "x", operator: "Exists" }] };
  assert.deepEqual(driftFromDesired(np, wider), ["spec.podSelector.matchExpressions"]);
  const more = clone(np);
  more.spec.egress = [...more.spec.egress, { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }];
  assert.deepEqual(driftFromDesired(np, more), ["spec.egress"]);
  const cnp = built.scope.find((o) => o.kind === "CiliumNetworkPolicy") as KubeObject;
  assert.deepEqual(driftFromDesired(cnp, { ...clone(cnp), specs: [{ endpointSelector: {}, egress: [{ toEntities: ["world"] }] }] }), ["specs"]);
  const role = built.scope.find((o) => o.kind === "Role") as KubeObject & { rules: Record<string, unknown>[] };
  assert.deepEqual(driftFromDesired(role, { ...clone(role), rules: role.rules.map((r) => ({ ...r, resourceNames: ["x"] })) }), ["rules[0].resourceNames"]);
  const sa = built.scope.find((o) => o.kind === "ServiceAccount") as KubeObject;
  assert.deepEqual(driftFromDesired(sa, { ...clone(sa), automountServiceAccountToken: false }), ["automountServiceAccountToken"]);
  assert.deepEqual(driftFromDesired(sa, { ...clone(sa), metadata: { ...sa.metadata, annotations: { "iam.gke.io/gcp-service-account": "admin@p.iam" } } }), ['metadata.annotations["iam.gke.io/gcp-service-account"]']);
});

test("who owns a share's object, how it is found and what holds its deletion are compared: agentgate's labels, exactly its owner references, no finalizer", () => {
  const built = sharedObjects("qe", names, pr, config, guardrails, { fqdn: true, kagent: { kind: "ip", ip: "10.0.0.1", port: 8083 } }, "go");
  for (const o of [...built.scope, built.agent]) {
    const meta = o.metadata ?? {};
    const served = (m: Partial<NonNullable<KubeObject["metadata"]>>): KubeObject => ({ ...clone(o), metadata: { ...clone(meta), uid: "u", resourceVersion: "3", creationTimestamp: "2026-01-01T00:00:00Z", ...m } });
    // As the API server returns it (and as the client's model, blockOwnerDeletion undefined), and with others' labels beside agentgate's: no drift.
    assert.deepEqual(driftFromDesired(o, served({})), [], o.kind);
    assert.deepEqual(driftFromDesired(o, served({ labels: { ...meta.labels, "team": "qe" }, ownerReferences: meta.ownerReferences?.map((r) => ({ ...r, blockOwnerDeletion: undefined })) })), [], o.kind);
    // A finalizer keeps a deleted object (an Agent, and so its Deployment) Terminating while the delete reports success.
    assert.deepEqual(driftFromDesired(o, served({ finalizers: ["example.com/hold"] })), ['metadata.finalizers["example.com/hold"]'], o.kind);
    // Deleting with orphan propagation lets the object go and leaves what it owns running; the collector's foregroundDeletion waits for it to go first.
    assert.deepEqual(driftFromDesired(o, served({ finalizers: ["orphan"] })), ['metadata.finalizers["orphan"]'], o.kind);
    assert.deepEqual(driftFromDesired(o, served({ finalizers: ["foregroundDeletion"], deletionTimestamp: "2026-01-01T00:01:00Z" })), [], o.kind);
    // Without agentgate's labels the keeper and the stop path no longer see the object as the share's.
    for (const k of ["app.kubernetes.io/managed-by", "agent.tekton.dev/share"]) {
      assert.ok(meta.labels && k in meta.labels, `${o.kind ?? ""} carries ${k}`);
      const labels = Object.fromEntries(Object.entries(meta.labels).filter(([l]) => l !== k));
      assert.deepEqual(driftFromDesired(o, served({ labels })), [`metadata.labels[${JSON.stringify(k)}]`], o.kind);
      assert.deepEqual(driftFromDesired(o, served({ labels: { ...labels, [k]: "someone" } })), [`metadata.labels[${JSON.stringify(k)}]`], o.kind);
    }
    const owner = meta.ownerReferences?.[0];
    assert.ok(owner);
    assert.deepEqual(owner, { apiVersion: "tekton.dev/v1", kind: "PipelineRun", name: "pr", uid: "pr-uid", controller: true });
    // A second owner keeps the object after the PipelineRun is deleted; another controller, or none, is not the share's.
    assert.deepEqual(driftFromDesired(o, served({ ownerReferences: [owner, { apiVersion: "v1", kind: "ConfigMap", name: "keep", uid: "cm-uid" }] })), ["metadata.ownerReferences"], o.kind);
    assert.deepEqual(driftFromDesired(o, served({ ownerReferences: [{ ...owner, controller: false }] })), ["metadata.ownerReferences[0].controller"], o.kind);
    assert.deepEqual(driftFromDesired(o, served({ ownerReferences: [{ ...owner, uid: "other" }] })), ["metadata.ownerReferences[0].uid"], o.kind);
    assert.deepEqual(driftFromDesired(o, served({ ownerReferences: [{ ...owner, blockOwnerDeletion: true }] })), ["metadata.ownerReferences[0].blockOwnerDeletion"], o.kind);
    assert.deepEqual(driftFromDesired(o, served({ ownerReferences: [] })), ["metadata.ownerReferences"], o.kind);
  }
});
