// Bounding what one caller can make the gateway do, end to end on a real
// API server: Events only for objects the API server holds (a forged review
// POSTed straight to /validate writes none), a bounded number of them under a
// flood, and reviews too costly to evaluate denied with [request-size] (the
// API server itself accepts them: bodies up to 3 MiB).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { stringify } from "yaml";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { DEFAULT_EVENT_LIMITS, type EventLimits } from "../../src/server/denial-events.ts";

const LIMITS: EventLimits = { ...DEFAULT_EVENT_LIMITS, namespacePerSecond: 0, globalPerSecond: 0 };
import { DEFAULT_REVIEW_LIMITS } from "../../src/wire/parse.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const GW_NS = "agentgate-system";

let cp: ControlPlane;
let gateway: RunningGateway;
let core: k8s.CoreV1Api;

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

function gatewayCall(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: gateway.port, path, method, ca: gateway.caCert, agent: false, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** agentgate_denial_events_total by outcome. */
async function eventOutcomes(): Promise<Record<string, number>> {
  const { body } = await gatewayCall("GET", "/metrics");
  const out: Record<string, number> = {};
  for (const m of body.matchAll(/^agentgate_denial_events_total\{outcome="([a-z-]+)"\} (\d+)$/gm)) out[m[1] ?? ""] = Number(m[2]);
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within 30 s`);
}

const updateDenied = async () => (await core.listNamespacedEvent({ namespace: "qe", fieldSelector: "reason=UpdateDenied" })).items;

const configSpec = (tokenBudget: number) => ({
  modelConfigRef: { name: "claude" },
  toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
  tokenBudget,
});

/** An UPDATE of AgentConfig qe/`name` as only a forger would send it: straight to /validate, claiming `uid`. */
function forgedUpdate(name: string, uid: string, tokenBudget: number): string {
  const object = (budget: number) => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name, namespace: "qe", uid }, spec: configSpec(budget) });
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: randomUUID(),
      kind: { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentConfig" },
      resource: { group: "agent.tekton.dev", version: "v1alpha1", resource: "agentconfigs" },
      name,
      namespace: "qe",
      operation: "UPDATE",
      userInfo: { username: "mallory" },
      object: object(tokenBudget),
      oldObject: object(200000),
    },
  });
}

const agent = (name: string, skills: string): string =>
  JSON.stringify({
    apiVersion: "kagent.dev/v1alpha2",
    kind: "Agent",
    metadata: { name, namespace: "qe" },
    spec: { type: "Declarative", declarative: { modelConfig: "claude", systemMessage: "You answer questions about the cluster.", tools: [] }, skills: "@@" },
  }).replace('"@@"', skills);

const emptyArrays = (n: number) => `{"blob":[${"[],".repeat(n - 1)}[]]}`;

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  core = cp.kubeConfig.makeApiClient(k8s.CoreV1Api);
  gateway = await startGateway({
    listen: "127.0.0.1:0",
    bundle: [],
    kubeconfig: cp.kubeconfigPath,
    offline: false,
    namespace: GW_NS,
    serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`,
    trustedUser: [],
    drainSeconds: 0,
    // No refill: the flood below is bounded by the bucket alone, however long it takes.
    eventLimits: LIMITS,
  });
  const { validating, mutating } = webhookConfigurations({
    name: "agentgate",
    target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" },
    exemptNamespaces: ["kube-system", GW_NS],
    timeoutSeconds: 10,
  });
  await cp.applyYaml(yaml(validating, mutating, { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe" } }, { apiVersion: "v1", kind: "Namespace", metadata: { name: "kagent" } }));
  await until("the gateway ready", async () => ((await gatewayCall("GET", "/readyz")).status === 200 ? true : undefined));
  await until("the webhooks called", async () => {
    const probe = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { stdin: yaml({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "probe", namespace: "qe" }, spec: { provider: "OpenAI", model: "gpt-3.5-turbo", apiKeySecret: "k", apiKeySecretKey: "k" } }), allowFail: true });
    return probe.stderr.includes("[model-allowlist]") ? true : undefined;
  });
  await cp.applyYaml(yaml(
    { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
    { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: "qe" }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet-20241022", apiKeySecret: "key", apiKeySecretKey: "key" } },
  ));
  // The watch caches see the context objects a moment after they are stored.
  await until("the AgentConfig admitted", async () => {
    const r = await cp.kubectl(["apply", "-f", "-"], { stdin: yaml({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata: { name: "writer", namespace: "qe" }, spec: configSpec(200000) }), allowFail: true });
    return r.code === 0 ? true : undefined;
  });
});

after(async () => {
  await gateway.close();
  await cp.stop();
});

describe("UpdateDenied Events", () => {
  let storedUid = "";

  test("forged UPDATE reviews POSTed to /validate, for an object that does not exist or with a uid that is not its own, write no Event", async () => {
    storedUid = (JSON.parse((await cp.kubectl(["get", "agentconfig", "writer", "-n", "qe", "-o", "json"])).stdout) as { metadata: { uid: string } }).metadata.uid;
    const before = await eventOutcomes();
    for (const body of [forgedUpdate("ghost", randomUUID(), 900000), forgedUpdate("writer", randomUUID(), 900000)]) {
      const answer = await gatewayCall("POST", "/validate", body);
      assert.equal(answer.status, 200, answer.body);
      assert.equal((JSON.parse(answer.body) as { response: { allowed: boolean } }).response.allowed, false, "still denied: the policy's answer does not change");
    }
    // Both have been looked up and turned down before anything is listed.
    await until("both forged reviews checked", async () => {
      const now = await eventOutcomes();
      return (now["not-found"] ?? 0) > (before["not-found"] ?? 0) && (now["uid-mismatch"] ?? 0) > (before["uid-mismatch"] ?? 0) ? true : undefined;
    });
    assert.deepEqual((await updateDenied()).map((e) => e.message), []);
  });

  test("a real denied update through kubectl writes one Event on the object, and its retry does not write another", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await cp.kubectl(["patch", "agentconfig", "writer", "-n", "qe", "--type", "merge", "-p", '{"spec":{"tokenBudget":900000}}'], { allowFail: true });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /\[token-budget\] spec\.tokenBudget: /);
    }
    const events = await until("the UpdateDenied Event", async () => {
      const items = await updateDenied();
      return items.length > 0 ? items : undefined;
    });
    await until("the retry counted as a duplicate", async () => ((await eventOutcomes()).duplicate ?? 0) >= 1 ? true : undefined);
    const all = await updateDenied();
    assert.equal(all.length, 1, JSON.stringify(all.map((e) => e.message)));
    const [event] = events;
    assert.equal(event?.involvedObject.name, "writer");
    assert.equal(event?.involvedObject.uid, storedUid);
    assert.match(event?.message ?? "", /^update by admin denied by agentgate: \[token-budget\] spec\.tokenBudget: /);
  });

  test("a flood of forged reviews naming the real object and its uid writes no more Events than the namespace's budget", async () => {
    const before = await eventOutcomes();
    // Each with another budget: another message, so none is a duplicate.
    for (let i = 0; i < 100; i++) await gatewayCall("POST", "/validate", forgedUpdate("writer", storedUid, 600000 + i));
    await until("every forged review decided", async () => {
      const now = await eventOutcomes();
      const decided = Object.entries(now).reduce((sum, [k, v]) => sum + v - (before[k] ?? 0), 0);
      return decided >= 100 ? true : undefined;
    });
    const forged = (await updateDenied()).filter((e) => (e.message ?? "").startsWith("update by mallory"));
    // What the namespace's bucket holds: it never refills here.
    const bound = LIMITS.namespaceBurst;
    assert.ok(forged.length <= bound, `${forged.length} Events from 100 forged reviews; at most ${bound}`);
    assert.ok(((await eventOutcomes())["rate-limited"] ?? 0) - (before["rate-limited"] ?? 0) >= 100 - bound);
  });
});

describe("review cost", () => {
  test("a 3 MB Agent of a million tiny arrays, accepted by the API server, is denied by the gateway with [request-size]", async () => {
    // Just under the API server's 3 MiB: it reads the body, and sends the webhook all of it.
    const body = agent("wide", emptyArrays(Math.floor((3 * 1024 * 1024 - 4096) / 3)));
    const r = await cp.kubectl(["create", "--dry-run=server", "-f", "-"], { stdin: body, allowFail: true });
    assert.equal(r.code, 1, r.stderr);
    const m = /admission webhook "validate\.agent\.tekton\.dev" denied the request: \[request-size\] the review holds (\d+) JSON values, over the gateway's limit of (\d+); /.exec(r.stderr);
    assert.ok(m, r.stderr.slice(0, 500));
    assert.ok(Number(m[1]) > 1_000_000, `${m[1]} values`);
    assert.equal(Number(m[2]), DEFAULT_REVIEW_LIMITS.maxValues);
  });

  test("over 3 MiB the API server refuses the body itself: the figure the gateway's bound is measured against", async () => {
    const r = await cp.kubectl(["create", "--dry-run=server", "-f", "-"], { stdin: agent("wider", emptyArrays(1_100_000)), allowFail: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Request entity too large: limit is 3145728/);
  });

  test("an Agent nested deeper than the limit is denied; one with 20,000 values gets the policy's own answer", async () => {
    const deep = await cp.kubectl(["create", "--dry-run=server", "-f", "-"], { stdin: agent("deep", `{"nest":${"[".repeat(150)}${"]".repeat(150)}}`), allowFail: true });
    assert.equal(deep.code, 1);
    assert.match(deep.stderr, /\[request-size\] the review nests \d+ levels deep, over the gateway's limit of 100 /);
    // Whether the policy lets an Agent carry spec.skills is its own business: what matters is that it was asked.
    const big = await cp.kubectl(["create", "--dry-run=server", "-f", "-"], { stdin: agent("big", emptyArrays(20_000)), allowFail: true });
    assert.doesNotMatch(big.stderr, /request-size/);
    assert.ok(big.code === 0 || /denied the request: \[[a-z-]+\] /.test(big.stderr), big.stderr.slice(0, 500));
  });
});
