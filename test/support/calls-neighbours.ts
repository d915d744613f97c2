// What a run-time gateway test starts before its gateway: a local control
// plane with agentgate's and kagent's CRDs, a real MCP tool server (the MCP
// SDK's) and the stand-in model API.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "./control-plane.ts";
import { tektonCrdDir } from "./tekton.ts";
import { startModelApi, type ModelApi } from "./model-api.ts";
import { startToolServer, type ToolServer } from "./mcp-tool-server.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CallsNeighbours {
  cp: ControlPlane;
  custom: k8s.CustomObjectsApi;
  core: k8s.CoreV1Api;
  tools: ToolServer;
  model: ModelApi;
}

export async function startCallsNeighbours(): Promise<CallsNeighbours> {
  const cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  return { cp, custom: cp.kubeConfig.makeApiClient(k8s.CustomObjectsApi), core: cp.kubeConfig.makeApiClient(k8s.CoreV1Api), tools: await startToolServer(), model: await startModelApi() };
}
