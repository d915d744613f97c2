// The signing keys' Secret and ConfigMap, and the owner read at start, on a
// real kube-apiserver through the lean client: the paths, verbs and bodies
// the unit tests cannot see. Replicas starting or rotating at once converge
// on one key set (a create or a replace that loses gets 409 and reads
// again), a rotation keeps what else the ConfigMap holds, and the owner's
// uid comes from the Deployment or CronJob it names.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { OwnerError, resolveOwner } from "../../src/kube/owner.ts";
import { PRIVATE_KEYS_FILE, PUBLIC_KEYS_FILE, PublishedKeys, SecretKeyring } from "../../src/signing/cluster-keyring.ts";
import { decodePrivateKeys, decodePublicKeys } from "../../src/signing/keys.ts";
import { DEFAULT_ROTATION } from "../../src/signing/rotation.ts";
import { logger } from "../../src/log.ts";

const NS = "agentgate-system";
const DAY = 86_400_000;

let cp: ControlPlane;
let api: KubeApi;

before(async () => {
  cp = await startControlPlane();
  api = kubeApiOf(cp.kubeConfig);
  await cp.kubectl(["create", "namespace", NS]);
});

after(async () => {
  await cp.stop();
});

const secretPath = (name: string) => `/api/v1/namespaces/${NS}/secrets/${name}`;
const configMapPath = (name: string) => `/api/v1/namespaces/${NS}/configmaps/${name}`;

async function storedKids(name: string): Promise<{ secret: string[]; published: string[] }> {
  const secret = await api.get<k8s.V1Secret>(secretPath(name));
  const cm = await api.get<k8s.V1ConfigMap>(configMapPath(name));
  return {
    secret: decodePrivateKeys(Buffer.from(secret.data?.[PRIVATE_KEYS_FILE] ?? "", "base64").toString("utf8"), "Secret").map((k) => k.kid),
    published: decodePublicKeys(cm.data?.[PUBLIC_KEYS_FILE] ?? "", "ConfigMap").map((k) => k.kid),
  };
}

test("replicas starting at once make one key: the Secret's creator wins, the others read its keys; the public half is published", async () => {
  const ref = { namespace: NS, name: "signing-race" };
  const replicas = [0, 1, 2].map(() => new SecretKeyring(api, ref, DEFAULT_ROTATION, logger));
  await Promise.all(replicas.map((r) => r.sync()));
  const kids = new Set(replicas.map((r) => r.signingKey()?.kid));
  assert.equal(kids.size, 1, "one signing key among the replicas");
  const [kid] = kids;
  assert.ok(kid);
  for (const r of replicas) assert.equal(r.notReady(), undefined);
  assert.deepEqual(await storedKids(ref.name), { secret: [kid], published: [kid] });
  const secret = await api.get<k8s.V1Secret>(secretPath(ref.name));
  assert.equal(secret.type, "Opaque");
  assert.equal(secret.metadata?.labels?.["app.kubernetes.io/component"], "decision-signing");
  const cm = await api.get<k8s.V1ConfigMap>(configMapPath(ref.name));
  assert.equal(cm.metadata?.labels?.["app.kubernetes.io/component"], "decision-signing");

  const published = new PublishedKeys(api, ref, logger);
  await published.read();
  assert.equal(published.notReady(), undefined);
  assert.ok(await published.resolve(kid), "the controller resolves the gateway's kid");
});

/**
 * A client whose first write to path waits for `first` to run, then sends
 * its own: the write lost the race, as when two replicas read the same
 * state. Records the statuses its writes were answered with.
 */
function losing(path: string, first: () => Promise<void>): { api: KubeApi; answers: (number | undefined)[] } {
  const slow = kubeApiOf(cp.kubeConfig, { userAgent: "agentgate-test-loser" });
  const answers: (number | undefined)[] = [];
  let waited = false;
  const lose = <A extends unknown[], T>(write: (p: string, ...rest: A) => Promise<T>) => async (p: string, ...rest: A): Promise<T> => {
    if (!waited && p.startsWith(path)) {
      waited = true;
      await first();
    }
    try {
      const out = await write(p, ...rest);
      answers.push(200);
      return out;
    } catch (err) {
      answers.push((err as { code?: number }).code);
      throw err;
    }
  };
  slow.create = lose(slow.create.bind(slow)) as KubeApi["create"];
  slow.replace = lose(slow.replace.bind(slow)) as KubeApi["replace"];
  return { api: slow, answers };
}

test("a replica whose create of the Secret loses (409) takes the winner's keys", async () => {
  const ref = { namespace: NS, name: "signing-lost-create" };
  const winner = new SecretKeyring(api, ref, DEFAULT_ROTATION, logger);
  const { api: slow, answers } = losing(secretPath(ref.name).replace(/\/[^/]+$/, ""), () => winner.sync());
  const loser = new SecretKeyring(slow, ref, DEFAULT_ROTATION, logger);
  await loser.sync();
  assert.equal(answers[0], 409, "the loser's create was refused");
  assert.ok(winner.signingKey());
  assert.equal(loser.signingKey()?.kid, winner.signingKey()?.kid);
  assert.deepEqual(await storedKids(ref.name), { secret: [loser.signingKey()?.kid], published: [loser.signingKey()?.kid] });
});

test("a replica whose rotation loses (409 on the replace) takes the winner's new key", async () => {
  const ref = { namespace: NS, name: "signing-lost-replace" };
  const first = new SecretKeyring(api, ref, DEFAULT_ROTATION, logger);
  await first.sync();
  const later = () => Date.now() + DEFAULT_ROTATION.rotateAfterMs + DAY;
  const winner = new SecretKeyring(api, ref, DEFAULT_ROTATION, logger, { now: later });
  const { api: slow, answers } = losing(secretPath(ref.name), () => winner.sync());
  const loser = new SecretKeyring(slow, ref, DEFAULT_ROTATION, logger, { now: later });
  await loser.sync();
  assert.equal(answers[0], 409, "the loser's replace was refused");
  assert.equal(answers.length, 1, "and it wrote nothing after: the ConfigMap already had the winner's keys");
  assert.notEqual(winner.signingKey()?.kid, first.signingKey()?.kid);
  assert.equal(loser.signingKey()?.kid, winner.signingKey()?.kid);
  assert.equal((await storedKids(ref.name)).secret.length, 2);
});

test("a rotation replaces the Secret and the ConfigMap, keeps the old key, and keeps what else the ConfigMap holds", async () => {
  const ref = { namespace: NS, name: "signing-rotate" };
  const first = new SecretKeyring(api, ref, DEFAULT_ROTATION, logger);
  await first.sync();
  const old = first.signingKey()?.kid;
  assert.ok(old);
  await cp.kubectl(["patch", "configmap", ref.name, "-n", NS, "--type=merge", "-p", '{"data":{"note":"kept"}}']);
  // two replicas past the rotation age at once: one replaces, the other's replace is refused (409) or finds the new key
  const later = () => Date.now() + DEFAULT_ROTATION.rotateAfterMs + DAY;
  const rotating = [0, 1].map(() => new SecretKeyring(api, ref, DEFAULT_ROTATION, logger, { now: later }));
  await Promise.all(rotating.map((r) => r.sync()));
  const kids = new Set(rotating.map((r) => r.signingKey()?.kid));
  assert.equal(kids.size, 1, "one new signing key");
  const [kid] = kids;
  assert.ok(kid && kid !== old);
  const stored = await storedKids(ref.name);
  assert.deepEqual([...stored.secret].sort(), [old, kid].sort(), "the replaced key is kept for verification");
  assert.deepEqual([...stored.published].sort(), [old, kid].sort());
  const cm = await api.get<k8s.V1ConfigMap>(configMapPath(ref.name));
  assert.equal(cm.data?.note, "kept");
  assert.equal(cm.metadata?.labels?.["app.kubernetes.io/component"], "decision-signing", "the replace keeps the metadata read");
});

test("published keys not there yet: not ready, saying the gateway publishes them; a ConfigMap without the file is a key-material error", async () => {
  const published = new PublishedKeys(api, { namespace: NS, name: "no-such-keys" }, logger);
  await assert.rejects(published.read(), (err: unknown) => (err as { code?: number }).code === 404);
  assert.equal(published.notReady(), `ConfigMap ${NS}/no-such-keys does not exist yet (the gateway publishes it when it starts)`);
  await cp.kubectl(["create", "configmap", "empty-keys", "-n", NS]);
  const empty = new PublishedKeys(api, { namespace: NS, name: "empty-keys" }, logger);
  await assert.rejects(empty.read(), /has no jwks\.json/);
  assert.equal(empty.notReady(), `ConfigMap ${NS}/empty-keys has no ${PUBLIC_KEYS_FILE}`);
});

test("resolveOwner reads the uid of the Deployment or CronJob named, and words a missing or unreadable one", async () => {
  await cp.applyYaml(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: agentgate-gateway, namespace: ${NS} }
spec:
  selector: { matchLabels: { app: gw } }
  template:
    metadata: { labels: { app: gw } }
    spec: { containers: [{ name: gw, image: example.invalid/gw }] }
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: agentgate-audit, namespace: ${NS} }
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec: { restartPolicy: Never, containers: [{ name: audit, image: example.invalid/audit }] }
`);
  const uidOf = async (kind: string, name: string) => (await cp.kubectl(["get", kind, name, "-n", NS, "-o", "jsonpath={.metadata.uid}"])).stdout;
  assert.deepEqual(await resolveOwner(api, NS, { kind: "deployment", name: "agentgate-gateway" }), { namespace: NS, reference: { apiVersion: "apps/v1", kind: "Deployment", name: "agentgate-gateway", uid: await uidOf("deployment", "agentgate-gateway") } });
  assert.deepEqual(await resolveOwner(api, NS, { kind: "cronjob", name: "agentgate-audit" }), { namespace: NS, reference: { apiVersion: "batch/v1", kind: "CronJob", name: "agentgate-audit", uid: await uidOf("cronjob", "agentgate-audit") } });

  await assert.rejects(resolveOwner(api, NS, { kind: "deployment", name: "agentgate-audit" }), (err: unknown) => err instanceof OwnerError && err.kind === "usage" && err.message === `owner deployment/agentgate-audit: no Deployment agentgate-audit in namespace ${NS}`);

  const nobody = new k8s.KubeConfig();
  nobody.loadFromFile(await cp.kubeconfigFor("nobody", []));
  await assert.rejects(resolveOwner(kubeApiOf(nobody), NS, { kind: "cronjob", name: "agentgate-audit" }), (err: unknown) => err instanceof OwnerError && err.kind === "usage" && err.message === `owner cronjob/agentgate-audit: reading it was refused (HTTP 403); this process needs get on cronjobs.batch named agentgate-audit in ${NS}`);
});

test("resolveOwner tries an API server that does not answer again, then names what failed", async () => {
  const unreachable = new k8s.KubeConfig();
  unreachable.loadFromOptions({ clusters: [{ name: "c", server: "https://127.0.0.1:1", skipTLSVerify: true }], users: [{ name: "u", token: "t" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x" });
  await assert.rejects(resolveOwner(kubeApiOf(unreachable), NS, { kind: "deployment", name: "agentgate-gateway" }, { attempts: 2, retryMs: 1 }), (err: unknown) => err instanceof OwnerError && err.kind === "unavailable" && /^owner deployment\/agentgate-gateway: cannot read it from the API server after 2 tries: .*ECONNREFUSED/.test(err.message));
});
