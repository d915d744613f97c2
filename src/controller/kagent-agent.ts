// The kagent Agent a run acts through: the config's model and prompt, tools
// narrowed to the stamped guardrails, the run's own ServiceAccount.
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import { names, ownedMeta } from "./owned.ts";
import { agentPodLabels } from "./scope.ts";

export function kagentAgent(run: AgentRun, config: AgentConfig, guardrails: Guardrails): Agent {
  const runName = run.metadata?.name ?? "";
  const tools = guardrails.tools
    .filter((t) => t.allowedTools.length > 0)
    .map((t) => {
      const [namespace = "", name = ""] = t.server.split("/");
      const kind = t.kind === "Service" ? "Service" : t.kind;
      return {
        type: "McpServer" as const,
        mcpServer: {
          apiGroup: kind === "Service" ? "" : "kagent.dev",
          kind,
          name,
          namespace,
          toolNames: [...t.allowedTools],
          ...(t.requireApproval.length > 0 ? { requireApproval: [...t.requireApproval] } : {}),
        },
      };
    });
  return {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "Agent",
    metadata: ownedMeta(run, names.agent(runName), { "agent.tekton.dev/config": config.metadata?.name ?? "" }),
    spec: {
      type: "Declarative",
      description: `agentgate run ${run.metadata?.namespace ?? ""}/${runName} of AgentConfig ${config.metadata?.name ?? ""}`,
      declarative: {
        modelConfig: config.spec?.modelConfigRef?.name ?? "",
        systemMessage: config.spec?.systemPrompt ?? "",
        tools,
        deployment: { serviceAccountName: names.serviceAccount(runName), labels: agentPodLabels(run) },
      },
    },
  };
}

export function agentReady(agent: Agent | null): { ready: boolean; message: string } {
  const ready = agent?.status?.conditions?.find((c) => c.type === "Ready");
  if (!ready) return { ready: false, message: "waiting for kagent to report the Agent Ready" };
  return { ready: ready.status === "True", message: ready.message ?? ready.reason ?? "" };
}
