// The model-endpoint policy (policies/agentgate/endpoints.rego) and the
// TypeScript twin the NetworkPolicy uses (src/guardrails/endpoints.ts) judge
// the same host: for each ModelConfig spec, `opa eval` of the Rego's
// model_endpoint and modelEndpoint() agree on host, port and source (or both
// find none), and both classify hosts alike.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { compareWithOpa, evaluateWithOpa, loadChecked, regoSources } from "../../src/cli/bundle-check.ts";
import { readBundle } from "../../src/policy/bundle.ts";
import { DEFAULT_BUNDLE_PATH } from "../../src/policy/load.ts";
import { classifyHost, modelEndpoint, PUBLIC_TLDS } from "../../src/guardrails/endpoints.ts";

const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));

const specs: unknown[] = [
  { provider: "OpenAI", model: "gpt-4o" },
  { model: "gpt-4o" },
  { provider: null, model: "gpt-4o", openAI: { baseUrl: "https://proxy.example.com/v1" } },
  { provider: "OpenAI", openAI: { baseUrl: "" } },
  { provider: "OpenAI", openAI: { baseUrl: null } },
  { provider: "OpenAI", openAI: { baseUrl: 5 } },
  { provider: "OpenAI", openAI: "not a block" },
  { provider: "OpenAI", openAI: { baseUrl: "http://169.254.169.254/latest" } },
  { provider: "OpenAI", openAI: { baseUrl: "http://[::ffff:169.254.169.254]:80/" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://api.openai.com@evil.com/" } },
  { provider: "OpenAI", openAI: { baseUrl: "HTTPS://api.openai.com/" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://API.OpenAI.com:8443/v1?x=1#y" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://api.openai.com:/v1" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://[fe80::1]" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://[fe80::1]x" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://[fe80::1" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://a:b:c/" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://1:2::3/" } },
  { provider: "OpenAI", openAI: { baseUrl: "https://host:99999" } },
  { provider: "Anthropic", model: "claude", openAI: { baseUrl: "https://llm-proxy.internal/v1" } },
  { provider: "Anthropic", anthropic: { baseUrl: "http://kagent-tools.kagent:8084" } },
  { provider: "AzureOpenAI", azureOpenAI: { azureEndpoint: "https://res.openai.azure.com/" } },
  { provider: "AzureOpenAI", azureOpenAI: {} },
  { provider: "AzureOpenAI" },
  { provider: "Ollama", ollama: { host: "ollama.models:11434" } },
  { provider: "Ollama", ollama: { host: "http://ollama" } },
  { provider: "Ollama", ollama: { host: "HTTP://ollama" } },
  { provider: "Ollama", ollama: { host: "::1" } },
  { provider: "Ollama", ollama: { host: "[::1]:11434" } },
  { provider: "Ollama", ollama: { host: "" } },
  { provider: "Ollama" },
  { provider: "Gemini", gemini: { maxOutputTokens: 10 } },
  { provider: "Gemini", openAI: { baseUrl: "https://x.example.com" } },
  { provider: "GeminiVertexAI", geminiVertexAI: { projectID: "p", location: "us-central1" } },
  { provider: "GeminiVertexAI", geminiVertexAI: { location: "global" } },
  { provider: "GeminiVertexAI", geminiVertexAI: { location: "us" } },
  { provider: "GeminiVertexAI", geminiVertexAI: { location: "x.evil.com" } },
  { provider: "GeminiVertexAI", geminiVertexAI: { location: 7 } },
  { provider: "GeminiVertexAI" },
  { provider: "AnthropicVertexAI", anthropicVertexAI: { location: "europe-west1" } },
  { provider: "Bedrock", bedrock: { region: "us-east-1" } },
  { provider: "Bedrock", bedrock: { region: "US-EAST-1" } },
  { provider: "Bedrock", bedrock: {} },
  { provider: "SAPAICore", sapAICore: { baseUrl: "https://api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com/v2" } },
  { provider: "Foundry", foundry: { endpoint: "https://x.services.ai.azure.com", deployment: "d" } },
  { provider: "Foundry", foundry: { endpointFrom: { name: "cm", key: "k" }, deployment: "d" } },
  { provider: "Nope" },
  { provider: 5 },
  { provider: "constructor" },
];

const hosts = [
  "api.openai.com", "localhost", "a.localhost", "127.0.0.1", "0.1.2.3", "169.254.169.254", "10.0.0.1", "172.16.0.1", "172.15.0.1", "192.168.1.1",
  "100.64.0.1", "100.128.0.1", "100.63.255.255", "100.127.255.255", "198.18.0.1", "198.19.255.255", "0.255.255.255", "127.255.255.254", "169.253.0.1", "8.8.8.8", "256.1.1.1", "010.0.0.1", "127.1", "2130706433", "0x7f.1", "1.0x1", "::", "::1", "0:0:0:0:0:0:0:1",
  "fe80::1", "fe80::", "fec0::1", "fc00::1", "fdff:ffff::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::10.0.0.1", "64:ff9b::169.254.169.254", "::ffff:100.100.1.1", "febf:ffff::1", "fec0::", "fbff::1", "fe00::1",
  "2001:db8::1", "1::2::3", ":1", "1:", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::1.2.3.4.5", "g::1", "ollama", "ollama.models", "svc.qe",
  "x.svc", "x.y.svc.cluster.local", "metadata.google.internal", "x.ai", "x.io", "x.co.uk", "x.example", "x.local", "api.example.xyz",
];

let sources: Map<string, Buffer>;
let data: Record<string, unknown>;
before(async () => {
  sources = await regoSources(POLICIES);
  // Test-only rules over the policy's helpers (never part of the bundle).
  sources.set("zz_endpoint_helpers.rego", Buffer.from("package agentgate\n\nimport rego.v1\n\ntest_host_classes := {h: host_class(h) | some h in input.hosts}\n"));
  data = JSON.parse(await readFile(`${POLICIES}/data.json`, "utf8")) as Record<string, unknown>;
});

const request = (spec: unknown) => ({ request: { operation: "CREATE", kind: { group: "kagent.dev", version: "v1alpha2", kind: "ModelConfig" }, namespace: "qe", object: { metadata: { name: "m" }, spec } } });

test(`model_endpoint (Rego) and modelEndpoint() (TypeScript) agree on ${String(specs.length)} ModelConfig specs`, async () => {
  assert.ok(specs.length >= 20);
  const answers = await evaluateWithOpa(sources, data, ["agentgate/model_endpoint"], specs.map(request));
  specs.forEach((spec, i) => {
    const rego = answers[i]?.["agentgate/model_endpoint"] as Record<string, unknown> | undefined;
    const ts = modelEndpoint(spec);
    const label = JSON.stringify(spec);
    assert.ok(rego, `opa found no model_endpoint for ${label}`);
    if ("none" in ts) assert.ok("none" in rego, `${label}: TypeScript none (${ts.none}), Rego ${JSON.stringify(rego)}`);
    else assert.deepEqual(rego, ts, label);
  });
  const judged = specs.filter((s) => !("none" in modelEndpoint(s))).length;
  assert.ok(judged >= 20 && specs.length - judged >= 10, `both kinds of answers are compared (${String(judged)} with a host)`);
});

test(`host_class (Rego) and classifyHost() (TypeScript) agree on ${String(hosts.length)} hosts`, async () => {
  const [answer] = await evaluateWithOpa(sources, data, ["agentgate/test_host_classes"], [{ hosts }]);
  const rego = answer?.["agentgate/test_host_classes"] as Record<string, string>;
  assert.deepEqual(Object.fromEntries(hosts.map((h) => [h, rego[h]])), Object.fromEntries(hosts.map((h) => [h, classifyHost(h)])));
});

test("the public top-level domains are the same set in both", async () => {
  const [answer] = await evaluateWithOpa(sources, data, ["agentgate/public_tlds"], [{}]);
  assert.deepEqual(answer?.["agentgate/public_tlds"], [...PUBLIC_TLDS].sort());
});

test("the committed wasm build decides these ModelConfigs as opa does (the parsing builtins answer alike)", async () => {
  const checked = await loadChecked(await readBundle(DEFAULT_BUNDLE_PATH));
  const withHosts = hosts.map((h) => ({ provider: "OpenAI", model: "gpt-4o", openAI: { baseUrl: `http://${h.includes(":") ? `[${h}]` : h}:8080/v1` } }));
  const inputs = [...specs, ...withHosts].map((spec, i) => ({ name: `#${String(i)} ${JSON.stringify(spec)}`, value: request(spec) }));
  const differences = await compareWithOpa(checked, await regoSources(POLICIES), inputs);
  assert.deepEqual(differences.slice(0, 3), []);
});
