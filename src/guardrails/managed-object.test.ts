// managed-object: who may change or delete the per-run objects agentgate
// manages, one row per identity × operation.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AdmissionRequest } from "../types/admission.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { makeIdentity, serviceAccountUser } from "./identity.ts";
import { checkManagedObject } from "./managed-object.ts";

const CONTROLLER = serviceAccountUser("agentgate-system", "agentgate-controller");
const GC = serviceAccountUser("kube-system", "generic-garbage-collector");
const identity = makeIdentity([CONTROLLER]);

const sa = (labels: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "run-1-sa", namespace: "qe", labels } });
const managed = sa({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
const dying = (finalizers: string[]): KubeObject => ({ ...managed, metadata: { ...managed.metadata, deletionTimestamp: "2026-12-07T10:00:00Z", finalizers } });

function request(operation: "UPDATE" | "DELETE", user: string, old: KubeObject, object: KubeObject | null): AdmissionRequest {
  return {
    uid: "u",
    kind: { group: "", version: "v1", kind: "ServiceAccount" },
    resource: { group: "", version: "v1", resource: "serviceaccounts" },
    name: "run-1-sa",
    namespace: "qe",
    operation,
    userInfo: { username: user },
    object,
    oldObject: old,
  };
}

const cases: { name: string; request: AdmissionRequest; denied: string | null }[] = [
  { name: "anyone changing it", request: request("UPDATE", "admin", managed, managed), denied: `ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be changed by "admin"; it goes away with its AgentRun (delete or cancel the run instead)` },
  { name: "anyone deleting it", request: request("DELETE", "admin", managed, null), denied: `ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be deleted by "admin"; it goes away with its AgentRun (delete or cancel the run instead)` },
  { name: "removing the label to take it over", request: request("UPDATE", "admin", managed, sa({})), denied: `ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be changed by "admin"; it goes away with its AgentRun (delete or cancel the run instead)` },
  { name: "agentgate's own identity changing it", request: request("UPDATE", CONTROLLER, managed, managed), denied: null },
  { name: "agentgate's own identity deleting it", request: request("DELETE", CONTROLLER, managed, null), denied: null },
  { name: "garbage collection deleting it", request: request("DELETE", GC, managed, null), denied: null },
  { name: "garbage collection changing it", request: request("UPDATE", GC, managed, managed), denied: `ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be changed by ${JSON.stringify(GC)}; it goes away with its AgentRun (delete or cancel the run instead)` },
  { name: "an object agentgate does not manage", request: request("DELETE", "admin", sa({ [MANAGED_BY_LABEL]: "helm" }), null), denied: null },
  // A foreground deletion completes only when garbage collection drops its finalizer.
  { name: "garbage collection dropping the finalizer of a deletion under way", request: request("UPDATE", GC, dying(["foregroundDeletion"]), dying([])), denied: null },
  { name: "garbage collection dropping a finalizer and changing anything else", request: request("UPDATE", GC, dying(["foregroundDeletion"]), { ...dying([]), metadata: { ...dying([]).metadata, labels: {} } }), denied: `ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be changed by ${JSON.stringify(GC)}; it goes away with its AgentRun (delete or cancel the run instead)` },
  { name: "garbage collection dropping a finalizer of an object not being deleted", request: request("UPDATE", GC, { ...managed, metadata: { ...managed.metadata, finalizers: ["x"] } }, managed), denied: `ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be changed by ${JSON.stringify(GC)}; it goes away with its AgentRun (delete or cancel the run instead)` },
  { name: "anyone else dropping the finalizer of a deletion under way", request: request("UPDATE", "admin", dying(["foregroundDeletion"]), dying([])), denied: `ServiceAccount "run-1-sa" is managed by agentgate for an AgentRun and cannot be changed by "admin"; it goes away with its AgentRun (delete or cancel the run instead)` },
];

for (const c of cases) {
  test(`managed-object: ${c.name}`, () => {
    const violations = checkManagedObject(c.request, identity);
    assert.deepEqual(violations, c.denied === null ? [] : [{ policy: "managed-object", field: "metadata", message: c.denied, action: "deny" }]);
  });
}

const create = (user: string, object: KubeObject): AdmissionRequest => ({ ...request("UPDATE", user, managed, object), operation: "CREATE", oldObject: null });
const createCases: { name: string; request: AdmissionRequest; denied: RegExp | null }[] = [
  { name: "anyone creating an object with the managed label", request: create("alice", managed), denied: /ServiceAccount "run-1-sa" carries app\.kubernetes\.io\/managed-by=agentgate, which only agentgate sets .* "alice" cannot create one: remove the label/ },
  { name: "agentgate creating its own object", request: create(CONTROLLER, managed), denied: null },
  { name: "anyone creating an unlabelled object", request: create("alice", sa({})), denied: null },
  { name: "garbage collection cannot create one either", request: create(GC, managed), denied: /"system:serviceaccount:kube-system:generic-garbage-collector" cannot create one/ },
  { name: "adding the label to an object of one's own is claiming it", request: request("UPDATE", "alice", sa({}), managed), denied: /"alice" cannot add it: remove the label/ },
];
for (const c of createCases) {
  test(`managed-object: ${c.name}`, () => {
    const got = checkManagedObject(c.request, identity);
    if (c.denied === null) assert.deepEqual(got, []);
    else assert.match(got.map((v) => v.message).join("\n"), c.denied);
  });
}
