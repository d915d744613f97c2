// The foundation works: a control plane from the built tools, our CRDs, the
// kagent test copies and Tekton's released CRDs installed, kubectl and
// client-node agreeing, identities for approval tests, garbage collection
// with kube-controller-manager, and a teardown that leaves nothing behind
// (Tekton's controller included), however the test process ends.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import type { AgentRun } from "../../src/types/agent.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HARNESS = fileURLToPath(new URL("../support/control-plane.ts", import.meta.url));
const TEKTON = fileURLToPath(new URL("../support/tekton.ts", import.meta.url));

// A killed child whose parent has exited stays a zombie until init reaps it,
// and signal 0 still reaches a zombie: count those as gone.
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

async function gone(pids: number[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("control plane shared by the tests of a file", () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  });
  after(() => cp?.stop());

  test("kubectl version reports the v1.37 server", async () => {
    const { stdout } = await cp.kubectl(["version"]);
    assert.match(stdout, /^Server Version: v1\.37\.\d+$/m);
    const json = JSON.parse((await cp.kubectl(["version", "-o", "json"])).stdout) as { serverVersion: { gitVersion: string } };
    assert.match(json.serverVersion.gitVersion, /^v1\.37\.\d+$/);
  });

  test("our CRDs, the kagent test copies and Tekton's released CRDs are Established", async () => {
    const { stdout } = await cp.kubectl(["get", "crd", "-o", "json"]);
    const crds = (JSON.parse(stdout) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] }).items;
    const established = new Set(crds.filter((c) => c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True")).map((c) => c.metadata.name));
    for (const name of ["agentruns.agent.tekton.dev", "agentconfigs.agent.tekton.dev", "agents.kagent.dev", "modelconfigs.kagent.dev", "remotemcpservers.kagent.dev", "mcpservers.kagent.dev", "pipelineruns.tekton.dev", "customruns.tekton.dev", "taskruns.tekton.dev", "pipelines.tekton.dev", "tasks.tekton.dev"]) {
      assert.ok(established.has(name), `${name} Established`);
    }
    const pipelineRuns = crds.find((c) => c.metadata.name === "pipelineruns.tekton.dev") as { metadata: { labels?: Record<string, string> } } | undefined;
    assert.equal(pipelineRuns?.metadata.labels?.["app.kubernetes.io/part-of"], "tekton-pipelines", "Tekton's own CRD, as released");
    assert.match((await cp.kubectl(["explain", "agentconfig.spec.toolServers.allowedTools"])).stdout, /DESCRIPTION/);
  });

  test("an AgentRun applied with kubectl reads back through client-node", async () => {
    const spec = { configRef: { name: "writer" }, goal: "Write tests", context: { hints: ["a", "b"] }, tokenBudget: 1000, timeout: "10m", maxIterations: 3 };
    const created = await cp.kubectl(["apply", "-f", "-"], {
      stdin: `apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: smoke\n  namespace: default\n  labels: {team: qa}\nspec: ${JSON.stringify(spec)}\n`,
    });
    assert.match(created.stdout, /agentrun\.agent\.tekton\.dev\/smoke created/);
    const api = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    const run = (await api.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: "default", plural: "agentruns", name: "smoke" })) as AgentRun;
    assert.equal(run.kind, "AgentRun");
    assert.equal(run.metadata?.name, "smoke");
    assert.equal(run.metadata?.labels?.team, "qa");
    assert.deepEqual(run.spec, spec);
  });

  test("kubeconfigFor signs another identity: user and groups as the apiserver sees them, RBAC applies", async () => {
    const path = await cp.kubeconfigFor("alice", ["agent-approvers"]);
    const who = JSON.parse((await cp.kubectl(["--kubeconfig", path, "auth", "whoami", "-o", "json"])).stdout) as { status: { userInfo: { username: string; groups: string[] } } };
    assert.equal(who.status.userInfo.username, "alice");
    assert.deepEqual(who.status.userInfo.groups.filter((g) => g !== "system:authenticated"), ["agent-approvers"]);
    const denied = await cp.kubectl(["--kubeconfig", path, "get", "agentruns"], { allowFail: true });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden/i);
    await cp.kubectl(["create", "clusterrole", "agentrun-reader", "--verb=get,list", "--resource=agentruns.agent.tekton.dev"]);
    await cp.kubectl(["create", "clusterrolebinding", "approvers-read", "--clusterrole=agentrun-reader", "--group=agent-approvers"]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await cp.kubectl(["--kubeconfig", path, "get", "agentruns", "-o", "name"], { allowFail: true });
      if (r.code === 0) {
        assert.match(r.stdout, /agentrun\.agent\.tekton\.dev\/smoke/);
        break;
      }
      if (Date.now() > deadline) assert.fail(`still denied after the binding: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  test("stop ends every child and removes the directory; a second stop is a no-op", async () => {
    const pids = cp.pids;
    assert.equal(pids.length, 2);
    await cp.stop();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
    assert.equal(existsSync(cp.dir), false);
    await cp.stop();
  });
});

test("garbage collection with kube-controller-manager removes dependents of a deleted owner", async () => {
  const cp = await startControlPlane({ controllerManager: true });
  try {
    assert.equal(cp.pids.length, 3);
    await cp.kubectl(["create", "configmap", "owner"]);
    const owner = JSON.parse((await cp.kubectl(["get", "configmap", "owner", "-o", "json"])).stdout) as { metadata: { uid: string } };
    await cp.applyYaml(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "dependent", namespace: "default", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid }] } }));
    await cp.kubectl(["delete", "configmap", "owner"]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await cp.kubectl(["get", "configmap", "dependent"], { allowFail: true });
      if (r.code !== 0) {
        assert.match(r.stderr, /NotFound|not found/);
        break;
      }
      if (Date.now() > deadline) assert.fail("dependent ConfigMap not garbage-collected within 30 s");
      await new Promise((res) => setTimeout(res, 200));
    }
  } finally {
    await cp.stop();
  }
});

// A test process that ends without stop(): by SIGTERM (the handler exits
// 143), by SIGKILL (no hook runs; the watchdog cleans up) and by simply
// finishing (the 'exit' hook; unreferenced children do not hold it open).
test("no child outlives its test process, however that process ends", async () => {
  const script = `
    import { startControlPlane } from ${JSON.stringify(HARNESS)};
    const cp = await startControlPlane();
    console.log(JSON.stringify({ pids: cp.pids, dir: cp.dir }));
    if (process.argv[1] !== "exit") setInterval(() => {}, 1000);`;
  const ending = async (how: "SIGTERM" | "SIGKILL" | "exit") => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, how], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => { resolve({ code, signal }); }));
    const deadline = Date.now() + 60_000;
    while (!out.includes("\n")) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`${how}: the plane did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = JSON.parse(out) as { pids: number[]; dir: string };
    assert.equal(started.pids.length, 2);
    if (how !== "exit") child.kill(how);
    const result = await closed;
    if (how === "SIGTERM") assert.equal(result.code, 143);
    if (how === "SIGKILL") assert.equal(result.signal, "SIGKILL");
    if (how === "exit") assert.equal(result.code, 0);
    // The watchdog polls once a second.
    assert.deepEqual(await gone(started.pids, how === "SIGKILL" ? 5000 : 1000), [], `${how}: children gone`);
    const deadlineDir = Date.now() + 3000;
    while (existsSync(started.dir) && Date.now() < deadlineDir) await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(started.dir), false, `${how}: ${started.dir} removed`);
  };
  await Promise.all([ending("SIGTERM"), ending("SIGKILL"), ending("exit")]);
});

// Tekton's controller runs beside a plane as one of its children: a test
// process SIGKILLed with it running leaves it behind no more than etcd.
test("Tekton's controller goes with its plane when the test process is SIGKILLed", async () => {
  const script = `
    import { startControlPlane } from ${JSON.stringify(HARNESS)};
    import { startTekton } from ${JSON.stringify(TEKTON)};
    const cp = await startControlPlane();
    const tekton = await startTekton(cp);
    console.log(JSON.stringify({ pids: cp.pids, tekton: tekton.pid, dir: cp.dir }));
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => { resolve(signal); }));
  const deadline = Date.now() + 90_000;
  while (!out.includes("\n")) {
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`the plane and Tekton did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const started = JSON.parse(out) as { pids: number[]; tekton: number; dir: string };
  assert.equal(started.pids.length, 3, "etcd, kube-apiserver and Tekton's controller");
  assert.ok(started.pids.includes(started.tekton));
  assert.ok(alive(started.tekton), "Tekton's controller runs");
  child.kill("SIGKILL");
  assert.equal(await closed, "SIGKILL");
  // The watchdog polls once a second.
  assert.deepEqual(await gone(started.pids, 8000), [], "every child gone, Tekton's controller included");
});
