// The gateway's lean Kubernetes client (src/kube/api.ts) and its watch cache
// (src/kube/list-watch.ts) against a real kube-apiserver: the verbs and
// patches agentgate sends, the API server's refusals as errors with their
// status, a client certificate, a ServiceAccount token and an exec plugin
// as identities, a CA file read again after it changes,
// watches, and a cache that follows changes across the
// server ending its watch.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { until } from "../support/until.ts";
import { KubeApi, KubeApiError, type WatchEvent } from "../../src/kube/api.ts";
import { ListWatch, type ListResult } from "../../src/kube/list-watch.ts";
import { selectCluster } from "../../src/cli/environment.ts";
import { statusCode } from "../../src/kube/errors.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";

let cp: ControlPlane;
let api: KubeApi;
const requests: string[] = [];

const NS = "lean";
const cms = `/api/v1/namespaces/${NS}/configmaps`;
type ConfigMap = { metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> }; data?: Record<string, string> };

before(async () => {
  cp = await startControlPlane();
  const selection = selectCluster({ kubeconfig: cp.kubeconfigPath });
  api = new KubeApi(selection.credentials, { userAgent: "agentgate-test", onRequest: (verb, resource) => requests.push(`${verb} ${resource}`) }, selection.entries);
  await api.create("/api/v1/namespaces", { metadata: { name: NS } });
});

after(async () => {
  api.close();
  await cp.stop();
});

test("create, get, merge patch, server-side apply, replace and delete a ConfigMap; each counted by verb", async () => {
  requests.length = 0;
  const made = await api.create<ConfigMap>(cms, { metadata: { name: "one" }, data: { a: "1" } });
  assert.equal(made.metadata.name, "one");
  assert.deepEqual((await api.get<ConfigMap>(`${cms}/one`)).data, { a: "1" });
  assert.deepEqual((await api.patch<ConfigMap>(`${cms}/one`, { data: { b: "2" } })).data, { a: "1", b: "2" });
  const applied = await api.patch<ConfigMap>(`${cms}/one`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "one" }, data: { c: "3" } }, "application/apply-patch+yaml", { fieldManager: "lean-test", force: true });
  assert.equal(applied.data?.c, "3");
  const current = await api.get<ConfigMap>(`${cms}/one`);
  const replaced = await api.replace<ConfigMap>(`${cms}/one`, { ...current, data: { only: "this" } });
  assert.deepEqual(replaced.data, { only: "this" });
  await api.delete(`${cms}/one`);
  await assert.rejects(api.get(`${cms}/one`), (err: unknown) => statusCode(err) === 404);
  assert.deepEqual(requests, ["create configmaps", "get configmaps", "patch configmaps", "apply configmaps", "get configmaps", "update configmaps", "delete configmaps", "get configmaps"]);
});

test("the API server's refusal is a KubeApiError with its status and message: 409 on a second create, 409 on a stale replace", async () => {
  const made = await api.create<ConfigMap>(cms, { metadata: { name: "twice" } });
  await assert.rejects(api.create(cms, { metadata: { name: "twice" } }), (err: unknown) => {
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.code, 409);
    assert.match(err.message, /^POST \/api\/v1\/namespaces\/lean\/configmaps: HTTP 409: configmaps "twice" already exists$/);
    return true;
  });
  await api.patch(`${cms}/twice`, { data: { x: "1" } });
  await assert.rejects(api.replace(`${cms}/twice`, { ...made, data: { y: "2" } }), (err: unknown) => statusCode(err) === 409);
});

test("a client certificate, a ServiceAccount token and an exec plugin's token are the identities the API server sees", async () => {
  const whoami = async (client: KubeApi): Promise<string> => {
    const review = await client.create<{ status: { userInfo: { username: string } } }>("/apis/authentication.k8s.io/v1/selfsubjectreviews", { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
    return review.status.userInfo.username;
  };
  const certUser = selectCluster({ kubeconfig: await cp.kubeconfigFor("jane", ["devs"]) });
  const jane = new KubeApi(certUser.credentials);
  assert.equal(await whoami(jane), "jane");
  await assert.rejects(jane.get(cms), (err: unknown) => statusCode(err) === 403);
  jane.close();

  await api.create(`/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: "robot" } });
  const { status } = await api.create<{ status: { token: string } }>(`/api/v1/namespaces/${NS}/serviceaccounts/robot/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } });
  const robot = new KubeApi({ ...selectCluster({ kubeconfig: cp.kubeconfigPath }).credentials, cert: undefined, key: undefined, token: status.token });
  assert.equal(await whoami(robot), `system:serviceaccount:${NS}:robot`);
  robot.close();

  // An exec credential plugin (as GKE's, EKS's): the lean client asks client-node for each request's credentials.
  const plugin = join(cp.dir, "exec-plugin.sh");
  writeFileSync(plugin, `#!/bin/sh\necho '${JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: status.token } })}'\n`, { mode: 0o755 });
  const kubeconfig = join(cp.dir, "exec.kubeconfig");
  const admin = selectCluster({ kubeconfig: cp.kubeconfigPath });
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "x",
    clusters: [{ name: "c", cluster: { server: admin.credentials.server, "certificate-authority-data": admin.credentials.ca?.toString("base64") } }],
    users: [{ name: "u", user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
  }));
  const viaExec = selectCluster({ kubeconfig });
  assert.equal(viaExec.credentials.delegated, true);
  const execClient = new KubeApi(viaExec.credentials, {}, viaExec.entries);
  assert.equal(await whoami(execClient), `system:serviceaccount:${NS}:robot`);
  execClient.close();
});

test("a CA kept in a file is read again: a client whose file held another CA works once the cluster's CA is written there (a pod's ca.crt after a rotation)", async () => {
  const admin = selectCluster({ kubeconfig: cp.kubeconfigPath });
  const caFile = join(cp.dir, "rotating-ca.crt");
  writeFileSync(caFile, generateServingCertificate(["127.0.0.1"]).caCert);
  const kubeconfig = join(cp.dir, "ca-file.kubeconfig");
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "x",
    clusters: [{ name: "c", cluster: { server: admin.credentials.server, "certificate-authority": caFile } }],
    users: [{ name: "u", user: { "client-certificate-data": admin.credentials.cert?.toString("base64"), "client-key-data": admin.credentials.key?.toString("base64") } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
  }));
  const selection = selectCluster({ kubeconfig });
  const client = new KubeApi(selection.credentials, { tlsFilesMaxAgeMs: 100 });
  await assert.rejects(client.get("/api/v1/namespaces/default"), /certificate/);
  writeFileSync(caFile, admin.credentials.ca ?? "");
  await new Promise((r) => setTimeout(r, 150));
  assert.equal((await client.get<ConfigMap>("/api/v1/namespaces/default")).metadata.name, "default");
  client.close();
});

test("a watch delivers ADDED, MODIFIED and DELETED from a resourceVersion, for its label selector only", async () => {
  const list = await api.get<{ metadata: { resourceVersion: string } }>(cms);
  const events: string[] = [];
  const abort = new AbortController();
  let connected = false;
  const watching = api.watch(cms, { resourceVersion: list.metadata.resourceVersion, labelSelector: "watched=yes" }, (e: WatchEvent) => {
    events.push(`${e.type} ${String((e.object.metadata as { name?: string }).name)}`);
  }, { signal: abort.signal, onConnected: () => { connected = true; } });
  await until("the watch to be accepted", () => connected);
  await api.create(cms, { metadata: { name: "w", labels: { watched: "yes" } } });
  await api.create(cms, { metadata: { name: "unwatched" } });
  await api.patch(`${cms}/w`, { data: { a: "1" } });
  await api.delete(`${cms}/w`);
  await until("three events", () => events.length >= 3);
  assert.deepEqual(events, ["ADDED w", "MODIFIED w", "DELETED w"]);
  abort.abort();
  await assert.rejects(watching, /aborted|closed/);
});

test("ListWatch: filled from the list, follows changes, and keeps following after the API server ends its watch", async () => {
  const ns = "cache";
  await api.create("/api/v1/namespaces", { metadata: { name: ns } });
  const path = `/api/v1/namespaces/${ns}/configmaps`;
  await api.create(path, { metadata: { name: "before" } });
  const list = (): Promise<ListResult> => api.get<ListResult>(path);
  const cache = new ListWatch(api, path, list, { watchSeconds: [1, 2] });
  const errors: unknown[] = [];
  cache.on("error", (err) => errors.push(err));
  await cache.start();
  assert.ok(cache.get("before", ns));
  assert.equal(cache.get("before", "elsewhere"), undefined);
  await api.create(path, { metadata: { name: "after" } });
  await until("the new ConfigMap in the cache", () => cache.get("after", ns) !== undefined);
  // past the watch's 1-2 s: the server has ended it and the cache watches again from where it was
  await new Promise((r) => setTimeout(r, 2500));
  await api.patch(`${path}/after`, { data: { v: "2" } });
  await until("the change made after the re-watch", () => (cache.get("after", ns) as ConfigMap | undefined)?.data?.v === "2");
  await api.delete(`${path}/before`);
  await until("the deleted ConfigMap gone from the cache", () => cache.get("before", ns) === undefined);
  assert.deepEqual(cache.listCached(ns).map((o) => o.metadata?.name), ["after"]);
  assert.deepEqual(errors, []);
  await cache.stop();
});

test("ListWatch.start rejects when the list is refused, with the API server's status", async () => {
  const jane = new KubeApi(selectCluster({ kubeconfig: await cp.kubeconfigFor("nobody") }).credentials);
  const cache = new ListWatch(jane, cms, () => jane.get<ListResult>(cms));
  await assert.rejects(cache.start(), (err: unknown) => statusCode(err) === 403);
  await cache.stop();
  jane.close();
});
