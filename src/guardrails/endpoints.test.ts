// The endpoints kagent's clients reach, read as kagent reads a ModelConfig
// and a tool server; the host classes the model-endpoint policy judges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyHost, endpointUrl, mcpServerPort, mcpServicePort, modelEndpoint, NON_PUBLIC_RANGES, nonPublicCidrs, nonPublicRange, toolServerEndpoint, type HostClass, type ModelEndpoint } from "./endpoints.ts";

const modelCases: { name: string; spec: unknown; want: ModelEndpoint | "none" }[] = [
  { name: "OpenAI without a block: the SDK's public host", spec: { provider: "OpenAI", model: "gpt-4o" }, want: { host: "api.openai.com", port: 443, source: "spec.provider" } },
  { name: "no provider: kagent's default is OpenAI", spec: { model: "gpt-4o" }, want: { host: "api.openai.com", port: 443, source: "spec.provider" } },
  { name: "OpenAI baseUrl with a port", spec: { provider: "OpenAI", openAI: { baseUrl: "https://LLM.example.com:8443/v1" } }, want: { host: "llm.example.com", port: 8443, source: "spec.openAI.baseUrl" } },
  { name: "OpenAI baseUrl empty: the default", spec: { provider: "OpenAI", openAI: { baseUrl: "" } }, want: { host: "api.openai.com", port: 443, source: "spec.provider" } },
  { name: "Anthropic reads anthropic.baseUrl, not a decoy openAI block", spec: { provider: "Anthropic", openAI: { baseUrl: "https://proxy.example.com" }, anthropic: { baseUrl: "http://10.0.0.1:8080" } }, want: { host: "10.0.0.1", port: 8080, source: "spec.anthropic.baseUrl" } },
  { name: "Anthropic with only a decoy block: its own default host", spec: { provider: "Anthropic", openAI: { baseUrl: "https://proxy.example.com" } }, want: { host: "api.anthropic.com", port: 443, source: "spec.provider" } },
  { name: "AzureOpenAI azureEndpoint", spec: { provider: "AzureOpenAI", azureOpenAI: { azureEndpoint: "https://res.openai.azure.com/", apiVersion: "2024-10-21" } }, want: { host: "res.openai.azure.com", port: 443, source: "spec.azureOpenAI.azureEndpoint" } },
  { name: "AzureOpenAI without an endpoint: none", spec: { provider: "AzureOpenAI", azureOpenAI: {} }, want: "none" },
  { name: "Ollama host without a scheme gets http://", spec: { provider: "Ollama", ollama: { host: "ollama.models:11434" } }, want: { host: "ollama.models", port: 11434, source: "spec.ollama.host" } },
  { name: "Ollama host with https", spec: { provider: "Ollama", ollama: { host: "https://ollama.example.com" } }, want: { host: "ollama.example.com", port: 443, source: "spec.ollama.host" } },
  { name: "Ollama without a host: kagent sets http:// and nothing is reached", spec: { provider: "Ollama", ollama: {} }, want: "none" },
  { name: "Gemini: its public host", spec: { provider: "Gemini", gemini: {} }, want: { host: "generativelanguage.googleapis.com", port: 443, source: "spec.provider" } },
  { name: "GeminiVertexAI: the location's host", spec: { provider: "GeminiVertexAI", geminiVertexAI: { projectID: "p", location: "us-central1" } }, want: { host: "us-central1-aiplatform.googleapis.com", port: 443, source: "spec.geminiVertexAI.location" } },
  { name: "AnthropicVertexAI global", spec: { provider: "AnthropicVertexAI", anthropicVertexAI: { projectID: "p", location: "global" } }, want: { host: "aiplatform.googleapis.com", port: 443, source: "spec.anthropicVertexAI.location" } },
  { name: "GeminiVertexAI multi-region eu", spec: { provider: "GeminiVertexAI", geminiVertexAI: { location: "eu" } }, want: { host: "aiplatform.eu.rep.googleapis.com", port: 443, source: "spec.geminiVertexAI.location" } },
  { name: "a location that is not one label: none", spec: { provider: "GeminiVertexAI", geminiVertexAI: { location: "evil.com/" } }, want: "none" },
  { name: "Bedrock: the region's runtime host", spec: { provider: "Bedrock", bedrock: { region: "eu-central-1" } }, want: { host: "bedrock-runtime.eu-central-1.amazonaws.com", port: 443, source: "spec.bedrock.region" } },
  { name: "SAPAICore baseUrl", spec: { provider: "SAPAICore", sapAICore: { baseUrl: "https://api.ai.example.com/v2" } }, want: { host: "api.ai.example.com", port: 443, source: "spec.sapAICore.baseUrl" } },
  { name: "Foundry endpoint", spec: { provider: "Foundry", foundry: { endpoint: "https://x.services.ai.azure.com", deployment: "d" } }, want: { host: "x.services.ai.azure.com", port: 443, source: "spec.foundry.endpoint" } },
  { name: "Foundry endpointFrom only: none (a ConfigMap)", spec: { provider: "Foundry", foundry: { endpointFrom: { name: "cm", key: "k" }, deployment: "d" } }, want: "none" },
  { name: "user info in the URL: none", spec: { provider: "OpenAI", openAI: { baseUrl: "https://api.openai.com@169.254.169.254/" } }, want: "none" },
  { name: "a scheme in capitals: none (kagent compares it lowercase)", spec: { provider: "OpenAI", openAI: { baseUrl: "HTTPS://api.openai.com" } }, want: "none" },
  { name: "an unknown provider: none", spec: { provider: "Nope" }, want: "none" },
  { name: "a prototype key as provider: none", spec: { provider: "constructor" }, want: "none" },
  { name: "not an object: none", spec: "x", want: "none" },
];
for (const c of modelCases) {
  test(`modelEndpoint: ${c.name}`, () => {
    const got = modelEndpoint(c.spec);
    if (c.want === "none") assert.ok("none" in got, JSON.stringify(got));
    else assert.deepEqual(got, c.want);
  });
}

const hostCases: [string, HostClass][] = [
  ["api.openai.com", "public"],
  ["res.openai.azure.com", "public"],
  ["api.example.co.uk", "public"],
  ["169.254.169.254", "link-local"],
  ["127.0.0.1", "loopback"],
  ["0.0.0.0", "loopback"],
  ["localhost", "loopback"],
  ["x.localhost", "loopback"],
  ["10.0.0.1", "private-ip"],
  ["172.31.255.255", "private-ip"],
  ["172.32.0.1", "ip"],
  ["192.168.0.1", "private-ip"],
  ["100.64.0.1", "private-ip"],
  ["100.127.255.255", "private-ip"],
  ["100.128.0.1", "ip"],
  ["100.63.255.255", "ip"],
  ["172.15.255.255", "ip"],
  ["169.253.0.1", "ip"],
  ["0.255.255.255", "loopback"],
  ["127.255.255.254", "loopback"],
  ["198.18.0.1", "ip"],
  ["8.8.8.8", "ip"],
  ["::1", "loopback"],
  ["::", "loopback"],
  ["fe80::1", "link-local"],
  ["febf::1", "link-local"],
  ["fec0::1", "ip"],
  ["fd12:3456::1", "private-ip"],
  ["::ffff:169.254.169.254", "link-local"],
  ["::ffff:a9fe:a9fe", "link-local"],
  ["64:ff9b::10.0.0.1", "private-ip"],
  ["::ffff:100.100.1.1", "private-ip"],
  ["fc00::1", "private-ip"],
  ["fe00::1", "ip"],
  ["2001:db8::1", "ip"],
  ["1:2:3:4:5:6:7:8", "ip"],
  ["1:2:3:4:5:6:7:8:9", "ip"],
  ["127.1", "ip"],
  ["2130706433", "ip"],
  ["0x7f.0.0.1", "ip"],
  ["010.0.0.1", "ip"],
  ["ollama", "in-cluster"],
  ["ollama.models", "in-cluster"],
  ["ollama.models.svc", "in-cluster"],
  ["ollama.models.svc.cluster.local", "in-cluster"],
  ["metadata.google.internal", "in-cluster"],
  ["kagent-tools.kagent", "in-cluster"],
];
for (const [host, want] of hostCases) {
  test(`classifyHost(${host}) is ${want}`, () => assert.equal(classifyHost(host), want));
}

test("the non-public ranges: the ones the network policies exclude, by family, each found for its own addresses", () => {
  assert.deepEqual(nonPublicCidrs(4), ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "198.18.0.0/15"]);
  assert.deepEqual(nonPublicCidrs(6), ["::/128", "::1/128", "fe80::/10", "fc00::/7"]);
  for (const [ip, cidr] of [["10.9.8.7", "10.0.0.0/8"], ["198.19.255.255", "198.18.0.0/15"], ["169.254.169.254", "169.254.0.0/16"], ["fd00::7", "fc00::/7"], ["febf::1", "fe80::/10"], ["::1", "::1/128"]] as const) {
    assert.equal(nonPublicRange(ip)?.cidr, cidr, ip);
  }
  for (const ip of ["198.20.0.1", "100.128.0.1", "8.8.8.8", "2001:db8::1", "::2", "api.openai.com"]) assert.equal(nonPublicRange(ip), undefined, ip);
  // What classifyHost calls private, link-local or loopback is in the table, so the policies exclude it.
  for (const [host, cls] of hostCases) if (/^[0-9.]+$|:/.test(host) && cls !== "ip" && !host.includes("::ffff:") && !host.startsWith("64:ff9b")) assert.ok(nonPublicRange(host), host);
  assert.ok(NON_PUBLIC_RANGES.every((r) => r.class !== "public" && r.class !== "in-cluster"));
});

test("endpointUrl: only URLs a client reads the same way", () => {
  assert.deepEqual(endpointUrl("http://[fd00::1]:8000/v1"), { scheme: "http", host: "fd00::1", port: 8000 });
  assert.deepEqual(endpointUrl("https://api.openai.com:/v1"), { scheme: "https", host: "api.openai.com", port: 443 });
  for (const bad of ["https://a%2e.com", "https://a\\@b.com/", "https://:443", "https://a.com:65536", "https://a.com:0", "ftp://a.com", "a.com", "https://[fe80::1%25eth0]/", 5, null]) {
    assert.equal(endpointUrl(bad), undefined, String(bad));
  }
  assert.deepEqual(endpointUrl("::1", true), { scheme: "http", host: "::1", port: 80 });
});

test("mcpServerPort: spec.deployment.port, kmcp's default 3000, never 0", () => {
  assert.deepEqual(mcpServerPort({ spec: { deployment: { port: 8080 } } }), { port: 8080 });
  assert.deepEqual(mcpServerPort({ spec: {} }), { port: 3000 });
  assert.ok("none" in mcpServerPort({ spec: { deployment: { port: 0 } } }));
});

const serviceCases: { name: string; service: unknown; want: { port: number; path: string } | "none" }[] = [
  { name: "the annotation wins", service: { metadata: { annotations: { "kagent.dev/mcp-service-port": "9000" } }, spec: { ports: [{ port: 80 }] } }, want: { port: 9000, path: "/mcp" } },
  { name: "the only port", service: { spec: { ports: [{ port: 8084 }] } }, want: { port: 8084, path: "/mcp" } },
  { name: "the port with appProtocol mcp, any case", service: { spec: { ports: [{ port: 80, appProtocol: "http" }, { port: 3000, appProtocol: "MCP" }] } }, want: { port: 3000, path: "/mcp" } },
  { name: "annotation 0 falls through to the ports", service: { metadata: { annotations: { "kagent.dev/mcp-service-port": "0" } }, spec: { ports: [{ port: 81 }] } }, want: { port: 81, path: "/mcp" } },
  { name: "the path annotation", service: { metadata: { annotations: { "kagent.dev/mcp-service-path": "/sse" } }, spec: { ports: [{ port: 81 }] } }, want: { port: 81, path: "/sse" } },
  { name: "an annotation that is not an integer", service: { metadata: { annotations: { "kagent.dev/mcp-service-port": "http" } }, spec: { ports: [{ port: 81 }] } }, want: "none" },
  { name: "several ports, none mcp", service: { spec: { ports: [{ port: 80 }, { port: 81 }] } }, want: "none" },
  { name: "no ports", service: { spec: {} }, want: "none" },
];
for (const c of serviceCases) {
  test(`mcpServicePort: ${c.name}`, () => {
    const got = mcpServicePort(c.service);
    if (c.want === "none") assert.ok("none" in got, JSON.stringify(got));
    else assert.deepEqual(got, c.want);
  });
}

test("toolServerEndpoint: RemoteMCPServer by URL, MCPServer and Service by name.namespace", () => {
  assert.deepEqual(toolServerEndpoint("RemoteMCPServer", "kagent", "kagent-tool-server", { spec: { url: "http://kagent-tools.kagent:8084/mcp" } }), { host: "kagent-tools.kagent", port: 8084, path: "/mcp" });
  assert.deepEqual(toolServerEndpoint("MCPServer", "tools", "gh", { spec: { deployment: { port: 3000 } } }), { host: "gh.tools", port: 3000, path: "/mcp" });
  assert.deepEqual(toolServerEndpoint("Service", "tools", "search", { spec: { ports: [{ port: 8080 }] } }), { host: "search.tools", port: 8080, path: "/mcp" });
  assert.ok("none" in toolServerEndpoint("RemoteMCPServer", "a", "b", { spec: { url: "nope" } }));
});
