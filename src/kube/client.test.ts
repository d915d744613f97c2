import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyRequest } from "./client.ts";

const S = "https://127.0.0.1:6443";

for (const [method, url, contentType, verb, resource] of [
  ["GET", "/apis/agent.tekton.dev/v1alpha1/namespaces/qe/agentruns/r1", "", "get", "agentruns"],
  ["GET", "/apis/agent.tekton.dev/v1alpha1/agentruns", "", "list", "agentruns"],
  ["GET", "/apis/agent.tekton.dev/v1alpha1/agentruns?watch=true&resourceVersion=5", "", "watch", "agentruns"],
  ["PATCH", "/apis/agent.tekton.dev/v1alpha1/namespaces/qe/agentruns/r1/status", "application/merge-patch+json", "patch", "agentruns/status"],
  ["PATCH", "/apis/rbac.authorization.k8s.io/v1/namespaces/qe/roles/r1-role?fieldManager=agentgate-controller&force=true", "application/apply-patch+yaml", "apply", "roles"],
  ["POST", "/api/v1/namespaces/qe/events", "application/json", "create", "events"],
  ["GET", "/api/v1/namespaces/agentgate-system/secrets/key", "", "get", "secrets"],
  ["GET", "/api/v1/namespaces/default", "", "get", "namespaces"],
  ["GET", "/api/v1/namespaces", "", "list", "namespaces"],
  ["PUT", "/api/v1/namespaces/qe/finalize", "application/json", "update", "namespaces/finalize"],
  ["GET", "/api/v1/namespaces/qe/pods/p/log", "", "get", "pods/log"],
  ["PUT", "/apis/coordination.k8s.io/v1/namespaces/agentgate-system/leases/agentgate-controller", "application/json", "update", "leases"],
  ["DELETE", "/api/v1/namespaces/qe/pods/p", "", "delete", "pods"],
  ["DELETE", "/api/v1/namespaces/qe/pods", "", "deletecollection", "pods"],
  ["GET", "/apis/networking.k8s.io/v1", "", "get", "discovery"],
] as const) {
  test(`classifyRequest: ${method} ${url} is ${verb} ${resource}`, () => {
    assert.deepEqual(classifyRequest(method, `${S}${url}`, contentType), { verb, resource });
  });
}
