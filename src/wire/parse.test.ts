import { test } from "node:test";
import assert from "node:assert/strict";
import { WireError, parseAdmissionReview } from "./parse.ts";

const good = {
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: "u1",
    kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentRun" },
    resource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentruns" },
    operation: "CREATE",
    namespace: "qe",
    userInfo: { username: "alice" },
    object: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun" },
  },
};

test("parses a well-formed review into its request", () => {
  const request = parseAdmissionReview(JSON.stringify(good));
  assert.equal(request.uid, "u1");
  assert.equal(request.kind.kind, "AgentRun");
  assert.equal(request.userInfo.username, "alice");
});

const bad: { name: string; body: string; reason: RegExp }[] = [
  { name: "non-JSON", body: "{not json", reason: /^request body is not JSON/ },
  { name: "a JSON array", body: "[]", reason: /not a JSON object/ },
  { name: "wrong apiVersion", body: JSON.stringify({ ...good, apiVersion: "admission.k8s.io/v1beta1" }), reason: /apiVersion must be admission.k8s.io\/v1, got "admission.k8s.io\/v1beta1"/ },
  { name: "wrong kind", body: JSON.stringify({ ...good, kind: "Pod" }), reason: /kind must be AdmissionReview, got "Pod"/ },
  { name: "no request", body: JSON.stringify({ apiVersion: good.apiVersion, kind: good.kind }), reason: /has no request/ },
  { name: "no uid", body: JSON.stringify({ ...good, request: { ...good.request, uid: "" } }), reason: /has no uid/ },
  { name: "a missing uid", body: JSON.stringify({ ...good, request: { ...good.request, uid: undefined } }), reason: /^AdmissionReview request has no uid$/ },
  { name: "a uid that is not a string", body: JSON.stringify({ ...good, request: { ...good.request, uid: 42 } }), reason: /^AdmissionReview request has no uid$/ },
  { name: "a missing request.kind", body: JSON.stringify({ ...good, request: { ...good.request, kind: undefined } }), reason: /^AdmissionReview request\.kind must be an object$/ },
  { name: "request.kind as a string", body: JSON.stringify({ ...good, request: { ...good.request, kind: "AgentRun" } }), reason: /^AdmissionReview request\.kind must be an object$/ },
  { name: "request.kind without its kind", body: JSON.stringify({ ...good, request: { ...good.request, kind: { group: "agent.tekton.dev", version: "v1alpha1" } } }), reason: /^AdmissionReview request\.kind\.kind must be a string$/ },
  { name: "no resource", body: JSON.stringify({ ...good, request: { ...good.request, resource: undefined } }), reason: /request.resource must be an object/ },
  { name: "unknown operation", body: JSON.stringify({ ...good, request: { ...good.request, operation: "PATCH" } }), reason: /operation "PATCH" is not one of/ },
  { name: "object not an object", body: JSON.stringify({ ...good, request: { ...good.request, object: "x" } }), reason: /request.object must be an object or null/ },
  { name: "a CREATE without its object (fail closed)", body: JSON.stringify({ ...good, request: { ...good.request, object: null } }), reason: /^AdmissionReview request\.object is missing: a CREATE carries the object as it would be stored$/ },
  { name: "an UPDATE without its object", body: JSON.stringify({ ...good, request: { ...good.request, operation: "UPDATE", oldObject: good.request.object, object: undefined } }), reason: /^AdmissionReview request\.object is missing: an UPDATE carries/ },
  { name: "an UPDATE without the stored object", body: JSON.stringify({ ...good, request: { ...good.request, operation: "UPDATE" } }), reason: /^AdmissionReview request\.oldObject is missing: an UPDATE carries the stored object it changes$/ },
  { name: "oldObject not an object", body: JSON.stringify({ ...good, request: { ...good.request, oldObject: [1] } }), reason: /^AdmissionReview request\.oldObject must be an object or null$/ },
  { name: "userInfo not an object", body: JSON.stringify({ ...good, request: { ...good.request, userInfo: "alice" } }), reason: /^AdmissionReview request\.userInfo must be an object$/ },
  { name: "a namespace that is not a string", body: JSON.stringify({ ...good, request: { ...good.request, namespace: 7 } }), reason: /^AdmissionReview request\.namespace must be a string$/ },
  { name: "request.resource without its resource", body: JSON.stringify({ ...good, request: { ...good.request, resource: { group: "agent.tekton.dev", version: "v1alpha1" } } }), reason: /^AdmissionReview request\.resource\.resource must be a string$/ },
  { name: "an operation that is not a string", body: JSON.stringify({ ...good, request: { ...good.request, operation: 1 } }), reason: /^AdmissionReview request\.operation must be a string$/ },
];

test("every operation the API server sends is accepted; a DELETE's null object passes; a missing userInfo reads as empty", () => {
  for (const operation of ["CREATE", "UPDATE", "DELETE", "CONNECT"]) {
    assert.equal(parseAdmissionReview(JSON.stringify({ ...good, request: { ...good.request, operation, oldObject: good.request.object } })).operation, operation);
  }
  const request = parseAdmissionReview(JSON.stringify({ ...good, request: { ...good.request, operation: "DELETE", userInfo: undefined, object: null, oldObject: null } }));
  assert.deepEqual(request.userInfo, {});
  assert.equal(request.object, null);
  assert.equal(request.namespace, "qe");
});

for (const c of bad) {
  test(`refuses ${c.name} with a one-line reason`, () => {
    assert.throws(
      () => parseAdmissionReview(c.body),
      (err: unknown) => err instanceof WireError && err.status === 400 && c.reason.test(err.message) && !err.message.includes("\n"),
    );
  });
}
