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

/** A header a tool server's spec asks to be sent to it: a value, or where to read one. */
export interface ServerHeader {
  name: string;
  value?: string;
  from?: { kind: "Secret" | "ConfigMap"; namespace: string; name: string; key: string };
}

/**
 * Headers the gateway itself owns on a forwarded call; a tool server's spec
 * may not set them (the framing and the MCP session are the gateway's).
 */
const RESERVED_HEADERS = new Set(["host", "content-length", "content-type", "accept", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive", "proxy-authorization", "mcp-session-id", "mcp-protocol-version", "last-event-id"]);

/**
 * The credentials a RemoteMCPServer asks kagent to send it (spec.headersFrom,
 * each a value or a key of a Secret or ConfigMap in the server's own
 * namespace, as kagent's RemoteMCPServer.ResolveHeaders reads them): the
 * gateway sends them to that server, since the agent no longer calls it.
 */
export function toolServerHeaders(kind: ToolServerKind, server: KubeObject | null, key: string): ServerHeader[] {
  if (kind !== "RemoteMCPServer" || !server || !isRecord(server.spec) || !Array.isArray(server.spec.headersFrom)) return [];
  const [namespace = ""] = key.split("/");
  const out: ServerHeader[] = [];
  for (const h of server.spec.headersFrom) {
    if (!isRecord(h) || typeof h.name !== "string" || h.name === "") continue;
    if (RESERVED_HEADERS.has(h.name.toLowerCase())) throw new CallRefused(502, `RemoteMCPServer ${key} sets header ${h.name}, which the gateway does not let a server's spec set`);
    if (typeof h.value === "string") out.push({ name: h.name, value: h.value });
    else if (isRecord(h.valueFrom) && (h.valueFrom.type === "Secret" || h.valueFrom.type === "ConfigMap") && typeof h.valueFrom.name === "string" && typeof h.valueFrom.key === "string") {
      out.push({ name: h.name, from: { kind: h.valueFrom.type, namespace, name: h.valueFrom.name, key: h.valueFrom.key } });
    } else throw new CallRefused(502, `RemoteMCPServer ${key}: header ${h.name} has neither a value nor a Secret or ConfigMap key`);
  }
  return out;
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
