// Where a run's calls really go: the tool servers and the ModelConfig its
// decision pinned, read live and checked against the snapshot's digests, so
// an object edited after admission is never called in the run's name
// (docs/trust-chain.md, "Snapshot"). Pure: the objects are handed in.
import { specSha256, toolServerSha256 } from "../guardrails/snapshot.ts";
import type { Snapshot, ToolServerKind } from "../types/agent.ts";
import { isRecord, type KubeObject } from "../types/kube.ts";
import type { ModelConfig } from "../types/kagent.ts";
import { CallRefused } from "./caller.ts";

export type ModelApi = "openai" | "anthropic";

export interface ModelUpstream {
  api: ModelApi;
  /** the provider's base URL, without a trailing slash */
  baseUrl: string;
  model: string;
  /** where the provider key is: the ModelConfig's own Secret */
  keySecret?: { namespace: string; name: string; key: string };
}

function pinned(label: string, live: string, admitted: string | null | undefined): void {
  if (admitted === undefined) throw new CallRefused(403, `${label} is not named by this run's decision`);
  if (admitted === null || live !== admitted) throw new CallRefused(409, `${label} changed since the run was admitted; the run calls only what was admitted`);
}

/** The URL of an MCP tool server as kagent would call it. */
export function toolServerUrl(kind: ToolServerKind, server: KubeObject | null, key: string, snapshot: Snapshot): string {
  const label = `${kind} ${key}`;
  if (!server) throw new CallRefused(409, `${label} no longer exists`);
  pinned(label, toolServerSha256(kind, server), snapshot.toolServers[key]?.sha256);
  if (kind === "RemoteMCPServer") {
    const url = isRecord(server.spec) && typeof server.spec.url === "string" ? server.spec.url : "";
    if (!/^https?:\/\//.test(url)) throw new CallRefused(502, `${label} has no http(s) url`);
    return url;
  }
  if (kind === "Service") {
    // kagent's ConvertServiceToRemoteMCPServer: the annotated port and path, else the first port and /mcp.
    const a = server.metadata?.annotations ?? {};
    const ports = isRecord(server.spec) && Array.isArray(server.spec.ports) ? server.spec.ports : [];
    const first: unknown = ports[0];
    const port = a["kagent.dev/mcp-service-port"] ?? (isRecord(first) && typeof first.port === "number" ? String(first.port) : "");
    if (!/^\d+$/.test(port)) throw new CallRefused(502, `${label} names no port`);
    const path = a["kagent.dev/mcp-service-path"] ?? "/mcp";
    const [namespace, name] = key.split("/");
    // name.namespace.svc: a Service whatever its namespace is called ("tools" is also a public TLD).
    return `http://${name ?? ""}.${namespace ?? ""}.svc:${port}${path.startsWith("/") ? path : `/${path}`}`;
  }
  throw new CallRefused(501, `${label}: calls to ${kind} tool servers are not forwarded yet; use a RemoteMCPServer or Service`);
}

const DEFAULT_BASE: Record<ModelApi, string> = { openai: "https://api.openai.com/v1", anthropic: "https://api.anthropic.com" };

/**
 * The provider API of the run's pinned ModelConfig. Its key is used only
 * for a run of the ModelConfig's own namespace: a bundle that admits a
 * ModelConfig of another namespace must not let one team spend another's
 * key through agentgate (kagent itself reads ModelConfigs only in the
 * agent's namespace).
 */
export function modelUpstream(model: ModelConfig | null, snapshot: Snapshot, runNamespace: string): ModelUpstream {
  const pin = snapshot.modelConfig;
  if (!pin) throw new CallRefused(403, "this run's decision pins no ModelConfig, so it makes no model calls");
  const label = `ModelConfig ${pin.namespace}/${pin.name}`;
  if (pin.namespace !== runNamespace) throw new CallRefused(403, `${label} is not in the run's namespace ${runNamespace}: agentgate calls a provider only with a key of the run's own namespace`);
  if (!model) throw new CallRefused(409, `${label} no longer exists`);
  pinned(label, specSha256(model), pin.sha256);
  const spec = model.spec ?? {};
  const api: ModelApi | undefined = spec.provider === "OpenAI" ? "openai" : spec.provider === "Anthropic" ? "anthropic" : undefined;
  if (!api) throw new CallRefused(501, `${label}: provider ${String(spec.provider)} is not forwarded yet (OpenAI and Anthropic are)`);
  const block = api === "openai" ? spec.openAI : spec.anthropic;
  const base = typeof block?.baseUrl === "string" && block.baseUrl !== "" ? block.baseUrl : DEFAULT_BASE[api];
  const secret = typeof spec.apiKeySecret === "string" && spec.apiKeySecret !== "" ? spec.apiKeySecret : undefined;
  const key = typeof spec.apiKeySecretKey === "string" ? spec.apiKeySecretKey : "";
  return {
    api,
    baseUrl: base.replace(/\/+$/, ""),
    model: typeof spec.model === "string" ? spec.model : "",
    ...(secret ? { keySecret: { namespace: pin.namespace, name: secret, key } } : {}),
  };
}
