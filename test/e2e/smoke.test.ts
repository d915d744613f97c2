// The foundation works: a control plane from the built tools, our CRDs and
// the test copies installed, kubectl and client-node agreeing, clean teardown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import type { AgentRun } from "../../src/types/agent.ts";
import { startControlPlane } from "../support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

test("control plane: CRDs install, kubectl creates an AgentRun, client-node reads it back, teardown leaves nothing", async () => {
  const cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/crds"), join(ROOT, "test/support/crds")] });
  const pids = cp.pids;
  try {
    const version = await cp.kubectl(["version", "-o", "json"]);
    assert.match((JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, /^v1\.37\./);
    const created = await cp.kubectl(["apply", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "agent.tekton.dev/v1alpha1",
        kind: "AgentRun",
        metadata: { name: "smoke", namespace: "default" },
        spec: { configRef: { name: "writer" }, goal: "Write tests", context: { hints: ["a"] }, tokenBudget: 1000 },
      }),
    });
    assert.match(created.stdout, /agentrun\.agent\.tekton\.dev\/smoke created/);
    const api = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    const run = (await api.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: "default", plural: "agentruns", name: "smoke" })) as AgentRun;
    assert.deepEqual(run.spec, { configRef: { name: "writer" }, goal: "Write tests", context: { hints: ["a"] }, tokenBudget: 1000 });
    const explain = await cp.kubectl(["explain", "agentconfig.spec.toolServers.allowedTools"]);
    assert.match(explain.stdout, /DESCRIPTION/);
    for (const crd of ["agents.kagent.dev", "modelconfigs.kagent.dev", "remotemcpservers.kagent.dev", "pipelineruns.tekton.dev", "customruns.tekton.dev"]) {
      assert.equal((await cp.kubectl(["get", "crd", crd])).code, 0);
    }
  } finally {
    await cp.stop();
  }
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
});

test("garbage collection with kube-controller-manager removes dependents of a deleted owner", async () => {
  const cp = await startControlPlane({ controllerManager: true });
  try {
    await cp.kubectl(["create", "configmap", "owner"]);
    const owner = JSON.parse((await cp.kubectl(["get", "configmap", "owner", "-o", "json"])).stdout) as { metadata: { uid: string } };
    await cp.applyYaml(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "dependent", namespace: "default", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid }] } }));
    await cp.kubectl(["delete", "configmap", "owner"]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await cp.kubectl(["get", "configmap", "dependent"], { allowFail: true });
      if (r.code !== 0) break;
      if (Date.now() > deadline) assert.fail("dependent ConfigMap not garbage-collected within 30 s");
      await new Promise((r2) => setTimeout(r2, 200));
    }
  } finally {
    await cp.stop();
  }
});
