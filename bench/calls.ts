// What the run-time gateway adds to one call (docs/run-time-gateway.md):
// tool calls through the MCP SDK's client to the MCP SDK's server, directly
// and through the gateway, interleaved one by one; model calls to the
// stand-in model API the same way. On a local control plane (TokenReview,
// run reads, ledger writes are real API calls). `npm run bench:calls`.
import { readFile } from "node:fs/promises";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { stringify } from "yaml";
import { CALLS_AUDIENCE } from "../src/calls/caller.ts";
import { emptyLedger } from "../src/calls/ledger.ts";
import { ConfigMapLedgerStore } from "../src/calls/ledger-configmap.ts";
import { startGateway } from "../src/cli/serve.ts";
import { kubeApiOf } from "../src/kube/from-kubeconfig.ts";
import { signDecision } from "../src/guardrails/decision.ts";
import { egressFor } from "../src/guardrails/effective.ts";
import { serializeSnapshot, specSha256, toolServerSha256 } from "../src/guardrails/snapshot.ts";
import { computeStamps } from "../src/guardrails/stamps.ts";
import { logger } from "../src/log.ts";
import { generateSigningKey } from "../src/signing/keys.ts";
import { STAMP, type AgentRun } from "../src/types/agent.ts";
import type { KubeObject } from "../src/types/kube.ts";
import { startControlPlane } from "../test/support/control-plane.ts";
import { tektonCrdDir } from "../test/support/tekton.ts";
import { startModelApi } from "../test/support/model-api.ts";
import { startToolServer } from "../test/support/mcp-tool-server.ts";
import { percentile } from "./stats.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const N = Number(process.env.AGENTGATE_BENCH_CALLS ?? 400);
const NS = "team";

async function steal(): Promise<{ total: number; steal: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7] ?? 0 };
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(2)} ms, p99 ${percentile(s, 99).toFixed(2)} ms`;
};

logger.level = "error";
const cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
const tools = await startToolServer();
const model = await startModelApi();
try {
  const api = kubeApiOf(cp.kubeConfig);
  const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");
  await cp.applyYaml(yaml(...[NS, "tools", "agentgate-system"].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } }))));
  await cp.applyYaml(
    yaml(
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "fs", namespace: "tools" }, spec: { description: "files", url: tools.url, protocol: "STREAMABLE_HTTP" } },
      { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "gpt", namespace: NS }, spec: { provider: "OpenAI", model: "gpt-4o", openAI: { baseUrl: model.baseUrl } } },
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "agentgate-run-bench", namespace: NS } },
    ),
  );
  const key = generateSigningKey();
  const dir = await mkdtemp(join(tmpdir(), "agentgate-bench-calls-"));
  await writeFile(join(dir, "signing.pem"), key.privateKey.export({ type: "pkcs8", format: "pem" }));
  const gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig: cp.kubeconfigPath, offline: false, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [], drainSeconds: 0, signingKeyFile: join(dir, "signing.pem"), callsListen: "127.0.0.1:0" });
  const live = async (plural: string, ns: string, name: string) => api.get<KubeObject>(`/apis/kagent.dev/v1alpha2/namespaces/${ns}/${plural}/${name}`);
  const guardrails = { tokenBudget: 100_000_000, timeout: "1h", maxIterations: 5, networkPolicy: "strict" as const, egress: [egressFor("mcp:tools/fs", tools.url), egressFor("model", model.baseUrl)].filter((e) => e !== undefined), rbac: [], approval: { required: false, approverGroups: [] }, tools: [{ server: "tools/fs", kind: "RemoteMCPServer" as const, allowedTools: ["read_file"], requireApproval: [] }] };
  const snapshot = { config: { name: "c", spec: {} }, modelConfig: { namespace: NS, name: "gpt", sha256: specSha256(await live("modelconfigs", NS, "gpt")) }, toolServers: { "tools/fs": { kind: "RemoteMCPServer" as const, sha256: toolServerSha256("RemoteMCPServer", await live("remotemcpservers", "tools", "fs")) } } };
  const stamps = computeStamps("alice", "default@bench", "c", guardrails, serializeSnapshot(snapshot));
  const run: AgentRun = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "bench", namespace: NS, annotations: stamps.annotations, labels: stamps.labels }, spec: { configRef: { name: "c" }, goal: "g" } };
  (run.metadata?.annotations ?? {})[STAMP.decision] = await signDecision(run, key);
  const created = await api.create<AgentRun>(`/apis/agent.tekton.dev/v1alpha1/namespaces/${NS}/agentruns`, run);
  await cp.kubectl(["patch", "agentrun", "bench", "-n", NS, "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Acting"}}']);
  // What the controller makes before the agent starts (its ledger), and the agent's pod at this process's address.
  await new ConfigMapLedgerStore(api, "agentgate-system").open(emptyLedger({ namespace: NS, name: "bench", uid: created.metadata?.uid ?? "" }, guardrails.tokenBudget));
  await cp.applyYaml(yaml({ apiVersion: "v1", kind: "Pod", metadata: { name: "bench-agent", namespace: NS }, spec: { serviceAccountName: "agentgate-run-bench", automountServiceAccountToken: false, containers: [{ name: "agent", image: "kagent/app" }] } }));
  await cp.kubectl(["patch", "pod", "bench-agent", "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase: "Running", podIP: "127.0.0.1", podIPs: [{ ip: "127.0.0.1" }], conditions: [{ type: "Ready", status: "True" }] } })]);
  const token = (await cp.kubectl(["create", "token", "agentgate-run-bench", "-n", NS, "--audience", CALLS_AUDIENCE, "--duration", "1h"])).stdout.trim();
  const base = `http://127.0.0.1:${gateway.callsPort ?? 0}/v1/runs/${NS}/bench`;

  const connect = async (url: string) => {
    const c = new Client({ name: "bench", version: "1" });
    await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    return c;
  };
  const direct = await connect(tools.url);
  const via = await connect(`${base}/mcp/tools/fs`);
  const chat = (url: string) => fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-4o", max_completion_tokens: 20, messages: [{ role: "user", content: "hi" }] }) }).then((r) => r.text());
  const warm = Math.min(50, N);
  const t = { direct: [] as number[], via: [] as number[], modelDirect: [] as number[], modelVia: [] as number[] };
  const before = await steal();
  for (let i = 0; i < N + warm; i++) {
    let s = process.hrtime.bigint();
    await direct.callTool({ name: "read_file", arguments: { path: "src/refund.py" } });
    const d = ms(s);
    s = process.hrtime.bigint();
    await via.callTool({ name: "read_file", arguments: { path: "src/refund.py" } });
    const v = ms(s);
    s = process.hrtime.bigint();
    await chat(`${model.baseUrl}/chat/completions`);
    const md = ms(s);
    s = process.hrtime.bigint();
    await chat(`${base}/model/chat/completions`);
    const mv = ms(s);
    if (i >= warm) {
      t.direct.push(d);
      t.via.push(v);
      t.modelDirect.push(md);
      t.modelVia.push(mv);
    }
  }
  const after = await steal();
  const stolen = after.total > before.total ? (((after.steal - before.steal) / (after.total - before.total)) * 100).toFixed(1) : "0";
  console.log(`run-time gateway, ${N} calls each, interleaved (steal ${stolen} %)`);
  console.log(`  tool call direct:          ${fmt(t.direct)}`);
  console.log(`  tool call via the gateway: ${fmt(t.via)}`);
  console.log(`  model call direct:          ${fmt(t.modelDirect)}`);
  console.log(`  model call via the gateway: ${fmt(t.modelVia)}`);
  // Throughput: agents calling at once on one run (the worst case for its ledger: every call a compare-and-swap on one object).
  const C = 8;
  const perClient = Math.max(1, Math.floor(N / C));
  const rate = async (url: string): Promise<number> => {
    const clients = await Promise.all(Array.from({ length: C }, () => connect(url)));
    const s = process.hrtime.bigint();
    await Promise.all(clients.map(async (c) => { for (let i = 0; i < perClient; i++) await c.callTool({ name: "read_file", arguments: { path: "src/refund.py" } }); }));
    const seconds = ms(s) / 1000;
    await Promise.all(clients.map((c) => c.close()));
    return (C * perClient) / seconds;
  };
  const directRate = await rate(tools.url);
  const viaRate = await rate(`${base}/mcp/tools/fs`);
  console.log(`  tool calls/s, ${C} agents of one run at once: direct ${directRate.toFixed(0)}, via the gateway ${viaRate.toFixed(0)}`);
  await direct.close();
  await via.close();
  await gateway.close();
} finally {
  await tools.close();
  await model.close();
  await cp.stop();
}
