// The controller counts the API requests it sends, by verb and resource, and
// serves the count as agentgate_controller_api_requests_total on /metrics:
// the figure behind "how many API calls one run costs".
import { generateSigningKey } from "../../src/signing/keys.ts";
import { staticKeyring } from "../../src/signing/keyring.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { startController, type RunningController } from "../../src/controller/controller.ts";
import { Kube } from "../../src/controller/kube.ts";
import { ProvenanceSigner } from "../../src/controller/provenance-recorder.ts";
import { logger } from "../../src/log.ts";
import type { AgentRun } from "../../src/types/agent.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NS = "counted";

let cp: ControlPlane;
let controller: RunningController;

function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve(Buffer.concat(chunks).toString("utf8")); });
    })
      .on("error", reject)
      .end();
  });
}

function counterValue(text: string, verb: string, resource: string): number {
  const line = text.split("\n").find((l) => l.startsWith("agentgate_controller_api_requests_total{") && l.includes(`verb="${verb}"`) && l.includes(`resource="${resource}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

before(async () => {
  logger.level = "error";
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds")] });
  await cp.kubectl(["create", "namespace", NS]);
});

after(async () => {
  await controller.stop();
  await cp.stop();
});

test("Kube counts each request it sends by verb and resource, server-side apply apart from patches", async () => {
  const kube = new Kube(cp.kubeConfig);
  await kube.get({ group: "agent.tekton.dev", version: "v1alpha1", plural: "agentconfigs" }, NS, "absent");
  await kube.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sa-1", namespace: NS } });
  await kube.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sa-1", namespace: NS } });
  await kube.core.readNamespacedServiceAccount({ name: "sa-1", namespace: NS });
  const counts = Object.fromEntries(kube.requests);
  // KubernetesObjectApi looks up whether a kind is namespaced once per apiVersion.
  assert.deepEqual(counts, { "get agentconfigs": 1, "get discovery": 1, "apply serviceaccounts": 2, "get serviceaccounts": 1 });
});

test("a run's requests reach the controller's /metrics as agentgate_controller_api_requests_total", async () => {
  controller = await startController({
    kubeConfig: cp.kubeConfig,
    kagentUrl: "http://127.0.0.1:9",
    driver: new A2ADriver("http://127.0.0.1:9", logger),
    provenance: new ProvenanceSigner(),
    log: logger,
    leaderElect: false,
    leaseNamespace: "default",
    metricsListen: { host: "127.0.0.1", port: 0 },
    keyring: staticKeyring(undefined, [generateSigningKey()]),
    exemptNamespaces: new Set(),
  });
  const port = controller.metricsPort;
  assert.ok(port);
  const before = await metrics(port);
  assert.ok(counterValue(before, "list", "agentruns") >= 1, "the informer's list is counted");
  // No webhook in this plane, so the run carries no stamp: the controller
  // ends it at once with one status patch and one Event.
  const custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  await custom.createNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", plural: "agentruns", namespace: NS, body: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "unstamped" }, spec: { configRef: { name: "c" }, goal: "g" } } });
  for (const deadline = Date.now() + 30_000; ; ) {
    if (Date.now() > deadline) assert.fail("the unstamped run did not end with its Event within 30 s");
    const run = (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", plural: "agentruns", namespace: NS, name: "unstamped" })) as AgentRun;
    if (run.status?.phase === "Failed" && (controller.kube.requests.get("create events") ?? 0) >= 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The controller goes on working (discovery, watches) while /metrics is
  // read: each count on it lies between the counts just before and just after.
  const counted = new Map(controller.kube.requests);
  const text = await metrics(port);
  const afterward = new Map(controller.kube.requests);
  assert.equal(counterValue(text, "patch", "agentruns/status"), 1);
  assert.equal(counterValue(text, "create", "events"), 1);
  for (const [key, n] of afterward) {
    const [verb = "", resource = ""] = key.split(" ");
    const shown = counterValue(text, verb, resource);
    assert.ok(shown >= (counted.get(key) ?? 0) && shown <= n, `${key} on /metrics: ${String(shown)}, counted ${String(counted.get(key) ?? 0)}..${String(n)}`);
  }
});
