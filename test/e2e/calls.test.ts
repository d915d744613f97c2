// The run-time gateway end to end (docs/run-time-gateway.md) on a real
// kube-apiserver: run tokens minted by the API server and checked by
// TokenReview, runs read and their decisions verified, the ledger kept in a
// ConfigMap. The agent's side is the official MCP SDK's client; the tool
// server is the MCP SDK's server (test/support/mcp-tool-server.ts); the
// model API is a stand-in (test/support/model-api.ts: no provider can be
// reached from here).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { stringify } from "yaml";
import { CALLS_AUDIENCE } from "../../src/calls/caller.ts";
import { ConfigMapLedgerStore, ledgerName } from "../../src/calls/ledger-configmap.ts";
import { emptyLedger, Ledger, NoLedger, type LedgerState } from "../../src/calls/ledger.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import { signDecision } from "../../src/guardrails/decision.ts";
import { egressFor } from "../../src/guardrails/effective.ts";
import { serializeSnapshot, specSha256, toolServerSha256 } from "../../src/guardrails/snapshot.ts";
import { computeStamps } from "../../src/guardrails/stamps.ts";
import { logger } from "../../src/log.ts";
import { generateSigningKey } from "../../src/signing/keys.ts";
import { STAMP, type AgentRun, type Guardrails, type Snapshot } from "../../src/types/agent.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import type { ControlPlane } from "../support/control-plane.ts";
import { startCallsNeighbours } from "../support/calls-neighbours.ts";
import type { ModelApi } from "../support/model-api.ts";
import type { ToolServer } from "../support/mcp-tool-server.ts";

const NS = "team";
const GW_NS = "agentgate-system";
const key = generateSigningKey();

let cp: ControlPlane;
let gateway: RunningGateway;
let tools: ToolServer;
let model: ModelApi;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
let base = "";

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

const guardrails = (tokenBudget: number): Guardrails => ({
  tokenBudget,
  timeout: "10m",
  maxIterations: 5,
  networkPolicy: "strict",
  // The routes a platform that listed these loopback endpoints (models.allowedEndpoints) would stamp.
  egress: [egressFor("mcp:tools/fs", tools.url), egressFor("model", model.baseUrl)].filter((e) => e !== undefined),
  rbac: [],
  approval: { required: false, approverGroups: [] },
  tools: [{ server: "tools/fs", kind: "RemoteMCPServer", allowedTools: ["read_file", "write_file"], requireApproval: [] }],
});

async function live(group: string, plural: string, namespace: string, name: string): Promise<KubeObject> {
  return (await custom.getNamespacedCustomObject({ group, version: "v1alpha2", namespace, plural, name })) as KubeObject;
}

/** A run stored as agentgate's webhook would have stamped it, its snapshot pinning the live tool server and ModelConfig, then Acting. */
async function actingRun(name: string, budget: number, stamped: Guardrails = guardrails(budget), podIp = "127.0.0.1"): Promise<AgentRun> {
  await cp.applyYaml(yaml({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: `agentgate-run-${name}`, namespace: NS } }));
  const snapshot: Snapshot = {
    config: { name: "writer", spec: { modelConfigRef: { name: "gpt" } } },
    modelConfig: { namespace: NS, name: "gpt", sha256: specSha256(await live("kagent.dev", "modelconfigs", NS, "gpt")) },
    toolServers: Object.fromEntries(await Promise.all(stamped.tools.map(async (t): Promise<[string, Snapshot["toolServers"][string]]> => [t.server, { kind: "RemoteMCPServer", sha256: toolServerSha256("RemoteMCPServer", await live("kagent.dev", "remotemcpservers", "tools", t.server.split("/")[1] ?? "")) }]))),
  };
  const stamps = computeStamps("alice", "default@test", "writer", stamped, serializeSnapshot(snapshot));
  const run: AgentRun = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: NS, annotations: stamps.annotations, labels: stamps.labels }, spec: { configRef: { name: "writer" }, goal: "write tests for refund()" } };
  const annotations = run.metadata?.annotations ?? {};
  annotations[STAMP.decision] = await signDecision(run, key);
  const created = (await custom.createNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", body: run })) as AgentRun;
  await cp.kubectl(["patch", "agentrun", name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase: "Acting" } })]);
  // What the controller does before the agent starts: the run's ledger.
  await new ConfigMapLedgerStore(kubeApiOf(cp.kubeConfig), GW_NS).open(emptyLedger({ namespace: NS, name, uid: created.metadata?.uid ?? "" }, stamped.tokenBudget));
  await agentPod(name, podIp);
  return created;
}

/**
 * The run's agent pod as kagent's chain would start it (no kubelet here:
 * its status is written as one would), at the address the test's calls
 * come from unless told otherwise.
 */
async function agentPod(run: string, ip: string): Promise<void> {
  await cp.applyYaml(yaml({ apiVersion: "v1", kind: "Pod", metadata: { name: `${run}-agent-pod`, namespace: NS }, spec: { serviceAccountName: `agentgate-run-${run}`, automountServiceAccountToken: false, containers: [{ name: "agent", image: "kagent/app" }] } }));
  await cp.kubectl(["patch", "pod", `${run}-agent-pod`, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase: "Running", podIP: ip, podIPs: [{ ip }], conditions: [{ type: "Ready", status: "True" }] } })]);
}

async function token(sa: string, audience = CALLS_AUDIENCE): Promise<string> {
  const r = await cp.kubectl(["create", "token", sa, "-n", NS, "--audience", audience]);
  return r.stdout.trim();
}

async function agent(run: string, bearer: string): Promise<Client> {
  const client = new Client({ name: "scripted-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/v1/runs/${NS}/${run}/mcp/tools/fs`), { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }));
  return client;
}

const text = (result: unknown): string => {
  const content = (result as { content?: { text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? "").join("");
};

async function ledgerOf(uid: string): Promise<LedgerState> {
  const cm = await core.readNamespacedConfigMap({ name: ledgerName(uid), namespace: GW_NS });
  return JSON.parse(cm.data?.["ledger.json"] ?? "{}") as LedgerState;
}

const chat = (run: string, bearer: string, body: Record<string, unknown>) =>
  fetch(`${base}/v1/runs/${NS}/${run}/model/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(body) });

before(async () => {
  logger.level = "error";
  ({ cp, custom, core, tools, model } = await startCallsNeighbours());
  await cp.applyYaml(yaml(...[NS, "tools", GW_NS].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } }))));
  await cp.applyYaml(
    yaml(
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "fs", namespace: "tools" }, spec: { description: "files", url: tools.url, protocol: "STREAMABLE_HTTP" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "openai-key", namespace: NS }, stringData: { key: "sk-provider-secret" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "gpt", namespace: NS }, spec: { provider: "OpenAI", model: "gpt-4o", apiKeySecret: "openai-key", apiKeySecretKey: "key", openAI: { baseUrl: model.baseUrl } } },
    ),
  );
  const dir = await mkdtemp(join(tmpdir(), "agentgate-calls-"));
  await writeFile(join(dir, "signing.pem"), key.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(join(dir, "policy-config.json"), JSON.stringify({ tools: { calls: { deniedArguments: [{ tools: ["write_*"], argument: "path", pattern: "^/etc/", reason: "system files are not the agent's" }] } } }));
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: GW_NS, serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`, trustedUser: [], drainSeconds: 0, signingKeyFile: join(dir, "signing.pem"), policyConfig: join(dir, "policy-config.json"), callsListen: "127.0.0.1:0" });
  base = `http://127.0.0.1:${gateway.callsPort ?? 0}`;
});

after(async () => {
  await gateway?.close();
  await tools?.close();
  await model?.close();
  await cp?.stop();
});

describe("tool calls through the run-time gateway", () => {
  let run: AgentRun;
  let client: Client;

  before(async () => {
    run = await actingRun("r1", 100_000);
    client = await agent("r1", await token("agentgate-run-r1"));
  });
  after(async () => {
    await client?.close();
  });

  test("tools/list shows the run only its stamped allowlist", async () => {
    const listed = await client.listTools();
    assert.deepEqual(listed.tools.map((t) => t.name).sort(), ["read_file", "write_file"]);
  });

  test("an allowed call reaches the server, without the run's token", async () => {
    const before = tools.calls.length;
    const result = await client.callTool({ name: "read_file", arguments: { path: "src/refund.py" } });
    assert.equal(text(result), "def refund(order): ...");
    assert.equal(tools.calls.length, before + 1);
    assert.equal(tools.calls.at(-1)?.authorization, undefined, "the run token stays with agentgate");
  });

  test("a call with arguments a Rego rule forbids is refused with the rule's reason; the server never sees it", async () => {
    const before = tools.calls.length;
    const result = await client.callTool({ name: "write_file", arguments: { path: "/etc/passwd", content: "x" } });
    assert.equal(result.isError, true);
    assert.match(text(result), /agentgate refused this call: policy refused this call of "write_file": argument "path" = "\/etc\/passwd" matches "\^\/etc\/": system files are not the agent's/);
    assert.equal(tools.calls.length, before);
    const ok = await client.callTool({ name: "write_file", arguments: { path: "tests/test_refund.py", content: "def test_refund(): ..." } });
    assert.equal(ok.isError, undefined);
    assert.equal(tools.calls.at(-1)?.tool, "write_file");
  });

  test("a tool outside the allowlist never reaches the server, whatever the agent asks", async () => {
    const before = tools.calls.length;
    const result = await client.callTool({ name: "delete_repo", arguments: { confirm: true } });
    assert.equal(result.isError, true);
    assert.match(text(result), /tool "delete_repo" of tools\/fs is not in this run's allowlist \(allowed: read_file, write_file\)/);
    assert.equal(tools.calls.length, before);
  });

  test("the ledger's trace holds every call in order with digests and verdicts", async () => {
    const ledger = await ledgerOf(run.metadata?.uid ?? "");
    assert.deepEqual(
      ledger.trace.map((e) => [e.seq, e.tool, e.verdict]),
      [
        [1, "read_file", "allowed"],
        [2, "write_file", "denied"],
        [3, "write_file", "allowed"],
        [4, "delete_repo", "denied"],
      ],
    );
    assert.ok(ledger.trace.every((e) => /^[0-9a-f]{64}$/.test(e.inputSha256)));
    assert.ok(ledger.trace.filter((e) => e.verdict === "allowed").every((e) => /^[0-9a-f]{64}$/.test(e.outputSha256 ?? "")));
  });
});

describe("who may call", () => {
  before(async () => {
    await actingRun("r2", 100_000);
  });

  test("another run's token is refused at this run's path", async () => {
    const res = await fetch(`${base}/v1/runs/${NS}/r1/mcp/tools/fs`, { method: "POST", headers: { authorization: `Bearer ${await token("agentgate-run-r2")}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /this token speaks for AgentRun team\/r2, not team\/r1/);
  });

  test("a token for the API server's audience, a token not a run's, and no token are refused", async () => {
    const post = async (bearer: string | undefined) =>
      fetch(`${base}/v1/runs/${NS}/r1/model/chat/completions`, { method: "POST", headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), "content-type": "application/json" }, body: "{}" });
    assert.equal((await post(await token("agentgate-run-r1", "https://kubernetes.default.svc.cluster.local"))).status, 401);
    await cp.applyYaml(yaml({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "builder", namespace: NS } }));
    assert.equal((await post(await token("builder"))).status, 403);
    assert.equal((await post(undefined)).status, 401);
  });

  test("a run whose stamps were widened by hand after signing is refused", async () => {
    await actingRun("r3", 1000);
    const wider = JSON.stringify(guardrails(10_000_000));
    await cp.kubectl(["annotate", "agentrun", "r3", "-n", NS, "--overwrite", `${STAMP.guardrails}=${wider}`]);
    const res = await chat("r3", await token("agentgate-run-r3"), { model: "gpt-4o", messages: [] });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /has no decision agentgate can verify/);
  });

  test("the gateway reaches no further than the run's NetworkPolicy: a tool server its stamped egress does not name is not called", async () => {
    const narrow = { ...guardrails(1000), egress: guardrails(1000).egress.filter((e) => e.purpose === "model") };
    await actingRun("r5", 1000, narrow);
    const before = tools.calls.length;
    const res = await fetch(`${base}/v1/runs/${NS}/r5/mcp/tools/fs`, { method: "POST", headers: { authorization: `Bearer ${await token("agentgate-run-r5")}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file", arguments: { path: "src/refund.py" } } }) });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /the run's decision gives it no route to 127\.0\.0\.1:\d+ for mcp:tools\/fs \(stamped: none\)/);
    assert.equal(tools.calls.length, before);
  });

  test("a tool server edited after admission is not called", async () => {
    await actingRun("r4", 1000);
    const client = await agent("r4", await token("agentgate-run-r4"));
    try {
      await cp.kubectl(["patch", "remotemcpserver", "fs", "-n", "tools", "--type=merge", "-p", JSON.stringify({ spec: { description: "files, edited" } })]);
      const res = await fetch(`${base}/v1/runs/${NS}/r4/mcp/tools/fs`, { method: "POST", headers: { authorization: `Bearer ${await token("agentgate-run-r4")}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "read_file", arguments: { path: "src/refund.py" } } }) });
      assert.equal(res.status, 409);
      assert.match(await res.text(), /RemoteMCPServer tools\/fs changed since the run was admitted/);
    } finally {
      await client.close();
      await cp.kubectl(["patch", "remotemcpserver", "fs", "-n", "tools", "--type=merge", "-p", JSON.stringify({ spec: { description: "files" } })]);
    }
  });
});

describe("model calls through the run-time gateway", () => {
  let run: AgentRun;
  let bearer = "";

  before(async () => {
    run = await actingRun("m1", 300);
    bearer = await token("agentgate-run-m1");
  });

  test("the pinned model and the provider key are used, output held to the budget, usage counted", async () => {
    const res = await chat("m1", bearer, { model: "gpt-5-pro", max_completion_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    assert.equal(res.status, 200);
    const sent = model.requests.at(-1);
    assert.equal(sent?.body.model, "gpt-4o", "the model the run was admitted with, not the one the agent asked for");
    assert.equal(sent?.authorization, "Bearer sk-provider-secret", "the provider key is agentgate's to add");
    assert.equal(sent?.body.max_completion_tokens, 50);
    const ledger = await ledgerOf(run.metadata?.uid ?? "");
    assert.deepEqual([ledger.used, ledger.reserved], [60, 0], "40 prompt + 20 completion, as the provider counted");
  });

  test("a stream from a provider that ignores the limit is cut at the budget, and the next call is refused", async () => {
    model.runaway = 5000;
    try {
      const res = await chat("m1", bearer, { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "write a lot" }] });
      assert.equal(res.status, 200);
      const body = await res.text();
      const deltas = body.split("\n\n").filter((e) => e.includes('"delta"')).length;
      assert.equal(model.requests.at(-1)?.body.max_completion_tokens, 240, "asked for no more than the 240 tokens left");
      assert.ok(deltas <= 240 + 17, `cut after ${deltas} deltas`);
    } finally {
      model.runaway = undefined;
    }
    const ledger = await ledgerOf(run.metadata?.uid ?? "");
    assert.ok(ledger.used >= 300, `the whole grant is counted when the provider's count never came (${ledger.used})`);
    assert.equal(ledger.reserved, 0);
    const refused = await chat("m1", bearer, { model: "gpt-4o", messages: [{ role: "user", content: "more" }] });
    assert.equal(refused.status, 429);
    const err = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(err.error.code, "token_budget_exceeded");
    assert.match(err.error.message, /the run's token budget of 300 is spent/);
    const after = await ledgerOf(run.metadata?.uid ?? "");
    assert.deepEqual(after.trace.map((e) => [e.kind, e.verdict]), [["model", "allowed"], ["model", "failed"], ["model", "denied"]]);
  });
});

test("two replicas sharing one ledger never grant more than the budget together", async () => {
  const replicas = [new Ledger(new ConfigMapLedgerStore(kubeApiOf(cp.kubeConfig), GW_NS)), new Ledger(new ConfigMapLedgerStore(kubeApiOf(cp.kubeConfig), GW_NS))];
  const ref = { namespace: NS, name: "ha", uid: "ha-0001", budget: 1000 };
  await replicas[0]?.store.open(emptyLedger(ref, 1000));
  const grants = await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      (replicas[i % 2] as Ledger).reserve(ref, 150).then(
        (g) => g,
        () => 0,
      ),
    ),
  );
  assert.equal(grants.reduce((a, b) => a + b, 0), 1000, `granted ${grants.join(",")}`);
  const state = await replicas[0]?.read("ha-0001");
  assert.equal(state?.reserved, 1000);
});

test("a replica that remembers its last write of a ledger still sees what another replica wrote since (409, read again)", async () => {
  const [a, b] = [new Ledger(new ConfigMapLedgerStore(kubeApiOf(cp.kubeConfig), GW_NS)), new Ledger(new ConfigMapLedgerStore(kubeApiOf(cp.kubeConfig), GW_NS))];
  const ref = { namespace: NS, name: "ha2", uid: "ha-0002", budget: 1000 };
  await a.store.open(emptyLedger(ref, 1000));
  assert.equal(await a.reserve(ref, 400), 400);
  assert.equal(await b.reserve(ref, 400), 400);
  // a's remembered version is stale now: its write must not overwrite b's
  assert.equal(await a.reserve(ref, 400), 200);
  assert.equal((await b.read("ha-0002"))?.reserved, 1000);
  // and once the ledger is deleted (the run ended), neither replica starts a count from zero, whatever it remembers
  await b.store.remove("ha-0002");
  await assert.rejects(a.reserve(ref, 100), NoLedger);
  await assert.rejects(b.reserve(ref, 100), NoLedger);
  assert.equal(await b.read("ha-0002"), undefined);
});

test("a run's token from an address that is none of the run's agent pods is refused", async () => {
  await actingRun("r6", 1000, guardrails(1000), "10.9.9.9");
  const res = await chat("r6", await token("agentgate-run-r6"), { model: "gpt-4o", messages: [] });
  assert.equal(res.status, 403);
  assert.match(await res.text(), /the call does not come from a pod of AgentRun team\/r6: a run's token is taken only from its own agent's pods/);
  assert.equal((await ledgerOf((await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name: "r6" }) as AgentRun).metadata?.uid ?? "")).calls, 0, "nothing was counted");
});

test("a ledger that cannot be read refuses the run's calls (503, naming it) rather than starting a count from zero", async () => {
  const run = await actingRun("broken", 1000);
  const uid = run.metadata?.uid ?? "";
  const cm = await core.readNamespacedConfigMap({ name: ledgerName(uid), namespace: GW_NS });
  cm.data = { "ledger.json": "{not json" };
  await core.replaceNamespacedConfigMap({ name: ledgerName(uid), namespace: GW_NS, body: cm });
  const res = await chat("broken", await token("agentgate-run-broken"), { model: "gpt-4o", messages: [] });
  assert.equal(res.status, 503);
  assert.match(await res.text(), new RegExp(`the run ledger ConfigMap ${ledgerName(uid)} cannot be read`));
  assert.equal((await core.readNamespacedConfigMap({ name: ledgerName(uid), namespace: GW_NS })).data?.["ledger.json"], "{not json", "left as it was, for someone to look at");
});

test("a run's token from a pod of the run that is being deleted is refused", async () => {
  await actingRun("r7", 1000);
  // A finalizer keeps the pod, with its deletionTimestamp, Running and Ready at the run's address.
  await cp.kubectl(["patch", "pod", "r7-agent-pod", "-n", NS, "--type=merge", "-p", JSON.stringify({ metadata: { finalizers: ["agentgate.test/hold"] } })]);
  await cp.kubectl(["delete", "pod", "r7-agent-pod", "-n", NS, "--wait=false"]);
  try {
    const res = await chat("r7", await token("agentgate-run-r7"), { model: "gpt-4o", messages: [] });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /the call does not come from a pod of AgentRun team\/r7/);
  } finally {
    await cp.kubectl(["patch", "pod", "r7-agent-pod", "-n", NS, "--type=merge", "-p", JSON.stringify({ metadata: { finalizers: null } })]);
  }
});

test("a tool server's header from a ConfigMap of its namespace is read as it is called; once the ConfigMap is gone the call is refused, naming it", async () => {
  await cp.applyYaml(
    yaml(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "fs-settings", namespace: "tools" }, data: { header: "Bearer from-a-configmap" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "fs-cm", namespace: "tools" }, spec: { description: "files", url: tools.url, protocol: "STREAMABLE_HTTP", headersFrom: [{ name: "Authorization", valueFrom: { type: "ConfigMap", name: "fs-settings", key: "header" } }] } },
    ),
  );
  const stamped: Guardrails = { ...guardrails(1000), egress: [egressFor("mcp:tools/fs-cm", tools.url)].filter((e) => e !== undefined), tools: [{ server: "tools/fs-cm", kind: "RemoteMCPServer", allowedTools: ["read_file"], requireApproval: [] }] };
  await actingRun("r8", 1000, stamped);
  const bearer = await token("agentgate-run-r8");
  const call = (id: number) =>
    fetch(`${base}/v1/runs/${NS}/r8/mcp/tools/fs-cm`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "read_file", arguments: { path: "src/refund.py" } } }) });
  const before = tools.calls.length;
  const res = await call(1);
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(await res.text(), /def refund\(order\)/);
  assert.equal(tools.calls.length, before + 1);
  assert.equal(tools.calls.at(-1)?.authorization, "Bearer from-a-configmap");
  await cp.kubectl(["delete", "configmap", "fs-settings", "-n", "tools"]);
  const gone = await call(2);
  assert.equal(gone.status, 502);
  assert.match(await gone.text(), /tool server tools\/fs-cm: header Authorization names ConfigMap key tools\/fs-settings\[header\], which does not exist/);
  assert.equal(tools.calls.length, before + 1);
});
