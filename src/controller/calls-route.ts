// How a run's agent is sent through agentgate's run-time gateway
// (docs/run-time-gateway.md, "How a run is sent through it"): kagent is
// given a ModelConfig and RemoteMCPServers of the run's own that point at
// the gateway's paths for this run, with the run's call token as their key
// and header, in place of the run's ModelConfig and tool servers. Pure: the
// reconciler reads the pinned ModelConfig and mints the token.
import type { AgentRun, Guardrails, Snapshot } from "../types/agent.ts";
import type { ModelConfig, ModelConfigSpec, RemoteMCPServer } from "../types/kagent.ts";
import type { KubeObject } from "../types/kube.ts";
import { names, ownedMeta } from "./owned.ts";

/** Keys of the run's call Secret: the token alone (a provider key), and as an Authorization header value (MCP). */
export const CALLS_TOKEN_KEY = "token";
export const CALLS_AUTHORIZATION_KEY = "authorization";

/** The providers whose APIs the gateway forwards and meters (src/calls/upstream.ts modelUpstream). */
export const ROUTED_PROVIDERS: Readonly<Record<string, "openAI" | "anthropic">> = { OpenAI: "openAI", Anthropic: "anthropic" };

/** What kagent is given instead of the run's ModelConfig and tool servers. */
export interface AgentRoute {
  /** the run's own ModelConfig, in the run's namespace */
  modelConfig: string;
  /** "<namespace>/<name>" of a stamped tool server → the run's own RemoteMCPServer for it */
  toolServers: ReadonlyMap<string, string>;
}

/** The tool servers a run's Agent is given: those with at least one allowed tool. */
const usedServers = (guardrails: Guardrails) => guardrails.tools.filter((t) => t.allowedTools.length > 0);

/** Fixed by the run's name and its stamp, so every pass computes the same names. */
export function agentRoute(run: AgentRun, guardrails: Guardrails): AgentRoute {
  const runName = run.metadata?.name ?? "";
  return {
    modelConfig: names.routedModel(runName),
    toolServers: new Map(usedServers(guardrails).map((t, i) => [t.server, names.routedTools(runName, i)])),
  };
}

/** The gateway's base path for one run. */
export function runCallsBase(baseUrl: string, run: AgentRun): string {
  return `${baseUrl.replace(/\/+$/, "")}/v1/runs/${run.metadata?.namespace ?? ""}/${run.metadata?.name ?? ""}`;
}

/**
 * Why this run cannot be sent through the gateway, in words for its
 * condition; undefined when it can. The gateway would refuse these calls
 * one by one; refusing the run before its agent starts says it once.
 */
export function unroutable(guardrails: Guardrails, snapshot: Snapshot, runNamespace: string, model: ModelConfig | null): string | undefined {
  if (guardrails.networkPolicy !== "strict") return "the run is stamped networkPolicy: permissive, so its agent could reach its tool servers and endpoints around agentgate's run-time gateway; while runs go through the gateway only strict runs start (ask the platform team, or drop networkPolicy: permissive)";
  const pin = snapshot.modelConfig;
  if (!pin) return "the run's decision pins no ModelConfig, and through agentgate's run-time gateway a run calls only the ModelConfig admitted with it; name one in the AgentConfig's modelConfigRef";
  const label = `ModelConfig ${pin.namespace}/${pin.name}`;
  if (pin.namespace !== runNamespace) return `${label} is not in the run's namespace ${runNamespace}: the run-time gateway calls a provider only with a key of the run's own namespace`;
  if (!model) return `${label} no longer exists`;
  const provider = model.spec?.provider ?? "";
  if (!(provider in ROUTED_PROVIDERS)) return `${label} uses provider ${JSON.stringify(provider)}; the run-time gateway forwards and meters ${Object.keys(ROUTED_PROVIDERS).join(" and ")} only, so this run cannot be held to its budget: use one of those, or ask the platform team`;
  const mcp = usedServers(guardrails).filter((t) => t.kind === "MCPServer");
  if (mcp.length > 0) return `tool server ${mcp.map((t) => `MCPServer ${t.server}`).join(", ")}: the run-time gateway does not forward MCPServer (kmcp) tool servers yet; use a RemoteMCPServer or a Service`;
  return undefined;
}

/**
 * The run's ModelConfig for kagent: the pinned one's provider, model and
 * settings, its base URL the gateway's path for this run, and its key the
 * run's call token. Dropped: the provider key (the gateway holds it), TLS
 * settings and default headers (for the provider, not the gateway), key
 * passthrough and token exchange (the call token is the only credential).
 */
export function routedModelConfig(run: AgentRun, model: ModelConfig, secretName: string, baseUrl: string): ModelConfig {
  const spec: ModelConfigSpec = model.spec ?? {};
  const blockKey = ROUTED_PROVIDERS[spec.provider ?? ""] ?? "openAI";
  const { tokenExchange: _tokenExchange, ...block } = spec[blockKey] ?? {};
  return {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "ModelConfig",
    metadata: ownedMeta(run, names.routedModel(run.metadata?.name ?? "")),
    spec: {
      provider: spec.provider ?? "",
      model: spec.model ?? "",
      apiKeySecret: secretName,
      apiKeySecretKey: CALLS_TOKEN_KEY,
      [blockKey]: { ...block, baseUrl: `${runCallsBase(baseUrl, run)}/model` },
    },
  };
}

/** The run's RemoteMCPServer for one stamped tool server: the gateway's path for it, the call token as its Authorization header. */
export function routedToolServer(run: AgentRun, name: string, server: { key: string; kind: string }, secretName: string, baseUrl: string): RemoteMCPServer {
  return {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "RemoteMCPServer",
    metadata: ownedMeta(run, name),
    spec: {
      description: `${server.kind} ${server.key} through agentgate's run-time gateway, for AgentRun ${run.metadata?.name ?? ""}`,
      protocol: "STREAMABLE_HTTP",
      url: `${runCallsBase(baseUrl, run)}/mcp/${server.key}`,
      headersFrom: [{ name: "Authorization", valueFrom: { type: "Secret", name: secretName, key: CALLS_AUTHORIZATION_KEY } }],
    },
  };
}

/** Every object kagent is given for the run, once its call Secret exists. */
export function routedObjects(run: AgentRun, guardrails: Guardrails, model: ModelConfig, secretName: string, baseUrl: string): KubeObject[] {
  const route = agentRoute(run, guardrails);
  const servers = usedServers(guardrails).map((t) => routedToolServer(run, route.toolServers.get(t.server) ?? "", { key: t.server, kind: t.kind }, secretName, baseUrl));
  return [routedModelConfig(run, model, secretName, baseUrl), ...servers];
}

/**
 * The Secret holding the run's call token, under a generated name: it is
 * only ever created, so the controller needs no right to read or change
 * Secrets, and a Secret of that name made in advance is never taken over.
 */
export function callsSecret(run: AgentRun, token: string): KubeObject {
  const meta = ownedMeta(run, "");
  delete meta.name;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { ...meta, generateName: names.callsSecretPrefix(run.metadata?.name ?? "") },
    type: "Opaque",
    stringData: { [CALLS_TOKEN_KEY]: token, [CALLS_AUTHORIZATION_KEY]: `Bearer ${token}` },
  };
}

/**
 * How long the call token lives: the run's timeout plus the time kagent may
 * take to start the agent, never under an hour. The token dies earlier with
 * the run's ServiceAccount, which goes when the run ends.
 */
export function tokenLifetimeSeconds(timeoutMs: number, agentReadyTimeoutMs: number): number {
  return Math.max(3600, Math.ceil((timeoutMs + agentReadyTimeoutMs) / 1000) + 300);
}

/** The Secret a routed ModelConfig of the run names: where the run's call token already is. */
export function secretOfRoutedModel(model: KubeObject | null): string | undefined {
  const spec = model?.spec as ModelConfigSpec | undefined;
  return typeof spec?.apiKeySecret === "string" && spec.apiKeySecret !== "" ? spec.apiKeySecret : undefined;
}
