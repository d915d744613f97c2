// The effective limits of one run: the run's overrides, else its config's
// values, else the policy config's defaults. Policy has already checked
// that overrides only narrow; this only states the result.
import type { AgentConfig, AgentRun, EgressRule, Guardrails, ToolServerKind } from "../types/agent.ts";
import type { ModelConfig } from "../types/kagent.ts";
import { classifyHost, endpointUrl, modelEndpoint, PUBLIC_TLDS, toolServerEndpoint } from "./endpoints.ts";
import { isRecord, type KubeObject, type PolicyRule } from "../types/kube.ts";
import type { PolicyContext } from "../types/policy.ts";
import { parseExtendedDurationNs } from "../duration.ts";
import { isSystemGroup } from "./approval.ts";

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function section(config: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = config[key];
  return isRecord(value) ? value : {};
}

// "name.namespace" is how in-cluster clients spell a Service; a two-label
// name is one unless its last label is a public top-level domain (the
// classifier's list, so egress and the model-endpoint rule agree) or a
// private suffix that is never a namespace.
const NOT_A_NAMESPACE: ReadonlySet<string> = new Set([...PUBLIC_TLDS, "local", "localhost", "internal", "corp", "lan"]);

/**
 * Parses an endpoint into host and port, and recognises in-cluster Service
 * names (name.namespace, name.namespace.svc[.cluster.local]) so the
 * NetworkPolicy can select them by namespace instead of by IP.
 */
export function egressFor(purpose: string, endpoint: string): EgressRule | undefined {
  let url: URL;
  try {
    url = new URL(endpoint.includes("://") ? endpoint : `https://${endpoint}`);
  } catch {
    return undefined;
  }
  const host = url.hostname;
  const port = url.port !== "" ? Number(url.port) : url.protocol === "http:" ? 80 : 443;
  const rule: EgressRule = { purpose, host, port };
  const parts = host.split(".");
  const svc = parts.indexOf("svc");
  // "name.namespace" is how in-cluster clients usually spell a Service; a
  // two-label public host ("openai.com") is told apart by its TLD.
  const inCluster =
    (parts.length === 2 && !NOT_A_NAMESPACE.has(parts[1] ?? "") && !/^\d+$/.test(parts[1] ?? "")) ||
    (svc === 2 && (parts.length === 3 || parts.slice(3).join(".") === "cluster.local"));
  if (inCluster && parts[0] && parts[1]) rule.service = { namespace: parts[1], name: parts[0] };
  return rule;
}

/** An egress rule for host:port, a Service's when the host names one in the cluster. */
function egressTo(purpose: string, host: string, port: number): EgressRule | undefined {
  return egressFor(purpose, `https://${host.includes(":") ? `[${host}]` : host}:${String(port)}`);
}

/**
 * The model endpoint of the block spec.provider selects, as kagent reads it
 * (endpoints.ts, the twin of the Rego that judged it); SAP AI Core's token
 * endpoint too, which the agent calls before the model.
 */
function modelEgress(model: ModelConfig | null): EgressRule[] {
  const spec: unknown = model?.spec;
  if (!isRecord(spec)) return [];
  const endpoint = modelEndpoint(spec);
  const out: EgressRule[] = [];
  if (!("none" in endpoint)) {
    const rule = egressTo("model", endpoint.host, endpoint.port);
    if (rule) out.push(rule);
  }
  const sap = spec.provider === "SAPAICore" && isRecord(spec.sapAICore) ? endpointUrl(spec.sapAICore.authUrl) : undefined;
  if (sap) {
    const rule = egressTo("model-auth", sap.host, sap.port);
    if (rule) out.push(rule);
  }
  return out;
}

function serverEgress(key: string, kind: ToolServerKind, server: KubeObject | null | undefined): EgressRule | undefined {
  if (!server) return undefined;
  const [namespace = "", name = ""] = key.split("/");
  const endpoint = toolServerEndpoint(kind, namespace, name, server);
  if ("none" in endpoint) return undefined;
  // An MCPServer or Service is in the cluster by definition: that Service, on the port kagent uses.
  if (kind !== "RemoteMCPServer") return { purpose: `mcp:${key}`, host: `${name}.${namespace}.svc`, port: endpoint.port, service: { namespace, name } };
  return egressTo(`mcp:${key}`, endpoint.host, endpoint.port);
}

/**
 * A floor under every profile: a route to a link-local or loopback address
 * (the cloud's metadata service, the node itself) is stamped only where the
 * platform listed it in models.allowedEndpoints. A warn or dryrun profile
 * admits a config that names one, but its runs never get the route.
 */
export function egressAllowedByFloor(rule: EgressRule, policyConfig: Record<string, unknown>): boolean {
  if (rule.service) return true;
  const host = rule.host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const cls = classifyHost(host);
  if (cls !== "link-local" && cls !== "loopback") return true;
  const listed = new Set(strings(section(policyConfig, "models").allowedEndpoints).map((e) => e.toLowerCase()));
  const port = String(rule.port);
  return [host, `${host}:${port}`, `[${host}]`, `[${host}]:${port}`].some((spelling) => listed.has(spelling));
}

/** The smaller of a value and today's maximum, when the maximum is a number. */
function atMost(value: number, max: unknown): number {
  const m = num(max);
  return m !== undefined && m < value ? m : value;
}

function durationNs(text: string): bigint | undefined {
  try {
    return parseExtendedDurationNs(text);
  } catch {
    return undefined;
  }
}

function shorterOf(value: string, max: unknown): string {
  const m = text(max);
  if (m === undefined) return value;
  const a = durationNs(value);
  const b = durationNs(m);
  return a !== undefined && b !== undefined && b < a ? m : value;
}

/**
 * The approver groups of a run: the config's, where they are among the
 * policy's (policy decides who approves; a config may only narrow that), else
 * the policy's; never a system: group.
 */
function approverGroups(configGroups: string[], policyGroups: string[]): string[] {
  const allowed = policyGroups.filter((g) => !isSystemGroup(g));
  if (configGroups.length === 0) return allowed;
  return configGroups.filter((g) => allowed.includes(g));
}

export function computeGuardrails(
  run: AgentRun,
  config: AgentConfig,
  context: PolicyContext,
  policyConfig: Record<string, unknown>,
): Guardrails {
  const budgets = section(policyConfig, "budgets");
  const runSpec = isRecord(run.spec) ? run.spec : {};
  const spec = isRecord(config.spec) ? config.spec : {};
  const namespace = config.metadata?.namespace ?? run.metadata?.namespace ?? "";

  const egress: EgressRule[] = [...modelEgress(context.modelConfig as ModelConfig | null)];

  const tools: Guardrails["tools"] = [];
  const servers = Array.isArray(spec.toolServers) ? (spec.toolServers as unknown[]) : [];
  for (const server of servers) {
    if (!isRecord(server) || !isRecord(server.ref)) continue;
    const name = text(server.ref.name);
    if (!name) continue;
    const kind: ToolServerKind = server.ref.kind === "MCPServer" || server.ref.kind === "Service" ? server.ref.kind : "RemoteMCPServer";
    const key = `${text(server.ref.namespace) ?? namespace}/${name}`;
    tools.push({ server: key, kind, allowedTools: strings(server.allowedTools), requireApproval: strings(server.requireApproval) });
    const rule = serverEgress(key, kind, context.toolServers[key]);
    if (rule) egress.push(rule);
  }

  const approval = isRecord(spec.approval) ? spec.approval : {};
  const configGroups = strings(approval.approverGroups);
  const rbac = isRecord(spec.rbac) && Array.isArray(spec.rbac.rules) ? (spec.rbac.rules as PolicyRule[]) : [];

  // Clamped to today's maxima: a config stored under a warn profile, or
  // before a limit was lowered, cannot hand a run more than policy allows now.
  return {
    tokenBudget: atMost(num(runSpec.tokenBudget) ?? num(spec.tokenBudget) ?? num(budgets.defaultTokenBudget) ?? 0, budgets.maxTokenBudget),
    timeout: shorterOf(text(runSpec.timeout) ?? text(spec.timeout) ?? text(budgets.defaultTimeout) ?? "", budgets.maxTimeout),
    maxIterations: atMost(num(runSpec.maxIterations) ?? num(spec.maxIterations) ?? num(budgets.defaultMaxIterations) ?? 0, budgets.maxIterations),
    networkPolicy: spec.networkPolicy === "permissive" ? "permissive" : "strict",
    egress: egress.filter((rule) => egressAllowedByFloor(rule, policyConfig)),
    rbac,
    approval: {
      required: approval.required === true,
      approverGroups: approverGroups(configGroups, strings(section(policyConfig, "approval").approverGroups)),
    },
    tools,
  };
}
