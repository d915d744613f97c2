// What kagent's controller gives an Agent's runtime, read the way its
// translator reads it (kagent v0.9.x go/core/internal/controller/translator/
// agent/adk_api_translator.go): the model from the Agent's ModelConfig in the
// Agent's namespace (OpenAI: the key from apiKeySecret/apiKeySecretKey as
// OPENAI_API_KEY, openAI.baseUrl as the base URL; Anthropic likewise), and
// each McpServer tool of kind RemoteMCPServer as its URL with the headers
// resolved from headersFrom (RemoteMCPServer.ResolveHeaders reads the named
// Secret or ConfigMap key), filtered to toolNames. A stand-in, because
// kagent's runtime needs a kubelet; the scripted agent then calls what it
// was given, as kagent's runtime would.
import * as k8s from "@kubernetes/client-node";

export interface GivenModel {
  provider: string;
  model: string;
  baseUrl: string;
  apiKey: string;
}

export interface GivenTools {
  url: string;
  headers: Record<string, string>;
  toolNames: string[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");

export async function whatKagentGives(kc: k8s.KubeConfig, namespace: string, agentName: string): Promise<{ model: GivenModel; tools: GivenTools[] }> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const get = async (plural: string, ns: string, name: string): Promise<Obj> => obj(await custom.getNamespacedCustomObject({ group: "kagent.dev", version: "v1alpha2", namespace: ns, plural, name }));
  const secretValue = async (ns: string, name: string, key: string): Promise<string> => {
    const secret = await core.readNamespacedSecret({ name, namespace: ns });
    return Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
  };
  const agent = await get("agents", namespace, agentName);
  const declarative = obj(obj(agent.spec).declarative);
  const modelConfig = obj((await get("modelconfigs", namespace, str(declarative.modelConfig))).spec);
  const provider = str(modelConfig.provider);
  const block = obj(modelConfig[provider === "Anthropic" ? "anthropic" : "openAI"]);
  const model: GivenModel = {
    provider,
    model: str(modelConfig.model),
    baseUrl: str(block.baseUrl),
    apiKey: str(modelConfig.apiKeySecret) !== "" ? await secretValue(namespace, str(modelConfig.apiKeySecret), str(modelConfig.apiKeySecretKey)) : "",
  };
  const tools: GivenTools[] = [];
  for (const tool of Array.isArray(declarative.tools) ? declarative.tools : []) {
    const ref = obj(obj(tool).mcpServer);
    if (str(ref.kind) !== "RemoteMCPServer") throw new Error(`the stand-in translator reads RemoteMCPServer tools only, not ${str(ref.kind)}`);
    const serverNs = str(ref.namespace) || namespace;
    const spec = obj((await get("remotemcpservers", serverNs, str(ref.name))).spec);
    const headers: Record<string, string> = {};
    for (const h of Array.isArray(spec.headersFrom) ? spec.headersFrom : []) {
      const header = obj(h);
      const from = obj(header.valueFrom);
      if (typeof header.value === "string") headers[str(header.name)] = header.value;
      else if (str(from.type) === "Secret") headers[str(header.name)] = await secretValue(serverNs, str(from.name), str(from.key));
    }
    tools.push({ url: str(spec.url), headers, toolNames: Array.isArray(ref.toolNames) ? ref.toolNames.map(str) : [] });
  }
  return { model, tools };
}
