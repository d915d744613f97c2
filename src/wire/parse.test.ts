import { test } from "node:test";
import assert from "node:assert/strict";
import { scanJson } from "./json-scan.ts";
import { DEFAULT_REVIEW_LIMITS, ReviewTooCostlyError, WireError, parseAdmissionReview } from "./parse.ts";

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
  // Found by fuzz/admission-review.fuzz.ts: fields the guardrails read, mistyped, threw inside admit() (a 500 fail-closed answer) instead of a 400 naming the field.
  { name: "a name that is not a string", body: JSON.stringify({ ...good, request: { ...good.request, name: 5 } }), reason: /^AdmissionReview request\.name must be a string$/ },
  { name: "a subResource that is not a string", body: JSON.stringify({ ...good, request: { ...good.request, subResource: ["token"] } }), reason: /^AdmissionReview request\.subResource must be a string$/ },
  { name: "a dryRun that is not a boolean", body: JSON.stringify({ ...good, request: { ...good.request, dryRun: "true" } }), reason: /^AdmissionReview request\.dryRun must be a boolean$/ },
  { name: "a username that is not a string", body: JSON.stringify({ ...good, request: { ...good.request, userInfo: { username: null } } }), reason: /^AdmissionReview request\.userInfo\.username must be a string$/ },
  { name: "groups as a string", body: JSON.stringify({ ...good, request: { ...good.request, userInfo: { username: "a", groups: "admins" } } }), reason: /^AdmissionReview request\.userInfo\.groups must be a list of strings$/ },
  { name: "a group that is not a string", body: JSON.stringify({ ...good, request: { ...good.request, userInfo: { username: "a", groups: ["x", null] } } }), reason: /^AdmissionReview request\.userInfo\.groups must be a list of strings$/ },
  { name: "an object whose namespace is a list", body: JSON.stringify({ ...good, request: { ...good.request, object: { ...good.request.object, metadata: { name: "r", namespace: ["qe"] } } } }), reason: /^AdmissionReview request\.object\.metadata\.namespace is a list, not a string$/ },
  { name: "an object whose ownerReferences is not a list", body: JSON.stringify({ ...good, request: { ...good.request, object: { ...good.request.object, metadata: { name: "r", ownerReferences: { kind: "CustomRun" } } } } }), reason: /^AdmissionReview request\.object\.metadata\.ownerReferences must be a list of mappings$/ },
  { name: "an old object whose annotations are not strings", body: JSON.stringify({ ...good, request: { ...good.request, operation: "UPDATE", oldObject: { metadata: { annotations: { a: 1 } } } } }), reason: /^AdmissionReview request\.oldObject\.metadata\.annotations must map names to strings$/ },
  { name: "extra values that are not lists", body: JSON.stringify({ ...good, request: { ...good.request, userInfo: { username: "a", extra: { scopes: "x" } } } }), reason: /^AdmissionReview request\.userInfo\.extra must map names to lists of strings$/ },
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

// --- the cost bound (limits given, as the server gives them) ---

const limits = { maxValues: 1000, maxDepth: 20 };

/** `good` as an UPDATE of an Agent whose preserve-unknown spec.skills holds `skills`. */
const costly = (skills: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    ...good,
    request: {
      ...good.request,
      kind: { group: "kagent.dev", version: "v1alpha2", kind: "Agent" },
      resource: { group: "kagent.dev", version: "v1alpha2", resource: "agents" },
      name: "a",
      operation: "UPDATE",
      object: { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", spec: { skills: "@@" } },
      oldObject: { apiVersion: "kagent.dev/v1alpha2", kind: "Agent", spec: {} },
      ...extra,
    },
  }).replace('"@@"', skills);

test("a review over the value limit is refused unparsed, with its envelope and a reason naming the count, the limit and the fix", () => {
  const body = costly(`[${"[],".repeat(1500)}[]]`);
  assert.throws(
    () => parseAdmissionReview(body, limits),
    (err: unknown) => {
      assert.ok(err instanceof ReviewTooCostlyError);
      assert.deepEqual(err.request, {
        uid: "u1",
        kind: { group: "kagent.dev", version: "v1alpha2", kind: "Agent" },
        resource: { group: "kagent.dev", version: "v1alpha2", resource: "agents" },
        operation: "UPDATE",
        userInfo: { username: "alice" },
        namespace: "qe",
        name: "a",
      });
      assert.equal(err.reasons.length, 1);
      assert.match(err.reasons[0] ?? "", /^the review holds 15\d\d JSON values \(the object and the stored object it replaces\), over the gateway's limit of 1000; keep bulk data out of the object .* gateway\.reviewLimits\.maxValues$/);
      assert.equal(err.scan.values > 1500, true);
      return true;
    },
  );
});

test("a review over the depth limit is refused, naming the depth and the limit", () => {
  assert.throws(
    () => parseAdmissionReview(costly(`${"[".repeat(30)}${"]".repeat(30)}`), limits),
    (err: unknown) => err instanceof ReviewTooCostlyError && err.reasons.length === 1 && /^the review nests 34 levels deep, over the gateway's limit of 20 \(the object starts 3 levels in\); flatten .* gateway\.reviewLimits\.maxDepth$/.test(err.reasons[0] ?? ""),
  );
});

test("a review within the limits parses as without them; without limits nothing is counted", () => {
  const body = costly(`[${"[],".repeat(900)}[]]`, { operation: "CREATE", oldObject: null });
  assert.throws(() => parseAdmissionReview(body, { maxValues: 900, maxDepth: 20 }), ReviewTooCostlyError);
  assert.equal(parseAdmissionReview(body, { maxValues: 1000, maxDepth: 20 }).uid, "u1");
  assert.equal(parseAdmissionReview(costly(`[${"[],".repeat(5000)}[]]`)).uid, "u1");
});

const costlyNotReviews: { name: string; body: string; reason: RegExp }[] = [
  { name: "a huge JSON array", body: `[${"1,".repeat(2000)}1]`, reason: /^request body over the gateway's limits \(the review holds 2002 JSON values, .*\) and not an admission\.k8s\.io\/v1 AdmissionReview$/ },
  { name: "a huge review without a uid", body: costly(`[${"[],".repeat(1500)}[]]`, { uid: 3 }), reason: /and its request has no uid$/ },
  { name: "a huge review without a resource", body: costly(`[${"[],".repeat(1500)}[]]`, { resource: "agents" }), reason: /and its request\.resource is not a group, version and resource$/ },
  { name: "a huge review with an unknown operation", body: costly(`[${"[],".repeat(1500)}[]]`, { operation: "PATCH" }), reason: /and its request\.operation is not one of CREATE, UPDATE, DELETE, CONNECT$/ },
];

for (const c of costlyNotReviews) {
  test(`over the limits, ${c.name} is a 413 naming what it is not`, () => {
    assert.throws(
      () => parseAdmissionReview(c.body, limits),
      (err: unknown) => err instanceof WireError && !(err instanceof ReviewTooCostlyError) && err.status === 413 && c.reason.test(err.message) && !err.message.includes("\n"),
    );
  });
}

/** fieldsV1 as the API server writes it for these fields. */
function fieldsV1(value: unknown): unknown {
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [`i:${i}`, fieldsV1(v)]));
  if (typeof value === "object" && value !== null) return { ".": {}, ...Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fieldsV1(v)])) };
  return {};
}

test("real objects pass the default limits with room to spare: a 20-server AgentConfig UPDATE with a long prompt, last-applied and managedFields", () => {
  const spec = {
    modelConfigRef: { name: "claude" },
    systemPrompt: "You are a careful assistant. ".repeat(400),
    toolServers: Array.from({ length: 20 }, (_, i) => ({ ref: { name: `server-${i}`, namespace: "tools" }, allowedTools: Array.from({ length: 25 }, (_, j) => `tool_${i}_${j}`), requireApproval: [`tool_${i}_0`] })),
    tokenBudget: 200000,
    rbac: { rules: Array.from({ length: 10 }, (_, i) => ({ apiGroups: ["", "apps"], resources: [`r${i}`, `r${i}/status`], verbs: ["get", "list", "watch"] })) },
    egress: Array.from({ length: 20 }, (_, i) => ({ host: `api${i}.example.com`, ports: [443] })),
  };
  const manifest = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "big", namespace: "qe", labels: { team: "qe" } }, spec };
  const annotations = { "kubectl.kubernetes.io/last-applied-configuration": `${JSON.stringify(manifest)}\n` };
  const stored = {
    ...manifest,
    metadata: {
      ...manifest.metadata,
      uid: "u",
      annotations,
      managedFields: [{ manager: "kubectl-client-side-apply", operation: "Update", fieldsType: "FieldsV1", fieldsV1: fieldsV1({ metadata: { annotations, labels: manifest.metadata.labels }, spec }) }],
    },
  };
  const body = JSON.stringify({ ...good, request: { ...good.request, kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentConfig" }, operation: "UPDATE", object: stored, oldObject: stored } });
  const scan = scanJson(Buffer.from(body));
  assert.ok(scan.values * 10 < DEFAULT_REVIEW_LIMITS.maxValues, `${scan.values} values: not a tenth of ${DEFAULT_REVIEW_LIMITS.maxValues}`);
  assert.ok(scan.depth * 4 < DEFAULT_REVIEW_LIMITS.maxDepth, `${scan.depth} levels: not a quarter of ${DEFAULT_REVIEW_LIMITS.maxDepth}`);
  assert.equal(parseAdmissionReview(body, DEFAULT_REVIEW_LIMITS).operation, "UPDATE");
});
