// The run reconciler against a real API server, driven by hand so that the
// race is not left to timing: the actor ends the run and requeues it, and
// the next pass gets the informer's copy from before the actor's write. That
// pass must not act again (no second finish, no second goal).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { GVR, Kube } from "../../src/controller/kube.ts";
import { ProvenanceSigner } from "../../src/controller/provenance-recorder.ts";
import { RunReconciler } from "../../src/controller/reconcile-run.ts";
import { generateSigningKey } from "../../src/signing/keys.ts";
import { staticKeyring } from "../../src/signing/keyring.ts";
import { stampedRun } from "../support/stamps.ts";
import { logger } from "../../src/log.ts";
import type { AgentConfig, AgentRun, Guardrails } from "../../src/types/agent.ts";
import { startFakeKagent, type FakeKagent } from "../support/a2a-server.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NS = "stale";

let cp: ControlPlane;
let kagent: FakeKagent;
const key = generateSigningKey();
const verifying = { keyring: staticKeyring(undefined, [key]), exemptNamespaces: new Set<string>() };

const guardrails: Guardrails = {
  tokenBudget: 10_000,
  timeout: "1d",
  maxIterations: 5,
  networkPolicy: "strict",
  egress: [],
  rbac: [],
  approval: { required: false, approverGroups: [] },
  tools: [],
};

before(async () => {
  logger.level = "error";
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  kagent = await startFakeKagent({ defaultScript: { llmCalls: 1, toolCallsPerCall: 0, resultText: "done" } });
  const config: AgentConfig = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "plain", namespace: NS }, spec: { modelConfigRef: { name: "claude" }, systemPrompt: "You write tests." } };
  // No gateway here: the run is stored stamped and signed as the webhook would have.
  const run = await stampedRun({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r1", namespace: NS }, spec: { configRef: { name: "plain" }, goal: "write tests" } }, config, guardrails, key);
  await cp.applyYaml(
    [{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }, config, run]
      .map((d) => stringify(d))
      .join("---\n"),
  );
});

after(async () => {
  await kagent.close();
  await cp.stop();
});

test("a pass on the informer's copy from before the actor's write does not finish the run again", async () => {
  const kube = new Kube(cp.kubeConfig);
  const requeued: string[] = [];
  const reconciler = new RunReconciler({ kube, driver: new A2ADriver(kagent.url, logger), provenance: new ProvenanceSigner(), log: logger, scopeEnvironment: () => Promise.resolve({}), requeue: (k) => requeued.push(k), ...verifying });
  const fresh = async () => {
    const run = (await kube.get(GVR.agentRuns, NS, "r1")) as AgentRun | null;
    assert.ok(run, "run r1 exists");
    return run;
  };

  await reconciler.reconcile(await fresh()); // Pending, scope, Acting
  assert.equal((await fresh()).status?.phase, "Acting");
  await reconciler.reconcile(await fresh()); // applies the Agent; not Ready yet
  const custom = cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  await custom.patchNamespacedCustomObjectStatus(
    { group: "kagent.dev", version: "v1alpha2", namespace: NS, plural: "agents", name: "r1-agent", body: { status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }] } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );

  const stale = await fresh(); // Acting, as the informer holds it while the actor runs
  await reconciler.reconcile(stale);
  assert.equal(reconciler.running, 1, "the actor started");
  await reconciler.drain();
  assert.deepEqual(requeued, [`${NS}/r1`], "the actor requeued the run as it ended");
  const done = await fresh();
  assert.equal(done.status?.phase, "Succeeded");
  assert.match(done.status?.conditions?.find((c) => c.type === "Succeeded")?.message ?? "", /\(provenance recorded unsigned: no signing key configured, Helm provenance\.keySecret\)$/, "the condition says the provenance is unsigned");
  assert.deepEqual(done.status?.provenance?.signatures, []);
  const writes = kube.requests.get("patch agentruns/status");

  await reconciler.reconcile(stale);
  await reconciler.drain();
  const after = await fresh();
  assert.equal(after.status?.completionTime, done.status?.completionTime, "the run was not finished again");
  assert.equal(kube.requests.get("patch agentruns/status"), writes, "no status write from the stale pass");
  assert.equal(kagent.sendCount(`${done.metadata?.uid ?? ""}-attempt-1`), 1, "the goal was sent once");

  // Once the informer shows the outcome, the run is left alone as before.
  await reconciler.reconcile(after);
  assert.equal(kube.requests.get("patch agentruns/status"), writes);
});

test("a second writer with an older copy cannot finish a run that already ended", async () => {
  const kube = new Kube(cp.kubeConfig);
  // another replica, acting on what it read before the run ended: the run
  // looked cancelled before the agent acted
  const other = new RunReconciler({ kube, driver: new A2ADriver(kagent.url, logger), provenance: new ProvenanceSigner(), log: logger, scopeEnvironment: () => Promise.resolve({}), requeue: () => undefined, ...verifying });
  const ended = (await kube.get(GVR.agentRuns, NS, "r1")) as AgentRun;
  assert.equal(ended.status?.phase, "Succeeded");
  const older: AgentRun = {
    ...ended,
    metadata: { ...ended.metadata, resourceVersion: String(Number(ended.metadata?.resourceVersion) - 1) },
    spec: { ...ended.spec, status: "Cancelled" },
    status: { ...ended.status, phase: "PreHooks" },
  };
  const writes = kube.requests.get("patch agentruns/status") ?? 0;
  await other.reconcile(older);
  const after = (await kube.get(GVR.agentRuns, NS, "r1")) as AgentRun;
  assert.equal(after.status?.phase, "Succeeded", "the outcome stands");
  assert.equal(after.status?.completionTime, ended.status?.completionTime);
  assert.equal(kube.requests.get("patch agentruns/status"), writes + 1, "one conditional write, refused with 409 Conflict");
});
