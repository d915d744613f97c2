// resolveContext: the policy input's `context` for each kind of object,
// from a fixed set of objects; what is referenced and missing is null.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AdmissionRequest } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";
import { requestFromManifest } from "../wire/from-manifest.ts";
import { resolveContext } from "./resolve.ts";
import { StaticLookup } from "./static-lookup.ts";

const obj = (apiVersion: string, kind: string, namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion, kind, metadata: { name, namespace }, spec });
const qe: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe", labels: { team: "qe" }, annotations: { owner: "alice" } } };
const claude = obj("kagent.dev/v1alpha2", "ModelConfig", "qe", "claude", { provider: "Anthropic" });
const sharedModel = obj("kagent.dev/v1alpha2", "ModelConfig", "models", "claude", { provider: "OpenAI" });
const defaultModel = obj("kagent.dev/v1alpha2", "ModelConfig", "qe", "default-model-config", { provider: "Gemini" });
const remote = obj("kagent.dev/v1alpha2", "RemoteMCPServer", "kagent", "tools");
const localRemote = obj("kagent.dev/v1alpha2", "RemoteMCPServer", "qe", "tools");
const kmcp = obj("kagent.dev/v1alpha1", "MCPServer", "qe", "git");
const service = obj("v1", "Service", "qe", "search");
const wrongKind = obj("kagent.dev/v1alpha2", "RemoteMCPServer", "qe", "search");
const config = obj("agent.tekton.dev/v1alpha1", "AgentConfig", "qe", "writer", {
  modelConfigRef: { name: "claude", namespace: "models" },
  toolServers: [{ ref: { name: "tools", namespace: "kagent" } }, { ref: { name: "tools" } }, { ref: { name: "git", kind: "MCPServer" } }, { ref: { name: "search", kind: "Service" } }, { ref: { name: "gone" } }, { ref: {} }],
});
const lookup = new StaticLookup([qe, claude, sharedModel, defaultModel, remote, localRemote, kmcp, service, wrongKind, config]);
const alice = { username: "alice" };
const create = (o: KubeObject): AdmissionRequest => requestFromManifest(o, { operation: "CREATE", user: alice });
const namespaceContext = { name: "qe", labels: { team: "qe" }, annotations: { owner: "alice" } };

const configServers = { "kagent/tools": remote, "qe/tools": localRemote, "qe/git": kmcp, "qe/search": service, "qe/gone": null };

test("an AgentConfig: its ModelConfig (in the namespace it names), each tool server by kind and namespace, the namespace", async () => {
  assert.deepEqual(await resolveContext(create(config), lookup), { namespace: namespaceContext, agentConfig: null, modelConfig: sharedModel, toolServers: configServers });
});

test("an AgentConfig's references default to its own namespace", async () => {
  const local = obj("agent.tekton.dev/v1alpha1", "AgentConfig", "qe", "local", { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "tools" } }] });
  const context = await resolveContext(create(local), lookup);
  assert.equal(context.modelConfig, claude);
  assert.deepEqual(context.toolServers, { "qe/tools": localRemote });
});

test("an AgentRun: its AgentConfig, and the AgentConfig's references", async () => {
  const run = obj("agent.tekton.dev/v1alpha1", "AgentRun", "qe", "r", { configRef: { name: "writer" }, goal: "g" });
  assert.deepEqual(await resolveContext(create(run), lookup), { namespace: namespaceContext, agentConfig: config, modelConfig: sharedModel, toolServers: configServers });
});

test("an AgentRun whose AgentConfig is missing: the namespace, and null for the rest", async () => {
  const run = obj("agent.tekton.dev/v1alpha1", "AgentRun", "qe", "r", { configRef: { name: "nope" }, goal: "g" });
  assert.deepEqual(await resolveContext(create(run), lookup), { namespace: namespaceContext, agentConfig: null, modelConfig: null, toolServers: {} });
});

test("a kagent Agent: declarative.modelConfig, else default-model-config, in its namespace; its MCP servers", async () => {
  const agent = obj("kagent.dev/v1alpha2", "Agent", "qe", "a", {
    type: "Declarative",
    declarative: { modelConfig: "claude", tools: [{ mcpServer: { name: "tools", namespace: "kagent" } }, { mcpServer: { name: "git", kind: "MCPServer" } }, { mcpServer: { name: "search", kind: "Service" } }, { type: "Agent" }] },
  });
  const context = await resolveContext(create(agent), lookup);
  assert.equal(context.modelConfig, claude);
  assert.deepEqual(context.toolServers, { "kagent/tools": remote, "qe/git": kmcp, "qe/search": service });
  const bare = await resolveContext(create(obj("kagent.dev/v1alpha2", "Agent", "qe", "b", { type: "Declarative", declarative: {} })), lookup);
  assert.equal(bare.modelConfig, defaultModel);
});

test("a BYO Agent has no ModelConfig to resolve", async () => {
  const context = await resolveContext(create(obj("kagent.dev/v1alpha2", "Agent", "qe", "byo", { type: "BYO", declarative: { modelConfig: "claude" } })), lookup);
  assert.equal(context.modelConfig, null);
});

test("without an object (DELETE): the old object's context; with neither, only the namespace", async () => {
  const deleted: AdmissionRequest = { ...create(config), operation: "DELETE", object: null, oldObject: config };
  assert.equal((await resolveContext(deleted, lookup)).modelConfig, sharedModel);
  const neither: AdmissionRequest = { ...create(config), operation: "DELETE", object: null, oldObject: null };
  assert.deepEqual(await resolveContext(neither, lookup), { namespace: namespaceContext, agentConfig: null, modelConfig: null, toolServers: {} });
});

test("a namespace that does not exist is null", async () => {
  const elsewhere = obj("agent.tekton.dev/v1alpha1", "AgentConfig", "nowhere", "c", {});
  assert.equal((await resolveContext(create(elsewhere), lookup)).namespace, null);
});
