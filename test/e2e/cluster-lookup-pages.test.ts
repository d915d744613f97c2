// The watch caches list a page at a time: a single response holding every
// object of a kind was held as text and parsed beside the cache it filled,
// so at 50,000 objects a start peaked far above what the caches then kept.
// On a real kube-apiserver: 12 ModelConfigs listed 5 a page fill the cache
// whole (every lookup a hit), in 3 list requests, and the watch started from
// the list's snapshot sees what comes after.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { logger } from "../../src/log.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { until } from "../support/until.ts";
import { ClusterLookup } from "../../src/context/cluster-lookup.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MODELS = 12;

let cp: ControlPlane;

const model = (ns: string, name: string) => ({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name, namespace: ns }, spec: { provider: "OpenAI", model: "gpt-4o-mini", apiKeySecret: "openai", apiKeySecretKey: "key" } });

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")] });
  const docs = [
    ...["a", "b", "c"].map((ns) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })),
    ...Array.from({ length: MODELS }, (_, i) => model(["a", "b", "c"][i % 3] ?? "a", `m-${String(i)}`)),
  ];
  await cp.applyYaml(docs.map((d) => stringify(d)).join("---\n"));
});

after(async () => {
  await cp.stop();
});

/** LIST requests the API server has served for a resource. */
async function lists(resource: string): Promise<number> {
  const text = (await cp.kubectl(["get", "--raw", "/metrics"])).stdout;
  let n = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("apiserver_request_total{") && line.includes(`resource="${resource}"`) && line.includes('verb="LIST"')) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

test("the caches list a page at a time, hold every object, and watch on from the list's snapshot", async () => {
  const before = await lists("modelconfigs");
  const lookup = new ClusterLookup(kubeApiOf(cp.kubeConfig), logger, undefined, { pageSize: 5 });
  try {
    await lookup.start();
    assert.equal(lookup.notSynced(), undefined);
    assert.equal((await lists("modelconfigs")) - before, Math.ceil(MODELS / 5), "12 ModelConfigs in pages of 5");
    for (let i = 0; i < MODELS; i++) assert.equal((await lookup.get("ModelConfig", ["a", "b", "c"][i % 3] ?? "a", `m-${String(i)}`))?.metadata?.name, `m-${String(i)}`);
    assert.equal(lookup.confirmations, 0, "every lookup answered from the cache");
    // Created after the list: the watch, started at the list's resourceVersion, brings it in.
    await cp.applyYaml(stringify(model("a", "late")));
    await until("the watch to bring in the ModelConfig created after the list", () => lookupCached(lookup, "a", "late"));
  } finally {
    await lookup.stop();
  }
});

/** Whether the cache holds it (a miss would be confirmed by a read, counted in confirmations). */
async function lookupCached(lookup: ClusterLookup, ns: string, name: string): Promise<boolean> {
  const reads = lookup.confirmations;
  await lookup.get("ModelConfig", ns, name);
  return lookup.confirmations === reads;
}
