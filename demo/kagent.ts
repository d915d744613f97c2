// kagent as the demo plays it. kagent's controller and its agent runtime
// need a kubelet (the runtime is a pod per Agent), which this cluster lacks,
// so: the stand-in A2A endpoint (test/support/a2a-server.ts, built on the
// official A2A SDK) answers at kagent's URL with the example's scripted
// agent (examples/qe-test-writer/agent.yaml), whose tool calls are made for
// real with the official MCP SDK's client against the qe-files MCP tool
// server (test/support/mcp-tool-server.ts) that kagent would give the
// agent; and kagent's controller's one visible act here, an Agent becoming
// Ready, is written by the demo.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { parse } from "yaml";
import { startFakeKagent, type FakeKagent } from "../test/support/a2a-server.ts";
import type { ControlPlane } from "../test/support/control-plane.ts";
import { whatKagentGives } from "../test/support/kagent-translator.ts";
import { startToolServer, type ToolServer } from "../test/support/mcp-tool-server.ts";
import type { Cleanup } from "./cleanup.ts";
import { note } from "./output.ts";

export interface ToolCall {
  name: string;
  args: Record<string, unknown>;
}

interface AgentScriptFile {
  usagePerTurn: { promptTokens: number; completionTokens: number };
  turns: { text: string; toolCalls?: ToolCall[] }[];
}

export interface Kagent {
  fake: FakeKagent;
  tools: ToolServer;
  /** calls a tool of the qe-files server, as any MCP client would (the kubelet stand-in writes the workspace with it) */
  callTool(call: ToolCall): Promise<string>;
}

/** The in-cluster URL the RemoteMCPServer names, which has no DNS here: the agent's calls go to the local tool server. */
const IN_CLUSTER = /^http:\/\/qe-files\.qe-tools\.svc:8084\/mcp$/;

function readScript(examples: string): AgentScriptFile {
  const s = parse(readFileSync(join(examples, "agent.yaml"), "utf8")) as AgentScriptFile;
  if (!Array.isArray(s.turns) || s.turns.length === 0) throw new Error(`${join(examples, "agent.yaml")} has no turns`);
  return s;
}

async function withClient<T>(url: string, headers: Record<string, string>, use: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ name: "qe-test-writer", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

const textOf = (result: unknown): string => ((result as { content?: { text?: string }[] }).content ?? []).map((c) => c.text ?? "").join("");

export async function startKagent(cp: ControlPlane, examples: string, cleanup: Cleanup): Promise<Kagent> {
  const script = readScript(examples);
  const tools = await startToolServer();
  cleanup.onStop("the qe-files tool server", () => tools.close());
  const callTool = (call: ToolCall, url = tools.url, headers: Record<string, string> = {}): Promise<string> =>
    withClient(url, headers, async (c) => {
      const r = await c.callTool({ name: call.name, arguments: call.args });
      if (r.isError === true) throw new Error(`${call.name}: ${textOf(r)}`);
      return textOf(r);
    });

  /** The agent's work, as kagent's runtime would do it with what kagent's controller gave it. */
  const work = async (agent: string): Promise<void> => {
    const [namespace = "", name = ""] = agent.split("/");
    const given = await whatKagentGives(cp.kubeConfig, namespace, name);
    const server = given.tools[0];
    if (!server) throw new Error("the Agent was given no tool server");
    if (!IN_CLUSTER.test(server.url)) throw new Error(`the Agent was given ${server.url}, not the qe-files server`);
    for (const turn of script.turns) {
      for (const call of turn.toolCalls ?? []) {
        if (!server.toolNames.includes(call.name)) throw new Error(`kagent did not give the agent ${call.name}`);
        await callTool(call, tools.url, server.headers);
      }
    }
  };
  const last = script.turns.at(-1)?.text ?? "";
  const fake = await startFakeKagent({
    defaultScript: {
      llmCalls: script.turns.length,
      promptTokens: script.usagePerTurn.promptTokens,
      completionTokens: script.usagePerTurn.completionTokens,
      turns: script.turns.map((t) => ({ text: t.text, ...(t.toolCalls ? { toolCalls: t.toolCalls } : {}) })),
      resultText: last,
      stepDelayMs: 700,
      work,
    },
  });
  cleanup.onStop("the stand-in kagent", () => fake.close());
  return { fake, tools, callTool: (call) => callTool(call) };
}

/**
 * kagent's controller, as far as the demo needs it: each new Agent in the
 * namespace is marked Ready (kagent would start its pod first). Runs until
 * the returned function is called.
 */
export function playKagentController(cp: ControlPlane, namespace: string): () => Promise<void> {
  // an object: the loop reads what the returned stop() writes later
  const state = { running: true };
  const done = new Set<string>();
  const loop = (async () => {
    while (state.running) {
      const r = await cp.kubectl(["get", "agents.kagent.dev", "-n", namespace, "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[0].type}{\"\\n\"}{end}"], { allowFail: true });
      for (const line of r.stdout.split("\n")) {
        const [name = "", condition = ""] = line.split(" ");
        if (name === "" || condition !== "" || done.has(name)) continue;
        const at = new Date().toISOString();
        const patched = await cp.kubectl(["patch", "agent", name, "-n", namespace, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { conditions: [{ type: "Accepted", status: "True", reason: "Reconciled", message: "", lastTransitionTime: at }, { type: "Ready", status: "True", reason: "DeploymentReady", message: "", lastTransitionTime: at }] } })], { allowFail: true });
        if (patched.code !== 0) continue;
        done.add(name);
        note(`[kagent stand-in] Agent ${namespace}/${name} is Ready (kagent would have started its pod; the stand-in's scripted agent answers for it)`);
      }
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  return async () => {
    state.running = false;
    await loop;
  };
}
