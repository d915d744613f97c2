// requestFromManifest: the AdmissionRequest the API server would send for a
// manifest, as `agentgate review` and audit build it.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../types/kube.ts";
import { requestFromManifest, resourceOf, selfUpdateRequest, splitApiVersion } from "./from-manifest.ts";

const config: KubeObject = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer" }, spec: { tokenBudget: 1 } };
const alice = { username: "alice", groups: ["dev"] };

test("a CREATE: kind and resource from the manifest, the namespace filled in, no old object", () => {
  const request = requestFromManifest(config, { operation: "CREATE", user: alice, oldObject: config, defaultNamespace: "qe" });
  const { uid, ...rest } = request;
  assert.match(uid, /^[0-9a-f-]{36}$/);
  assert.deepEqual(rest, {
    kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentConfig" },
    resource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentconfigs" },
    requestKind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentConfig" },
    requestResource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentconfigs" },
    operation: "CREATE",
    userInfo: alice,
    object: { ...config, metadata: { name: "writer", namespace: "qe" } },
    oldObject: null,
    dryRun: false,
    options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions", fieldManager: "kubectl-client-side-apply" },
    name: "writer",
    namespace: "qe",
  });
  assert.equal(config.metadata?.namespace, undefined, "the manifest itself is not changed");
});

test("an UPDATE carries the old object and UpdateOptions; the manifest's own namespace wins over the default", () => {
  const next = { ...config, metadata: { name: "writer", namespace: "team" } };
  const request = requestFromManifest(next, { operation: "UPDATE", user: alice, oldObject: config, defaultNamespace: "qe" });
  assert.equal(request.oldObject, config);
  assert.deepEqual(request.options, { apiVersion: "meta.k8s.io/v1", kind: "UpdateOptions", fieldManager: "kubectl-client-side-apply" });
  assert.equal(request.namespace, "team");
  assert.equal(requestFromManifest(config, { operation: "UPDATE", user: alice }).oldObject, null, "no old object given");
  assert.equal(requestFromManifest(config, { operation: "CREATE", user: alice }).namespace, "default", "kubectl's default namespace");
});

test("a Namespace is cluster-scoped: no namespace on the request or the object; a nameless manifest has no name", () => {
  const ns: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe" } };
  const request = requestFromManifest(ns, { operation: "CREATE", user: alice, defaultNamespace: "other" });
  assert.equal(request.namespace, undefined);
  assert.equal(request.object, ns);
  assert.deepEqual(request.kind, { group: "", version: "v1", kind: "Namespace" });
  assert.equal(request.resource.resource, "namespaces");
  assert.equal("name" in requestFromManifest({ apiVersion: "v1", kind: "ConfigMap" }, { operation: "CREATE", user: alice }), false);
});

test("splitApiVersion and resourceOf: the core group is empty; handled kinds use their plural, others a lower-case guess", () => {
  assert.deepEqual(splitApiVersion("v1"), { group: "", version: "v1" });
  assert.deepEqual(splitApiVersion("kagent.dev/v1alpha2"), { group: "kagent.dev", version: "v1alpha2" });
  assert.equal(resourceOf("kagent.dev", "RemoteMCPServer"), "remotemcpservers");
  assert.equal(resourceOf("networking.k8s.io", "NetworkPolicy"), "networkpolicies");
  assert.equal(resourceOf("example.com", "Widget"), "widgets");
});

test("a self-update request carries the uid it is given (the same question twice is the same input), a fresh one otherwise", () => {
  const stored = { ...config, metadata: { name: "writer", namespace: "qe", uid: "6f1e0c52-0d4e-4c43-9a43-4b7c1f0e8a11" } };
  const a = selfUpdateRequest(stored, alice, "6f1e0c52-0d4e-4c43-9a43-4b7c1f0e8a11");
  assert.equal(a.uid, "6f1e0c52-0d4e-4c43-9a43-4b7c1f0e8a11");
  assert.deepEqual(selfUpdateRequest(stored, alice, "6f1e0c52-0d4e-4c43-9a43-4b7c1f0e8a11"), a);
  assert.equal(a.operation, "UPDATE");
  assert.deepEqual(a.oldObject, a.object);
  assert.notEqual(selfUpdateRequest(stored, alice).uid, selfUpdateRequest(stored, alice).uid);
});
