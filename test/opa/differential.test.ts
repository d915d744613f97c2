// The default bundle decides the same in the gateway as in OPA: its Rego
// (policies/) under `opa eval` and its committed wasm build under the
// gateway's evaluator, with the same data, on generated inputs covering every
// object shape of docs/api.md and edge values (missing fields, wrong types, empty
// lists, unicode, large numbers). All inputs go to one opa process.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readBundle, type Bundle } from "../../src/policy/bundle.ts";
import { DEFAULT_BUNDLE_PATH } from "../../src/policy/load.ts";
import { compareWithOpa, evaluateWithOpa, loadChecked, regoSources, type Checked, type Difference, type NamedInput } from "../../src/cli/bundle-check.ts";
import { seededRandom } from "../support/seeded-random.ts";

const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));
const COUNT = 360;

const random = seededRandom(20261125);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const chance = (p: number): boolean => random() < p;
const MISSING = Symbol("missing");
type Maybe<T> = T | typeof MISSING;

// Past int64 and past exact doubles: the JSON text carries them as written by JSON.stringify.
const BIG = 2 ** 64;
const WEIRD: unknown[] = [null, "", "ünïcødé-模型-😀", BIG, -1, 0, 1.5, true, [], {}, ["x"], { a: 1 }, 1e21, 2 ** 53 + 2];
const edge = (normal: () => unknown, p = 0.2): Maybe<unknown> => (chance(p / 2) ? MISSING : chance(p) ? pick(WEIRD) : normal());
const str = (xs: string[]): string => pick(xs);
const list = <T>(gen: () => T, max = 4): T[] => Array.from({ length: Math.floor(random() * (max + 1)) }, gen);

function set(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== MISSING) target[key] = value;
}

function build(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) set(out, k, v);
  return out;
}

const NAMES = ["gh", "kagent-tool-server", "tools", "ünï-server", "a".repeat(63)];
const NAMESPACES = ["team-a", "kagent", "default", "モデル"];
const TOOLS = ["k8s_get_pods", "k8s_describe_node", "k8s_apply_manifest", "k8s_delete_pod", "shell", "k8s_get_*", "*", "k8s_patch_x", "créer"];
const MODELS = ["claude-3.5-sonnet", "claude-opus-4", "gpt-4o-mini", "gpt-4o", "gpt-3.5-turbo", "llama3", "", "CLAUDE-3"];
const PROVIDERS = ["Anthropic", "OpenAI", "AzureOpenAI", "Gemini", "GeminiVertexAI", "Ollama", "anthropic"];
const DURATIONS = ["15m", "1h", "2h", "90m", "1h30m", "59m59s", "abc", "", "-5m", "1.5h", "3600s", "10", "1d"];
const BUDGETS: unknown[] = [1000, 100000, 500000, 500001, 900000, 0, -5, 1e9, BIG, 2.5, "1000"];
const ITERATIONS: unknown[] = [1, 5, 20, 21, 100, 0, -1, 3.7, "5"];

const ref = (): unknown => build({ name: edge(() => str(NAMES), 0.1), namespace: chance(0.5) ? str(NAMESPACES) : MISSING });
const toolServer = (): unknown =>
  build({
    ref: edge(() => build({ name: str(NAMES), namespace: chance(0.6) ? str(NAMESPACES) : MISSING, kind: chance(0.7) ? str(["RemoteMCPServer", "MCPServer", "Service", "Pod"]) : MISSING }), 0.1),
    allowedTools: edge(() => list(() => str(TOOLS), 4)),
    requireApproval: edge(() => list(() => str(TOOLS), 2)),
  });
const hook = (): unknown =>
  build({
    name: edge(() => str(["prepare", "lint-ünï", ""]), 0.3),
    pipelineRef: edge(() => build({ name: edge(() => str(["prepare-workspace", "scan", "模型-pipeline", "a".repeat(253)]), 0.1) }), 0.1),
    params: edge(() => list(() => build({ name: edge(() => str(["repo", "revision", ""]), 0.1), value: edge(() => str(["https://github.com/x/y", "main", "😀", ""]), 0.1) }), 3)),
  });
const rule = (): unknown =>
  build({
    apiGroups: edge(() => list(() => str(["", "apps", "*", "batch"]), 2)),
    resources: edge(() => list(() => str(["pods", "secrets", "*", "configmaps", "deployments"]), 3)),
    verbs: edge(() => list(() => str(["get", "list", "watch", "create", "delete", "*", "escalate", "bind", "impersonate"]), 3)),
  });
const configSpec = (): Record<string, unknown> =>
  build({
    modelConfigRef: edge(ref),
    systemPrompt: edge(() => str(["You are helpful.", "ünïcødé 😀", ""])),
    toolServers: edge(() => list(toolServer, 3)),
    maxIterations: edge(() => pick(ITERATIONS)),
    timeout: edge(() => str(DURATIONS)),
    tokenBudget: edge(() => pick(BUDGETS)),
    rbac: edge(() => build({ rules: edge(() => list(rule, 3)) })),
    networkPolicy: edge(() => str(["strict", "permissive", "open"])),
    approval: edge(() => build({ required: edge(() => chance(0.5)), approverGroups: edge(() => list(() => str(["agent-approvers", "admins"]), 2)) })),
    preHooks: edge(() => list(hook, 3)),
    postHooks: edge(() => list(hook, 2)),
  });
const modelSpec = (): Record<string, unknown> => {
  const provider = str(PROVIDERS);
  const block = build({ maxTokens: edge(() => pick([1024, 8192, 8193, 100000, 0, BIG])), maxCompletionTokens: edge(() => pick([4096, 9000])), maxOutputTokens: edge(() => pick([2048, 16384])), baseUrl: edge(() => str(["https://api.example.com", "http://localhost:11434", ""])) }, );
  return build({
    provider: edge(() => provider),
    model: edge(() => str(MODELS)),
    openAI: chance(0.4) ? block : MISSING,
    anthropic: chance(0.4) ? block : MISSING,
    azureOpenAI: chance(0.2) ? block : MISSING,
    gemini: chance(0.2) ? block : MISSING,
    geminiVertexAI: chance(0.1) ? block : MISSING,
    tls: edge(() => build({ disableVerify: edge(() => chance(0.5)) })),
  });
};
const agentSpec = (): Record<string, unknown> =>
  build({
    type: edge(() => str(["Declarative", "BYO", "Other"])),
    declarative: edge(() =>
      build({
        modelConfig: edge(() => str(["default-model-config", "claude", "gpt", ""])),
        tools: edge(() =>
          list(() =>
            build({
              type: str(["McpServer", "Agent"]),
              mcpServer: edge(() => build({ apiGroup: edge(() => str(["kagent.dev", ""])), kind: edge(() => str(["RemoteMCPServer", "MCPServer", "Service"])), name: str(NAMES), namespace: chance(0.5) ? str(NAMESPACES) : MISSING, toolNames: edge(() => list(() => str(TOOLS), 3)), requireApproval: edge(() => list(() => str(TOOLS), 2)) })),
            }),
          3),
        ),
        deployment: edge(() => build({ serviceAccountName: str(["agent-sa", ""]) })),
      }),
    ),
    byo: chance(0.3) ? { deployment: { image: "x" } } : MISSING,
  });

const runSpec = (): Record<string, unknown> =>
  build({
    configRef: edge(() => build({ name: edge(() => str(NAMES)) })),
    goal: edge(() => str(["fix the flaky test", "ünïcødé goal 😀", "", "x".repeat(65537)])),
    context: edge(() => build({ hints: edge(() => list(() => str(["see PR #12", "", "ünï 😀", "rm -rf /", "h".repeat(4096)]), 3)) })),
    tokenBudget: edge(() => pick(BUDGETS)),
    timeout: edge(() => str(DURATIONS)),
    maxIterations: edge(() => pick(ITERATIONS)),
    status: edge(() => str(["", "Cancelled"])),
  });

// docs/api.md: agentgate's own kinds are agent.tekton.dev/v1alpha1, kagent's kagent.dev/v1alpha2.
const SHAPES = [
  { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentConfig", resource: "agentconfigs", spec: configSpec },
  { group: "agent.tekton.dev", version: "v1alpha1", kind: "AgentRun", resource: "agentruns", spec: runSpec },
  { group: "kagent.dev", version: "v1alpha2", kind: "Agent", resource: "agents", spec: agentSpec },
  { group: "kagent.dev", version: "v1alpha2", kind: "ModelConfig", resource: "modelconfigs", spec: modelSpec },
  { group: "kagent.dev", version: "v1alpha2", kind: "RemoteMCPServer", resource: "remotemcpservers", spec: () => build({ url: edge(() => str(["https://mcp.example.com/sse", "http://kagent-tools.kagent:8084/mcp", "ftp://x", ""])) }) },
  { group: "", version: "v1", kind: "Pod", resource: "pods", spec: () => ({ containers: [] }) },
] as const;

function generate(i: number): NamedInput {
  const shape = SHAPES[i % SHAPES.length] as (typeof SHAPES)[number];
  const namespace = shape.kind === "RemoteMCPServer" && chance(0.5) ? "kagent" : str(NAMESPACES);
  const name = shape.kind === "RemoteMCPServer" && chance(0.5) ? "kagent-tool-server" : str(NAMES);
  const object = build({
    apiVersion: shape.group === "" ? shape.version : `${shape.group}/${shape.version}`,
    kind: shape.kind,
    metadata: build({ name: edge(() => name, 0.1), namespace, labels: chance(0.3) ? { "agent.tekton.dev/config": "x" } : MISSING }),
    spec: edge(() => shape.spec(), 0.1),
  });
  const toolServers: Record<string, unknown> = {};
  for (const name of list(() => str(NAMES), 2)) toolServers[`${str(NAMESPACES)}/${name}`] = build({ kind: "RemoteMCPServer", spec: build({ url: edge(() => str(["https://mcp.example.com", ""])) }) });
  const value = {
    request: build({
      uid: `uid-${String(i)}`,
      kind: { group: shape.group, version: shape.version, kind: shape.kind },
      resource: edge(() => ({ group: shape.group, version: shape.version, resource: shape.resource }), 0.05),
      subResource: chance(0.05) ? "status" : MISSING,
      operation: chance(0.85) ? str(["CREATE", "UPDATE"]) : str(["DELETE", "CONNECT"]),
      namespace: chance(0.95) ? namespace : MISSING,
      name,
      userInfo: { username: str(["alice", "system:serviceaccount:agentgate:agentgate"]), groups: list(() => str(["dev", "agent-approvers"]), 2) },
      object: chance(0.03) ? pick(WEIRD) : object,
      oldObject: chance(0.2) ? object : MISSING,
    }),
    context: build({
      namespace: edge(() => build({ name: namespace, labels: chance(0.2) ? { "agent.tekton.dev/guardrail-profile": str(["strict", "none", "ünï"]) } : {} })),
      agentConfig: chance(0.6) ? build({ metadata: { name: "cfg" }, spec: edge(configSpec, 0.1) }) : null,
      modelConfig: chance(0.6) ? build({ metadata: { name: "mc" }, spec: edge(modelSpec, 0.1) }) : null,
      toolServers,
    }),
  };
  return { name: `#${String(i)} ${shape.kind}`, value };
}

let bundle: Bundle;
let checked: Checked;
let inputs: NamedInput[];
let differences: Difference[];

before(async () => {
  bundle = await readBundle(DEFAULT_BUNDLE_PATH);
  checked = await loadChecked(bundle);
  inputs = Array.from({ length: COUNT }, (_, i) => generate(i));
  differences = await compareWithOpa(checked, await regoSources(POLICIES), inputs);
});

test(`the default bundle's wasm and its Rego agree on ${String(COUNT)} generated inputs: violations and defaults`, () => {
  assert.ok(inputs.length >= 300);
  const shown = differences.slice(0, 5).map((d) => `${d.input} ${d.entrypoint}: gateway ${JSON.stringify(d.gateway)} / opa ${JSON.stringify(d.opa)}`);
  assert.deepEqual(shown, [], `${String(differences.length)} difference(s)`);
});

test("the generated inputs exercise the bundle: most policies fire, on every shape", async () => {
  const answers = await evaluateWithOpa(await regoSources(POLICIES), bundle.data, ["agentgate/violations", "agentgate/defaults"], inputs.map((i) => i.value));
  const withDefaults = answers.filter((a) => Object.keys((a["agentgate/defaults"] ?? {})).length > 0).length;
  assert.ok(withDefaults >= 30, `inputs with a non-empty defaults patch: ${String(withDefaults)}`);
  const policies = new Set<string>();
  const kinds = new Set<string>();
  answers.forEach((a, i) => {
    const vs = (a["agentgate/violations"] ?? []) as { policy: string }[];
    for (const v of vs) policies.add(v.policy);
    if (vs.length > 0) kinds.add(inputs[i]?.name.split(" ")[1] ?? "");
  });
  assert.ok(policies.size >= 10, `policies that fired: ${[...policies].sort().join(", ")}`);
  assert.deepEqual([...kinds].sort(), ["Agent", "AgentConfig", "AgentRun", "ModelConfig", "RemoteMCPServer"]);
});

test("the generated inputs carry every field of docs/api.md the generator claims: hooks, hints, resource, kagent v1alpha2", () => {
  const objects = inputs.map((i) => (i.value as { request: { object?: { apiVersion?: string; kind?: string; spec?: Record<string, unknown> }; resource?: unknown } }).request);
  const withList = (field: (spec: Record<string, unknown>) => unknown): number =>
    objects.filter((r) => {
      const v = r.object?.spec ? field(r.object.spec) : undefined;
      return Array.isArray(v) && v.length > 0;
    }).length;
  assert.ok(withList((s) => s.preHooks) >= 20, "AgentConfigs with preHooks");
  assert.ok(withList((s) => s.postHooks) >= 20, "AgentConfigs with postHooks");
  assert.ok(withList((s) => (s.context as { hints?: unknown } | undefined)?.hints) >= 20, "AgentRuns with context.hints");
  assert.ok(objects.filter((r) => r.resource !== undefined).length >= 300, "requests with resource");
  const kagent = objects.filter((r) => ["Agent", "ModelConfig", "RemoteMCPServer"].includes(r.object?.kind ?? ""));
  assert.ok(kagent.length >= 150 && kagent.every((r) => r.object?.apiVersion === "kagent.dev/v1alpha2"));
});
