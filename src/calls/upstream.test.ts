import assert from "node:assert/strict";
import test from "node:test";
import { specSha256, toolServerSha256 } from "../guardrails/snapshot.ts";
import type { Snapshot } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { CallRefused } from "./caller.ts";
import { modelUpstream, toolServerHeaders, toolServerUrl } from "./upstream.ts";

const remote: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "fs", namespace: "tools" }, spec: { url: "http://fs.tools:3000/mcp", protocol: "STREAMABLE_HTTP" } };
const service: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "git", namespace: "tools", annotations: { "kagent.dev/mcp-service-port": "9000", "kagent.dev/mcp-service-path": "/rpc" } }, spec: { ports: [{ port: 80 }] } };
const model = { apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "m", namespace: "ci" }, spec: { provider: "OpenAI", model: "gpt-4o", apiKeySecret: "openai", apiKeySecretKey: "key", openAI: { baseUrl: "http://llm.internal/v1/" } } };

const snapshot = (over: Partial<Snapshot> = {}): Snapshot => ({
  config: { name: "c", spec: {} },
  modelConfig: { namespace: "ci", name: "m", sha256: specSha256(model) },
  toolServers: { "tools/fs": { kind: "RemoteMCPServer", sha256: toolServerSha256("RemoteMCPServer", remote) }, "tools/git": { kind: "Service", sha256: toolServerSha256("Service", service) } },
  ...over,
});

const status = (f: () => unknown): number => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof CallRefused);
    return err.status;
  }
  return 0;
};

test("a RemoteMCPServer's url, a Service's annotated port and path", () => {
  assert.equal(toolServerUrl("RemoteMCPServer", remote, "tools/fs", snapshot()), "http://fs.tools:3000/mcp");
  assert.equal(toolServerUrl("Service", service, "tools/git", snapshot()), "http://git.tools.svc:9000/rpc");
});

test("a tool server edited since admission, gone, or never named is not called", () => {
  const moved = { ...remote, spec: { url: "http://evil.example/mcp" } };
  assert.equal(status(() => toolServerUrl("RemoteMCPServer", moved, "tools/fs", snapshot())), 409);
  assert.equal(status(() => toolServerUrl("RemoteMCPServer", null, "tools/fs", snapshot())), 409);
  assert.equal(status(() => toolServerUrl("RemoteMCPServer", remote, "tools/other", snapshot())), 403);
  assert.equal(status(() => toolServerUrl("MCPServer", remote, "tools/fs", snapshot({ toolServers: { "tools/fs": { kind: "MCPServer", sha256: specSha256(remote) } } }))), 501);
});

test("the pinned ModelConfig: its provider API, base URL and key Secret", () => {
  assert.deepEqual(modelUpstream(model, snapshot(), "ci"), { api: "openai", baseUrl: "http://llm.internal/v1", model: "gpt-4o", keySecret: { namespace: "ci", name: "openai", key: "key" } });
  const anthropic = { ...model, spec: { provider: "Anthropic", model: "claude-sonnet-4-5" } };
  assert.deepEqual(modelUpstream(anthropic, snapshot({ modelConfig: { namespace: "ci", name: "m", sha256: specSha256(anthropic) } }), "ci"), { api: "anthropic", baseUrl: "https://api.anthropic.com", model: "claude-sonnet-4-5" });
});

test("a ModelConfig edited since admission, or a provider not forwarded, is refused", () => {
  assert.equal(status(() => modelUpstream({ ...model, spec: { ...model.spec, model: "gpt-5-pro" } }, snapshot(), "ci")), 409);
  assert.equal(status(() => modelUpstream(model, snapshot({ modelConfig: null }), "ci")), 403);
  const gemini = { ...model, spec: { provider: "Gemini", model: "g" } };
  assert.equal(status(() => modelUpstream(gemini, snapshot({ modelConfig: { namespace: "ci", name: "m", sha256: specSha256(gemini) } }), "ci")), 501);
});

test("another namespace's ModelConfig (a bundle admitted it) is not called with its key on this run's behalf", () => {
  assert.throws(() => modelUpstream(model, snapshot(), "team-b"), { status: 403, message: /not in the run's namespace team-b/ });
});

test("a RemoteMCPServer's own credentials (headersFrom: values, Secret and ConfigMap keys of its namespace) are what the gateway sends it", () => {
  const server: KubeObject = {
    spec: {
      url: "https://mcp.example.com/mcp",
      headersFrom: [
        { name: "Authorization", valueFrom: { type: "Secret", name: "gh", key: "token" } },
        { name: "X-Org", value: "acme" },
        { name: "X-Region", valueFrom: { type: "ConfigMap", name: "settings", key: "region" } },
      ],
    },
  };
  assert.deepEqual(toolServerHeaders("RemoteMCPServer", server, "tools/gh"), [
    { name: "Authorization", from: { kind: "Secret", namespace: "tools", name: "gh", key: "token" } },
    { name: "X-Org", value: "acme" },
    { name: "X-Region", from: { kind: "ConfigMap", namespace: "tools", name: "settings", key: "region" } },
  ]);
  assert.deepEqual(toolServerHeaders("Service", { spec: { headersFrom: [{ name: "a", value: "b" }] } }, "tools/svc"), [], "only a RemoteMCPServer carries headers");
  assert.deepEqual(toolServerHeaders("RemoteMCPServer", null, "tools/gh"), []);
});

test("a server's spec may not set the headers the gateway owns, nor a header with no value", () => {
  for (const name of ["Host", "content-length", "Mcp-Session-Id"]) {
    assert.throws(() => toolServerHeaders("RemoteMCPServer", { spec: { headersFrom: [{ name, value: "x" }] } }, "tools/gh"), (e: unknown) => e instanceof CallRefused && e.status === 502 && e.message.includes(name));
  }
  assert.throws(() => toolServerHeaders("RemoteMCPServer", { spec: { headersFrom: [{ name: "X-A", valueFrom: { type: "Vault", name: "v", key: "k" } }] } }, "tools/gh"), /neither a value nor a Secret or ConfigMap key/);
});
