// Builds the policy input's `context` (docs/policy-contract.md) for one admission request:
// every object the request's object refers to, or null where it is missing.
import type { AdmissionRequest } from "../types/admission.ts";
import type { AgentConfig } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import { DEFAULT_MODEL_CONFIG } from "../types/kagent.ts";
import { isRecord, type KubeObject } from "../types/kube.ts";
import type { NamespaceContext, PolicyContext } from "../types/policy.ts";
import type { ContextKind, ObjectLookup } from "./lookup.ts";

export interface ToolServerRef {
  kind: ContextKind;
  namespace: string;
  name: string;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function toolServerKind(kind: unknown): ContextKind {
  return kind === "MCPServer" || kind === "Service" ? kind : "RemoteMCPServer";
}

/** The tool servers an AgentConfig or kagent Agent refers to. */
export function toolServerRefs(object: KubeObject, kind: string, namespace: string): ToolServerRef[] {
  const refs: ToolServerRef[] = [];
  if (kind === "AgentConfig") {
    const servers = (object as AgentConfig).spec?.toolServers;
    if (!Array.isArray(servers)) return refs;
    for (const server of servers as unknown[]) {
      if (!isRecord(server) || !isRecord(server.ref)) continue;
      const name = str(server.ref.name);
      if (name) refs.push({ kind: toolServerKind(server.ref.kind), namespace: str(server.ref.namespace) ?? namespace, name });
    }
  } else if (kind === "Agent") {
    const tools = (object as Agent).spec?.declarative?.tools;
    if (!Array.isArray(tools)) return refs;
    for (const tool of tools as unknown[]) {
      if (!isRecord(tool) || !isRecord(tool.mcpServer)) continue;
      const name = str(tool.mcpServer.name);
      if (name) refs.push({ kind: toolServerKind(tool.mcpServer.kind), namespace: str(tool.mcpServer.namespace) ?? namespace, name });
    }
  }
  return refs;
}

function modelConfigRef(object: KubeObject, kind: string, namespace: string): { namespace: string; name: string } | undefined {
  if (kind === "AgentConfig") {
    const ref: unknown = (object as AgentConfig).spec?.modelConfigRef;
    if (!isRecord(ref)) return undefined;
    const name = str(ref.name);
    return name ? { namespace: str(ref.namespace) ?? namespace, name } : undefined;
  }
  if (kind === "Agent") {
    const spec: unknown = object.spec;
    if (isRecord(spec) && spec.type === "BYO") return undefined;
    const declarative = isRecord(spec) && isRecord(spec.declarative) ? spec.declarative : {};
    return { namespace, name: str(declarative.modelConfig) ?? DEFAULT_MODEL_CONFIG };
  }
  return undefined;
}

function namespaceContext(ns: KubeObject | null, name: string): NamespaceContext | null {
  if (!ns) return null;
  return { name, labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} };
}

/** Resolves the context of the request's object (the new one, else the old one on DELETE). */
export async function resolveContext(request: AdmissionRequest, lookup: ObjectLookup): Promise<PolicyContext> {
  const object = request.object ?? request.oldObject ?? null;
  const kind = request.kind.kind;
  const namespace = request.namespace ?? object?.metadata?.namespace ?? "";
  const nsPromise = namespace ? lookup.get("Namespace", "", namespace) : Promise.resolve(null);
  const context: PolicyContext = { namespace: null, agentConfig: null, modelConfig: null, toolServers: {} };
  if (!object) {
    context.namespace = namespaceContext(await nsPromise, namespace);
    return context;
  }

  // An AgentRun's guardrails come from its AgentConfig's references.
  let referrer: KubeObject = object;
  let referrerKind = kind;
  if (kind === "AgentRun") {
    const spec: unknown = object.spec;
    const configName = isRecord(spec) && isRecord(spec.configRef) ? str(spec.configRef.name) : undefined;
    context.agentConfig = configName ? await lookup.get("AgentConfig", namespace, configName) : null;
    if (!context.agentConfig) {
      context.namespace = namespaceContext(await nsPromise, namespace);
      return context;
    }
    referrer = context.agentConfig;
    referrerKind = "AgentConfig";
  }

  const modelRef = modelConfigRef(referrer, referrerKind, namespace);
  const servers = toolServerRefs(referrer, referrerKind, namespace);
  const [ns, model, ...found] = await Promise.all([
    nsPromise,
    modelRef ? lookup.get("ModelConfig", modelRef.namespace, modelRef.name) : Promise.resolve(null),
    ...servers.map((s) => lookup.get(s.kind, s.namespace, s.name)),
  ]);
  context.namespace = namespaceContext(ns ?? null, namespace);
  context.modelConfig = model ?? null;
  servers.forEach((s, i) => {
    context.toolServers[`${s.namespace}/${s.name}`] = found[i] ?? null;
  });
  return context;
}
