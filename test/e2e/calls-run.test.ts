// A run sent through agentgate's run-time gateway end to end, on a real
// kube-apiserver (docs/run-time-gateway.md, "How a run is sent through
// it"): the webhook admits and stamps the run; the controller, with
// --calls-url, mints the run's call token and gives kagent a ModelConfig
// and RemoteMCPServer of the run's own pointing at the gateway; the scripted
// agent (the A2A stand-in, test/support/a2a-server.ts) calls what kagent
// would give its runtime (test/support/kagent-translator.ts): a real MCP
// server built on the MCP SDK, and a stand-in model API
// (test/support/model-api.ts: no provider can be reached from here). The
// run ends BudgetExceeded with the gateway's exact count, and its signed
// provenance carries the trace.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { stringify } from "yaml";
import { ledgerName } from "../../src/calls/ledger-configmap.ts";
import type { TraceEntry } from "../../src/calls/ledger.ts";
import { main } from "../../src/cli/main.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";
import { startController, type RunningController } from "../../src/controller/controller.ts";
import { ProvenanceSigner } from "../../src/controller/provenance-recorder.ts";
import type { CallsRecord } from "../../src/provenance/facts.ts";
import { exemptNamespaces } from "../../src/gateway/exemptions.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import { verifyEnvelope } from "../../src/provenance/envelope.ts";
import { PublishedKeys } from "../../src/signing/cluster-keyring.ts";
import { kubeApiOf } from "../../src/kube/from-kubeconfig.ts";
import type { AgentRun } from "../../src/types/agent.ts";
import { startFakeKagent, type FakeKagent } from "../support/a2a-server.ts";
import type { ControlPlane } from "../support/control-plane.ts";
import { startCallsNeighbours } from "../support/calls-neighbours.ts";
import { whatKagentGives } from "../support/kagent-translator.ts";
import type { ModelApi } from "../support/model-api.ts";
import type { ToolServer } from "../support/mcp-tool-server.ts";
import { until } from "../support/until.ts";

const NS = "team";
const GW_NS = "agentgate-system";
const CONTROLLER_USER = `system:serviceaccount:${GW_NS}:agentgate-controller`;
const SIGNING = { namespace: GW_NS, name: "agentgate-signing" };
const BUDGET = 300;
const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });

let cp: ControlPlane;
let gateway: RunningGateway;
let controller: RunningController;
let published: PublishedKeys;
let kagent: FakeKagent;
let tools: ToolServer;
let model: ModelApi;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
let playing = true;

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");
const text = (result: unknown): string => ((result as { content?: { text?: string }[] }).content ?? []).map((c) => c.text ?? "").join("");

/** What the scripted agent saw, for the test to compare with the run's record. */
interface Seen {
  given?: Awaited<ReturnType<typeof whatKagentGives>>;
  listed?: string[];
  read?: string;
  forbiddenArguments?: { isError: boolean; text: string };
  notAllowlisted?: { isError: boolean; text: string };
  otherRunsPath?: number;
  model: number[];
  streamedDeltas?: number;
}
const seen: Seen = { model: [] };

async function chat(given: NonNullable<Seen["given"]>, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${given.model.baseUrl}/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${given.model.apiKey}`, "content-type": "application/json" }, body: JSON.stringify({ model: given.model.model, messages: [{ role: "user", content: "write tests for refund()" }], ...body }) });
}

/** The agent's work, as kagent's runtime would do it with what kagent gave it. */
async function work(agent: string): Promise<void> {
  const [namespace = "", name = ""] = agent.split("/");
  const given = await whatKagentGives(cp.kubeConfig, namespace, name);
  seen.given = given;
  const server = given.tools[0];
  if (!server) throw new Error("the Agent was given no tool server");
  const client = new Client({ name: "scripted-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }));
  seen.listed = (await client.listTools()).tools.map((t) => t.name).sort();
  seen.read = text(await client.callTool({ name: "read_file", arguments: { path: "src/refund.py" } }));
  const forbidden = await client.callTool({ name: "write_file", arguments: { path: "/etc/passwd", content: "root::0:0" } });
  seen.forbiddenArguments = { isError: forbidden.isError === true, text: text(forbidden) };
  // A prompt-injected agent calls a tool kagent was never told of.
  const outside = await client.callTool({ name: "delete_repo", arguments: { confirm: true } });
  seen.notAllowlisted = { isError: outside.isError === true, text: text(outside) };
  await client.close();
  // The same token on another run's path.
  const other = await fetch(server.url.replace(`/runs/${NS}/${name.replace(/-agent$/, "")}/`, `/runs/${NS}/someone-else/`), { method: "POST", headers: { ...server.headers, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) });
  seen.otherRunsPath = other.status;
  // One model call within the budget, one streamed past it (the provider ignores the limit), one more.
  const first = await chat(given, { max_tokens: 20 });
  seen.model.push(first.status);
  await first.text();
  model.runaway = 10_000;
  const streamed = await chat(given, { stream: true, stream_options: { include_usage: true } });
  seen.model.push(streamed.status);
  seen.streamedDeltas = (await streamed.text()).split("\n").filter((l) => l.includes("\"delta\"")).length;
  model.runaway = undefined;
  const third = await chat(given, { max_tokens: 20 });
  seen.model.push(third.status);
  await third.text();
}

async function getRun(name: string): Promise<AgentRun> {
  return (await custom.getNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: NS, plural: "agentruns", name })) as AgentRun;
}

/**
 * Plays kagent's controller and Kubernetes' (no kubelet here): the run's
 * agent pod is started as the ReplicaSet controller starts it (the only way
 * run-identity lets a pod run as the run's account), at the address the
 * scripted agent calls from, and the Agent becomes Ready.
 */
async function playKagent(): Promise<void> {
  const replicaSetController = await cp.kubeconfigFor("system:serviceaccount:kube-system:replicaset-controller", ["system:masters"]);
  while (playing) {
    try {
      const agents = (await custom.listNamespacedCustomObject({ group: "kagent.dev", version: "v1alpha2", namespace: NS, plural: "agents" })) as { items: { metadata: { name: string }; spec: { declarative: { deployment: { serviceAccountName: string } } }; status?: { conditions?: unknown[] } }[] };
      for (const a of agents.items) {
        if (a.status?.conditions?.length) continue;
        const pod = `${a.metadata.name}-7f9c-x2`;
        const made = await cp.kubectl(["--kubeconfig", replicaSetController, "apply", "-f", "-"], {
          allowFail: true,
          stdin: stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: pod, namespace: NS, labels: { app: "kagent", kagent: a.metadata.name }, ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: `${a.metadata.name}-7f9c`, uid: "00000000-0000-0000-0000-00000000a9e7", controller: true }] }, spec: { serviceAccountName: a.spec.declarative.deployment.serviceAccountName, automountServiceAccountToken: false, containers: [{ name: "agent", image: "kagent/app" }] } }),
        });
        if (made.code !== 0) continue;
        await cp.kubectl(["patch", "pod", pod, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase: "Running", podIP: "127.0.0.1", podIPs: [{ ip: "127.0.0.1" }], conditions: [{ type: "Ready", status: "True" }] } })], { allowFail: true });
        await cp.kubectl(["patch", "agent", a.metadata.name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }] } })], { allowFail: true });
      }
    } catch {
      // the API server is going away at the end
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

let done: AgentRun;
let uid = "";
let following: Promise<number>;
const followed: string[] = [];

before(async () => {
  logger.level = "error";
  ({ cp, custom, core, tools, model } = await startCallsNeighbours());
  // The agent works through the gateway, then would think for a minute: the budget stops it first.
  kagent = await startFakeKagent({ defaultScript: { work, llmCalls: 1, stepDelayMs: 60_000 } });
  const loopback = (url: string) => new URL(url).host;
  const dir = await mkdtemp(join(tmpdir(), "agentgate-calls-run-"));
  await writeFile(
    join(dir, "policy-config.json"),
    JSON.stringify({
      // Loopback stand-ins, listed as a platform team lists in-cluster endpoints.
      models: { allowedEndpoints: [loopback(model.baseUrl), loopback(tools.url)] },
      tools: {
        servers: [{ kind: "RemoteMCPServer", namespace: "tools", name: "fs", url: tools.url, tools: ["read_file", "write_file"] }],
        requireApproval: [],
        calls: { deniedArguments: [{ tools: ["write_*"], argument: "path", pattern: "^/etc/", reason: "system files are not the agent's" }] },
      },
    }),
  );
  await cp.applyYaml(
    yaml(
      ...[NS, "tools", GW_NS].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
      // The tool server wants its own credential: kagent would send it; through the gateway, the gateway does.
      { apiVersion: "v1", kind: "Secret", metadata: { name: "fs-token", namespace: "tools" }, stringData: { header: "Bearer tool-server-secret" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "fs", namespace: "tools" }, spec: { description: "files", url: tools.url, protocol: "STREAMABLE_HTTP", allowedNamespaces: { from: "All" }, headersFrom: [{ name: "Authorization", valueFrom: { type: "Secret", name: "fs-token", key: "header" } }] } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "openai-key", namespace: NS }, stringData: { key: "sk-provider-secret" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "gpt", namespace: NS }, spec: { provider: "OpenAI", model: "gpt-4o", apiKeySecret: "openai-key", apiKeySecretKey: "key", openAI: { baseUrl: model.baseUrl } } },
    ),
  );
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: GW_NS, serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`, trustedUser: [CONTROLLER_USER], drainSeconds: 0, signingKeys: `${SIGNING.namespace}/${SIGNING.name}`, policyConfig: join(dir, "policy-config.json"), callsListen: "127.0.0.1:0" });
  const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", GW_NS] });
  await cp.applyYaml(yaml(hooks.validating, hooks.mutating));
  const controllerKc = new k8s.KubeConfig();
  controllerKc.loadFromFile(await cp.kubeconfigFor(CONTROLLER_USER, ["system:masters"]));
  published = new PublishedKeys(kubeApiOf(controllerKc), SIGNING, logger, 1000);
  await published.start();
  await until("the gateway to publish its signing keys", async () => (published.notReady() === undefined ? true : (await published.read().catch(() => undefined), undefined)));
  void playKagent();
  controller = await startController({
    kubeConfig: controllerKc,
    keyring: published,
    exemptNamespaces: exemptNamespaces(GW_NS),
    kagentUrl: kagent.url,
    driver: new A2ADriver(kagent.url, logger),
    provenance: new ProvenanceSigner(keys.privateKey),
    log: logger,
    leaderElect: false,
    leaseNamespace: GW_NS,
    agentReadyTimeoutMs: 20_000,
    calls: { url: `http://127.0.0.1:${gateway.callsPort ?? 0}`, ledgerNamespace: GW_NS },
  });
  // Through the webhook, as a developer would apply them.
  await cp.applyYaml(
    yaml(
      { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer", namespace: NS }, spec: { modelConfigRef: { name: "gpt" }, systemPrompt: "You write tests.", tokenBudget: BUDGET, toolServers: [{ ref: { name: "fs", namespace: "tools" }, allowedTools: ["read_file", "write_file"] }] } },
      { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "fix-1", namespace: NS }, spec: { configRef: { name: "writer" }, goal: "write tests for refund()" } },
    ),
  );
  // A developer follows the run as it happens.
  following = main(["logs", "fix-1", "-n", NS, "--kubeconfig", cp.kubeconfigPath, "-f", "-o", "json"], { out: (l) => followed.push(l), err: (l) => followed.push(`stderr: ${l}`) });
  done = await until("fix-1 to finish", async () => {
    const r = await getRun("fix-1");
    return r.status?.phase === "Succeeded" || r.status?.phase === "Failed" ? r : undefined;
  }, { timeoutMs: 90_000 });
  uid = done.metadata?.uid ?? "";
});

after(async () => {
  playing = false;
  await controller?.stop();
  published?.stop();
  await gateway?.close();
  await kagent?.close();
  await tools?.close();
  await model?.close();
  await cp?.stop();
});

test("kagent is given the run's own ModelConfig and RemoteMCPServer, pointing at the gateway, with the run's call token instead of the provider key", () => {
  const given = seen.given;
  assert.ok(given, `the agent worked: ${JSON.stringify(done.status?.conditions)}`);
  const base = `http://127.0.0.1:${gateway.callsPort ?? 0}/v1/runs/${NS}/fix-1`;
  assert.equal(given.model.baseUrl, `${base}/model`);
  assert.equal(given.model.model, "gpt-4o");
  assert.notEqual(given.model.apiKey, "sk-provider-secret", "the agent never holds the provider key");
  assert.equal(given.tools[0]?.url, `${base}/mcp/tools/fs`);
  assert.equal(given.tools[0]?.headers.Authorization, `Bearer ${given.model.apiKey}`);
  assert.deepEqual(given.tools[0]?.toolNames, ["read_file", "write_file"]);
  // the provider saw agentgate's key, never the run's token
  assert.ok(model.requests.length > 0 && model.requests.every((r) => r.authorization === "Bearer sk-provider-secret"));
});

test("an allowed call passes; forbidden arguments are refused by the Rego rule; a tool outside the allowlist never reaches the server; the run's token is refused on another run's path", () => {
  assert.deepEqual(seen.listed, ["read_file", "write_file"], "tools/list narrowed to the stamp");
  assert.equal(seen.read, "def refund(order): ...");
  assert.equal(seen.forbiddenArguments?.isError, true);
  assert.match(seen.forbiddenArguments?.text ?? "", /system files are not the agent's/);
  assert.equal(seen.notAllowlisted?.isError, true);
  assert.match(seen.notAllowlisted?.text ?? "", /delete_repo/);
  assert.deepEqual(tools.calls.map((c) => c.tool), ["read_file"], "only the allowed call reached the tool server");
  assert.equal(tools.calls[0]?.authorization, "Bearer tool-server-secret", "with the server's own credential, never the run's token");
  assert.equal(seen.otherRunsPath, 403);
});

test("the streamed model call is cut at the budget, the next one refused, and the run ends BudgetExceeded with the gateway's exact count", async () => {
  // The third call is refused: for the budget (429, traced), or, had the controller already ended the run, as the run's (409).
  assert.deepEqual(seen.model.slice(0, 2), [200, 200]);
  assert.ok([429, 409].includes(seen.model[2] ?? 0), `the third call was refused: ${String(seen.model[2])}`);
  assert.ok((seen.streamedDeltas ?? 0) < 10_000, `the runaway stream was cut (${String(seen.streamedDeltas)} deltas)`);
  const condition = done.status?.conditions?.find((c) => c.type === "Succeeded");
  assert.equal(condition?.reason, "BudgetExceeded", JSON.stringify(done.status?.conditions));
  const used = done.status?.usage?.totalTokens ?? 0;
  assert.ok(used >= BUDGET, `usage ${String(used)} reached the budget`);
  assert.match(condition?.message ?? "", new RegExp(`used ${String(used)} tokens through agentgate's run-time gateway .* token budget of ${String(BUDGET)}`));
  assert.equal(done.status?.usage?.toolCalls, 3);
  // the ledger goes once its trace is in the provenance
  await until("the run's ledger to be deleted", async () => (await core.readNamespacedConfigMap({ name: ledgerName(uid), namespace: GW_NS }).then(() => undefined, () => true)));
});

test("the signed provenance carries the trace of what happened, call by call", () => {
  const envelope = done.status?.provenance;
  assert.ok(envelope);
  assert.equal(verifyEnvelope(envelope, keys.publicKey).ok, true);
  const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as { predicate: { runDetails: { byproducts: { name: string; content: string }[] } } };
  const byproduct = statement.predicate.runDetails.byproducts.find((b) => b.name === "calls");
  assert.ok(byproduct, "a calls byproduct");
  const record = JSON.parse(Buffer.from(byproduct.content, "base64").toString("utf8")) as CallsRecord;
  const summary = record.trace.map((e: TraceEntry) => `${e.kind}:${e.tool ?? e.model ?? ""}:${e.verdict}`);
  const third = seen.model[2] === 429 ? ["model:gpt-4o:denied"] : [];
  assert.deepEqual(summary, ["tool:read_file:allowed", "tool:write_file:denied", "tool:delete_repo:denied", "model:gpt-4o:allowed", "model:gpt-4o:failed", ...third]);
  assert.equal(record.used, done.status?.usage?.totalTokens);
  assert.equal(record.budget, BUDGET);
  assert.equal(record.trace.reduce((n, e) => n + (e.tokens?.total ?? 0), 0), record.used, "the trace adds up to the count");
  assert.match(record.trace[4]?.reason ?? "", /cut at the run's token budget/);
});

test("the strict NetworkPolicy lets the agent reach the gateway, not the model or the tool server", async () => {
  const np = JSON.parse((await cp.kubectl(["get", "networkpolicy", "fix-1-netpol", "-n", NS, "-o", "json"])).stdout) as { spec: { egress: { to: { ipBlock?: { cidr: string } }[]; ports?: { port: number }[] }[] } };
  const ports = np.spec.egress.flatMap((e) => e.ports?.map((p) => p.port) ?? []);
  assert.ok(ports.includes(gateway.callsPort ?? -1), `the gateway's port is allowed: ${JSON.stringify(np.spec.egress)}`);
  for (const direct of [model.baseUrl, tools.url]) assert.ok(!ports.includes(Number(new URL(direct).port)), `${direct} is not allowed directly`);
});

test("once the run ended its call token is refused: its ServiceAccount is gone", async () => {
  const given = seen.given;
  assert.ok(given);
  const status = await until("the token to be refused", async () => {
    const r = await chat(given, { max_tokens: 1 });
    await r.text();
    return r.status === 401 ? r.status : undefined;
  }, { timeoutMs: 30_000 });
  assert.equal(status, 401);
});

test("a namespace editor can neither repoint nor delete what the run was given: the run's ModelConfig and RemoteMCPServer are agentgate's", async () => {
  await cp.applyYaml(
    yaml(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "kagent-editor", namespace: NS }, rules: [{ apiGroups: ["kagent.dev"], resources: ["modelconfigs", "remotemcpservers"], verbs: ["*"] }] },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "kagent-editor", namespace: NS }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "kagent-editor" }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "dev" }] },
    ),
  );
  const repoint = await cp.kubectl(["patch", "remotemcpserver", "fix-1-tools-0", "-n", NS, "--type=merge", "-p", JSON.stringify({ spec: { url: tools.url } }), "--as", "dev"], { allowFail: true });
  assert.notEqual(repoint.code, 0);
  assert.match(repoint.stderr, /\[managed-object\].*is managed by agentgate for an AgentRun and cannot be changed by "dev"/);
  for (const [kind, name] of [["modelconfig", "fix-1-model"], ["remotemcpserver", "fix-1-tools-0"]]) {
    const del = await cp.kubectl(["delete", kind ?? "", name ?? "", "-n", NS, "--as", "dev"], { allowFail: true });
    assert.notEqual(del.code, 0, `${kind ?? ""} deleted`);
    assert.match(del.stderr, /cannot be deleted by "dev"/);
  }
});

test("agentgate logs -f showed each call as it happened and ended with the outcome; afterwards logs prints the same, and a user who may not read the run gets the API server's answer", async () => {
  assert.equal(await following, 0, followed.join("\n"));
  const lines = followed.map((l) => JSON.parse(l) as { kind: string; reason: string; message: string });
  const calls = lines.filter((l) => l.reason.startsWith("ToolCall") || l.reason.startsWith("ModelCall")).map((l) => l.reason);
  assert.deepEqual(calls, ["ToolCall", "ToolCallDenied", "ToolCallDenied", "ModelCall", "ModelCallFailed", ...(seen.model[2] === 429 ? ["ModelCallDenied"] : [])]);
  assert.ok(lines.some((l) => l.kind === "phase" && l.reason === "Acting") || lines.some((l) => l.reason === "Acting"), "the run's phases");
  const end = lines.at(-1);
  assert.equal(end?.kind, "end");
  assert.equal(end?.reason, "BudgetExceeded");
  assert.match(end?.message ?? "", /tokens through agentgate's run-time gateway/);

  const out: string[] = [];
  assert.equal(await main(["logs", "fix-1", "-n", NS, "--kubeconfig", cp.kubeconfigPath], { out: (l) => out.push(l), err: (l) => out.push(l) }), 0);
  assert.match(out.join("\n"), /ToolCallDenied +#2 tool write_file on tools\/fs denied: .*system files are not the agent's/);
  assert.match(out.at(-1) ?? "", /BudgetExceeded/);

  const outsider = await cp.kubeconfigFor("someone", []);
  const err: string[] = [];
  assert.equal(await main(["logs", "fix-1", "-n", NS, "--kubeconfig", outsider], { out: (l) => err.push(l), err: (l) => err.push(l) }), 1);
  assert.deepEqual(err, ['Error from server: agentruns.agent.tekton.dev "fix-1" is forbidden: User "someone" cannot get resource "agentruns" in API group "agent.tekton.dev" in the namespace "team"']);
});
