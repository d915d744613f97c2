// The certificate Secret's store, its watch and the caBundle sync against a
// real kube-apiserver, each on its own: what certs.test.ts reaches only
// through two gateways racing (a lost create, a replace against an outdated
// or deleted Secret, a refused write) made to happen on purpose, and the
// paths, verbs and bodies each sends checked by reading the objects back.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { captureLogs, type CapturedLogs } from "../support/fault-kit.ts";
import { until } from "../support/until.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { selectCluster } from "../../src/cli/environment.ts";
import type { Owner } from "../../src/kube/owner.ts";
import { logger } from "../../src/log.ts";
import { CaBundleSync, decodeCaBundle } from "../../src/certs/ca-bundle.ts";
import { fingerprint, SECRET_KEYS } from "../../src/certs/material.ts";
import { fresh, serviceHosts } from "../../src/certs/rotate.ts";
import { CertificateSecretStore, MANAGED_LABELS, TLS_SECRET_TYPE } from "../../src/certs/secret-store.ts";
import { SecretWatch, type SecretEvent } from "../../src/certs/secret-watch.ts";

const NS = "certs-kube";
const secrets = `/api/v1/namespaces/${NS}/secrets`;
const policy = { hosts: serviceHosts("agentgate", NS), servingValidityMs: 3_600_000, caValidityMs: 86_400_000 };

let cp: ControlPlane;
let api: KubeApi;
let nobody: KubeApi;
let logs: CapturedLogs;
let owner: Owner;

before(async () => {
  logs = captureLogs(logger, "info");
  cp = await startControlPlane();
  api = kubeApiOf(cp.kubeConfig);
  const selection = selectCluster({ kubeconfig: await cp.kubeconfigFor("certs-kube-nobody") });
  nobody = new KubeApi(selection.credentials, {}, selection.entries);
  await api.create("/api/v1/namespaces", { metadata: { name: NS } });
  // Any object of the namespace will do as the owner: the garbage collector only needs it to exist.
  const cm = await api.create<k8s.V1ConfigMap>(`/api/v1/namespaces/${NS}/configmaps`, { metadata: { name: "owner" } });
  owner = { namespace: NS, reference: { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: cm.metadata?.uid ?? "" } };
});

after(async () => {
  nobody.close();
  api.close();
  await cp.stop();
  logs.stop();
});

test("the store creates the Secret once, replaces it only at the resourceVersion read, and keeps what it does not own", async () => {
  const ref = { namespace: NS, name: "store" };
  const store = new CertificateSecretStore(api, ref, owner);
  assert.equal(await store.read(), undefined, "absent: undefined, not an error");
  const first = fresh(policy, new Date());
  const created = await store.create(first);
  assert.notEqual(created, "conflict");
  const onServer = await api.get<k8s.V1Secret>(`${secrets}/store`);
  assert.equal(onServer.type, TLS_SECRET_TYPE);
  assert.deepEqual(onServer.metadata?.labels, MANAGED_LABELS);
  assert.deepEqual(onServer.metadata?.ownerReferences?.map((r) => r.uid), [owner.reference.uid]);
  assert.equal(fingerprint((await store.read())?.material?.serving.cert ?? ""), fingerprint(first.serving.cert));

  assert.equal(await new CertificateSecretStore(api, ref).create(fresh(policy, new Date())), "conflict", "a second create loses the race");

  // A chart's annotation and a key of its own.
  await api.patch(`${secrets}/store`, { metadata: { annotations: { "chart.example/kept": "yes" } }, data: { "extra.txt": Buffer.from("kept").toString("base64") } });
  const stored = await store.read();
  assert.ok(stored);
  const second = fresh(policy, new Date());
  const replaced = await store.replace(second, stored);
  assert.notEqual(replaced, "conflict");
  const after = await api.get<k8s.V1Secret>(`${secrets}/store`);
  assert.equal(after.metadata?.annotations?.["chart.example/kept"], "yes");
  assert.deepEqual(after.metadata?.ownerReferences?.map((r) => r.uid), [owner.reference.uid]);
  assert.deepEqual(Object.keys(after.data ?? {}).sort(), ["ca.crt", "ca.key", "extra.txt", "tls.crt", "tls.key"]);
  assert.equal(fingerprint((await store.read())?.material?.serving.cert ?? ""), fingerprint(second.serving.cert));
  assert.equal(after.data?.[SECRET_KEYS.nextCaKey], undefined);

  assert.equal(await store.replace(fresh(policy, new Date()), stored), "conflict", "a replace at an outdated resourceVersion loses");
  const current = await store.read();
  assert.ok(current);
  await api.delete(`${secrets}/store`);
  assert.equal(await store.replace(fresh(policy, new Date()), current), "conflict", "a replace of a Secret deleted since it was read loses");

  await api.create(secrets, { metadata: { name: "garbage" }, type: TLS_SECRET_TYPE, data: { "tls.crt": Buffer.from("x").toString("base64"), "tls.key": Buffer.from("y").toString("base64") } });
  const garbage = await new CertificateSecretStore(api, { namespace: NS, name: "garbage" }).read();
  assert.equal(garbage?.material, undefined);
  assert.match(garbage?.problem ?? "", /./);

  await assert.rejects(new CertificateSecretStore(nobody, ref).read(), /HTTP 403/, "a refusal other than 404 is no absent Secret");
});

const webhookConfig = (kind: "Validating" | "Mutating", name: string) => ({
  apiVersion: "admissionregistration.k8s.io/v1",
  kind: `${kind}WebhookConfiguration`,
  metadata: { name },
  // Two entries that match no object: only their caBundles matter here.
  webhooks: ["one", "two"].map((w) => ({
    name: `${w}.certs-kube.test`,
    clientConfig: { url: "https://127.0.0.1:1/never" },
    rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }],
    objectSelector: { matchLabels: { "agentgate.test/never": "true" } },
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
  })),
});

const admission = "/apis/admissionregistration.k8s.io/v1";
const bundlesOf = async (plural: string, name: string): Promise<string[][]> =>
  ((await api.get<k8s.V1ValidatingWebhookConfiguration>(`${admission}/${plural}/${name}`)).webhooks ?? []).map((w) => decodeCaBundle(w.clientConfig.caBundle).map(fingerprint));

test("the caBundle sync writes every entry of both kinds it is told of, only those, and says which it could not find", async () => {
  await api.create(`${admission}/validatingwebhookconfigurations`, webhookConfig("Validating", "both"));
  await api.create(`${admission}/mutatingwebhookconfigurations`, webhookConfig("Mutating", "both"));
  await api.create(`${admission}/mutatingwebhookconfigurations`, webhookConfig("Mutating", "untouched"));
  await api.create(`${admission}/validatingwebhookconfigurations`, webhookConfig("Validating", "one-kind"));
  await api.create(`${admission}/mutatingwebhookconfigurations`, webhookConfig("Mutating", "one-kind"));
  const m = fresh(policy, new Date());
  const ca = fingerprint(m.signer.cert);
  const sync = new CaBundleSync(api, [{ kinds: ["validating", "mutating"], name: "both" }, { kinds: ["validating"], name: "one-kind" }, { kinds: ["validating", "mutating"], name: "absent" }], logger);
  assert.deepEqual(await sync.sync(m.trusted), { complete: true, patched: ["validating/both", "mutating/both", "validating/one-kind"], absent: ["absent"] });
  assert.deepEqual(await bundlesOf("validatingwebhookconfigurations", "both"), [[ca], [ca]]);
  assert.deepEqual(await bundlesOf("mutatingwebhookconfigurations", "both"), [[ca], [ca]]);
  assert.deepEqual(await bundlesOf("validatingwebhookconfigurations", "one-kind"), [[ca], [ca]]);
  assert.deepEqual(await bundlesOf("mutatingwebhookconfigurations", "one-kind"), [[], []], "the kind not named is left alone");
  assert.deepEqual(await bundlesOf("mutatingwebhookconfigurations", "untouched"), [[], []]);
  assert.deepEqual((await sync.sync(m.trusted)).patched, [], "nothing to write the second time");

  // Refused: not complete, and the warning says what the API server said.
  const refused = await new CaBundleSync(nobody, [{ kinds: ["validating"], name: "both" }], logger).sync(fresh(policy, new Date()).trusted);
  assert.equal(refused.complete, false);
  const warned = logs.find("cannot update the caBundle of a webhook configuration; will retry", { webhookConfiguration: "validating/both" });
  assert.equal(warned.length, 1);
  assert.match(String(warned[0]?.error), /^HTTP 403: validatingwebhookconfigurations\.admissionregistration\.k8s\.io "both" is forbidden: User "certs-kube-nobody" cannot get/);
});

test("the watch reports the one Secret's changes and deletion, across the server ending each watch, until stopped", async () => {
  const ref = { namespace: NS, name: "watched" };
  const events: [SecretEvent, string][] = [];
  const watch = new SecretWatch(api, ref, (type, secret) => events.push([type, secret.data?.v ?? ""]), logger, { timeoutSeconds: 1, retryMs: 200 });
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const seen = (type: SecretEvent, v: string) => until(`${type} ${v}`, () => events.some(([t, d]) => t === type && d === b64(v)), { timeoutMs: 15_000 });
  watch.start();
  try {
    await api.create(secrets, { metadata: { name: "other" }, data: { v: b64("other") } });
    await api.create(secrets, { metadata: { name: "watched" }, data: { v: b64("1") } });
    await seen("ADDED", "1");
    await api.patch(`${secrets}/watched`, { data: { v: b64("2") } });
    await seen("MODIFIED", "2");
    // Past the server's end of the first watches: the next change still arrives.
    await new Promise((r) => setTimeout(r, 2500));
    await api.patch(`${secrets}/watched`, { data: { v: b64("3") } });
    await seen("MODIFIED", "3");
    await api.delete(`${secrets}/watched`);
    await seen("DELETED", "3");
    assert.ok(!events.some(([, d]) => d === b64("other")), "another Secret of the namespace is not reported");
  } finally {
    watch.stop();
  }
  const count = events.length;
  await api.create(secrets, { metadata: { name: "watched" }, data: { v: b64("after") } });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(events.length, count, "nothing reported once stopped");
});

test("a watch the API server refuses is tried again after retryMs, warning each time", async () => {
  const said = logs.find("certificate Secret watch ended; re-watching", { secret: `${NS}/refused` }).length;
  const watch = new SecretWatch(nobody, { namespace: NS, name: "refused" }, () => undefined, logger, { retryMs: 200 });
  watch.start();
  try {
    const warned = await until("three refused watches", () => {
      const w = logs.find("certificate Secret watch ended; re-watching", { secret: `${NS}/refused` });
      return w.length - said >= 3 ? w : undefined;
    }, { timeoutMs: 15_000 });
    assert.match(String(warned.at(-1)?.error), /^GET \/api\/v1\/namespaces\/certs-kube\/secrets: HTTP 403: secrets "refused" is forbidden/);
  } finally {
    watch.stop();
  }
});
