// The gateway's one-off reads and writes of the cluster over the lean client,
// against a real kube-apiserver, so a wrong path, verb or body fails here:
// SubjectAccessReviews (run approval), the webhook configurations the
// registration guard reads, and the confirming read and Event of a denied
// update, each also as a user the API server refuses.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import winston from "winston";
import { stringify } from "yaml";
import { subjectAccessReview, ClusterAccessReviewer } from "../../src/context/access-review.ts";
import { clusterReader, RegistrationGuard } from "../../src/gateway/registration-guard.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { statusCode } from "../../src/kube/errors.ts";
import { apiServerSink, eventBody, type EventTarget } from "../../src/server/denial-events.ts";
import type { AdmissionRequest } from "../../src/types/admission.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { until } from "../support/until.ts";

const silent = winston.createLogger({ silent: true });

let cp: ControlPlane;
let admin: KubeApi;
/** a user with no rights at all */
let nobody: KubeApi;

before(async () => {
  cp = await startControlPlane();
  admin = kubeApiOf(cp.kubeConfig);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(await cp.kubeconfigFor("nobody"));
  nobody = kubeApiOf(kc);
  await cp.applyYaml(
    [
      stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "ci" } }),
      stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "ci" }, data: { a: "1" } }),
      stringify({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "reader", namespace: "ci" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] }),
    ].join("---\n"),
  );
});

after(async () => {
  await cp?.stop();
});

describe("SubjectAccessReview", () => {
  const impersonateEl = { user: "bob", groups: ["system:authenticated"], resourceAttributes: { verb: "impersonate", group: "", resource: "serviceaccounts", namespace: "ci", name: "el" } };

  test("the API server's authorizer answers: denied, then allowed once granted, for exactly the object named", async () => {
    const review = subjectAccessReview(admin);
    assert.equal(await review(impersonateEl), false);
    assert.equal(await new ClusterAccessReviewer(admin).actsAs({ username: "bob" }, "system:serviceaccount:ci:el"), undefined);
    await cp.applyYaml(
      [
        stringify({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "impersonate-el", namespace: "ci" }, rules: [{ apiGroups: [""], resources: ["serviceaccounts"], resourceNames: ["el"], verbs: ["impersonate"] }] }),
        stringify({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "bob-impersonates-el", namespace: "ci" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "impersonate-el" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "bob" }] }),
      ].join("---\n"),
    );
    await until("the grant to reach the authorizer", () => review(impersonateEl));
    assert.equal(await review({ ...impersonateEl, resourceAttributes: { ...impersonateEl.resourceAttributes, name: "other" } }), false, "another ServiceAccount");
    assert.equal(await new ClusterAccessReviewer(admin).actsAs({ username: "bob" }, "system:serviceaccount:ci:el"), "can impersonate ServiceAccount ci/el");
  });

  test("a gateway that may not create reviews gets the API server's refusal", async () => {
    await assert.rejects(subjectAccessReview(nobody)(impersonateEl), (err: unknown) => statusCode(err) === 403);
  });
});

describe("webhook configuration reader", () => {
  const webhook = (name: string, failurePolicy: string) => ({
    name,
    failurePolicy,
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
    clientConfig: { url: "https://127.0.0.1:9/never" },
    // matches nothing the test writes
    rules: [{ apiGroups: ["example.invalid"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["widgets"] }],
  });

  test("each kind is read from its own collection; one that does not exist is null", async () => {
    const read = clusterReader(admin);
    assert.equal(await read("validating", "only-validating"), null);
    await cp.applyYaml(stringify({ apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: "only-validating" }, webhooks: [webhook("v.example.invalid", "Ignore")] }));
    await cp.applyYaml(stringify({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "only-mutating" }, webhooks: [webhook("m.example.invalid", "Fail")] }));
    assert.deepEqual((await read("validating", "only-validating"))?.webhooks?.map((w) => [w.name, w.failurePolicy]), [["v.example.invalid", "Ignore"]]);
    assert.deepEqual((await read("mutating", "only-mutating"))?.webhooks?.map((w) => [w.name, w.failurePolicy]), [["m.example.invalid", "Fail"]]);
    assert.equal(await read("mutating", "only-validating"), null);
    assert.equal(await read("validating", "only-mutating"), null);
  });

  test("the guard blocks signing while the configurations are missing, and while they cannot be read", async () => {
    const missing = new RegistrationGuard(clusterReader(admin), "agentgate", silent);
    await missing.check();
    assert.match(missing.blocked() ?? "", /ValidatingWebhookConfiguration "agentgate" does not exist$/);
    const forbidden = new RegistrationGuard(clusterReader(nobody), "agentgate", silent);
    await forbidden.check();
    assert.match(forbidden.blocked() ?? "", /cannot read webhook configuration "agentgate": .*HTTP 403: validatingwebhookconfigurations\.admissionregistration\.k8s\.io "agentgate" is forbidden: User "nobody"/);
  });
});

describe("denial Events", () => {
  let settings: KubeObject;
  const target = (t: Partial<EventTarget>): EventTarget => ({ apiVersion: "v1", kind: "ConfigMap", namespace: "ci", name: "settings", uid: settings.metadata?.uid ?? "", ...t });

  before(async () => {
    settings = await admin.get<KubeObject>("/api/v1/namespaces/ci/configmaps/settings");
  });

  test("the confirming read finds the object by kind, core or group, and a missing one is undefined", async () => {
    const sink = apiServerSink(admin);
    assert.equal((await sink.read(target({})))?.metadata?.uid, settings.metadata?.uid);
    assert.equal((await sink.read(target({ name: "gone" }))), undefined);
    const role = await sink.read(target({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: "reader" }));
    assert.equal(role?.kind, "Role");
    assert.equal(role.metadata?.name, "reader");
    await assert.rejects(sink.read(target({ apiVersion: "example.invalid/v1", kind: "Widget" })), /Unrecognized API version and kind: example\.invalid\/v1 Widget/);
    await assert.rejects(apiServerSink(nobody).read(target({})), /^Error: GET v1 ConfigMap ci\/settings: HTTP 403$/);
  });

  test("the Event is created in the object's namespace, naming it", async () => {
    const t = target({});
    const request = { uid: "r1", kind: { group: "", version: "v1", kind: "ConfigMap" }, resource: { group: "", version: "v1", resource: "configmaps" }, operation: "UPDATE", namespace: "ci", name: "settings", userInfo: { username: "bob" } } as AdmissionRequest;
    await apiServerSink(admin).write(eventBody(t, request, "[test] no", new Date()));
    const events = await admin.get<{ items: k8s.CoreV1Event[] }>("/api/v1/namespaces/ci/events", { fieldSelector: "reason=UpdateDenied" });
    assert.equal(events.items.length, 1);
    const [event] = events.items;
    assert.deepEqual(event?.involvedObject, { apiVersion: "v1", kind: "ConfigMap", name: "settings", namespace: "ci", uid: settings.metadata?.uid });
    assert.equal(event.message, "update by bob denied by agentgate: [test] no");
    assert.equal(event.type, "Warning");
    assert.equal(event.count, 1);
  });
});
