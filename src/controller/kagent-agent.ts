// The kagent Agent a run acts through: the config's model and prompt, tools
// narrowed to the stamped guardrails, the run's own ServiceAccount, the
// runtime chosen by the controller; and what kagent's conditions say of it.
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import type { AgentRoute } from "./calls-route.ts";
import { names, ownedMeta } from "./owned.ts";
import { agentPodLabels } from "./scope.ts";

/** kagent's `spec.declarative.runtime` (enum python|go at every v0.9 and v0.10 tag). */
export type KagentRuntime = "python" | "go";

export const KAGENT_RUNTIMES: readonly KagentRuntime[] = ["go", "python"];

/**
 * "go" honours tasks/cancel (go/adk/pkg/a2a/executor.go Cancel writes a
 * final canceled event); "python" refuses it (kagent-adk _agent_executor.py
 * raises NotImplementedError("Cancellation is not supported") at v0.9.0
 * through v0.10.0-rc3), so a stopped run then ends its agent only by
 * deleting the Agent. Set explicitly, because the CRD default differs by
 * release (python in v0.9.x, go from v0.10.0-rc1).
 */
export const DEFAULT_KAGENT_RUNTIME: KagentRuntime = "go";

export interface KagentAgentOptions {
  /**
   * The run's ServiceAccount, which the agent's pod runs as. The reconciler
   * passes the name it created; without one the name owned.ts gives the run
   * is used (until every caller passes it).
   */
  serviceAccountName?: string;
  /** default DEFAULT_KAGENT_RUNTIME */
  runtime?: KagentRuntime;
  /** calls go through agentgate's run-time gateway: the run's own ModelConfig and RemoteMCPServers stand in for the config's */
  route?: AgentRoute;
}

export function kagentAgent(run: AgentRun, config: AgentConfig, guardrails: Guardrails, opts: KagentAgentOptions = {}): Agent {
  const runName = run.metadata?.name ?? "";
  const tools = guardrails.tools
    .filter((t) => t.allowedTools.length > 0)
    .map((t) => {
      const routed = opts.route?.toolServers.get(t.server);
      const [namespace = "", name = ""] = routed !== undefined ? [run.metadata?.namespace ?? "", routed] : t.server.split("/");
      const kind = routed !== undefined ? "RemoteMCPServer" : t.kind === "Service" ? "Service" : t.kind;
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
        runtime: opts.runtime ?? DEFAULT_KAGENT_RUNTIME,
        modelConfig: opts.route?.modelConfig ?? config.spec?.modelConfigRef?.name ?? "",
        systemMessage: config.spec?.systemPrompt ?? "",
        tools,
        deployment: { serviceAccountName: opts.serviceAccountName ?? names.serviceAccount(runName), labels: agentPodLabels(run) },
      },
    },
  };
}

/**
 * What kagent's conditions say of an Agent. `ready` and `message` stay on
 * every variant for callers that only ask "ready yet?".
 */
export type AgentReadiness =
  | { state: "ready"; ready: true; message: string }
  | { state: "waiting"; ready: false; message: string }
  /** kagent will not run this spec (Accepted=False); waiting longer does not help */
  | { state: "refused"; ready: false; reason: string; message: string };

type Condition = NonNullable<NonNullable<Agent["status"]>["conditions"]>[number] & { observedGeneration?: number };

/**
 * Accepted is read before Ready: kagent writes Accepted=False
 * (reason ReconcileFailed, message = the reconcile error) and touches no
 * owned object, so a Deployment from an earlier pass keeps Ready True
 * (go/core/internal/controller/reconciler/reconciler.go
 * updateAgentObjectStatus/reconcileAgentStatus, v0.9.0–v0.10.0-rc3).
 * Conditions kagent wrote for an older generation of the spec are not
 * trusted (each carries observedGeneration = the Agent's generation).
 */
export function agentReady(agent: Agent | null): AgentReadiness {
  const generation = agent?.metadata?.generation;
  const conditions: Condition[] = agent?.status?.conditions ?? [];
  const current = (type: string): Condition | undefined => {
    const c = conditions.find((x) => x.type === type);
    if (c && generation !== undefined && c.observedGeneration !== undefined && c.observedGeneration < generation) return undefined;
    return c;
  };
  const accepted = current("Accepted");
  if (accepted?.status === "False") {
    const reason = accepted.reason ?? "ReconcileFailed";
    return { state: "refused", ready: false, reason, message: `kagent did not accept the Agent (${reason}): ${accepted.message ?? "no message"}` };
  }
  const ready = current("Ready");
  if (ready?.status === "True") return { state: "ready", ready: true, message: ready.message ?? ready.reason ?? "" };
  if (ready) return { state: "waiting", ready: false, message: ready.message ?? ready.reason ?? `Ready is ${ready.status}` };
  return { state: "waiting", ready: false, message: accepted ? "kagent accepted the Agent; waiting for it to report the Agent Ready" : "waiting for kagent to report the Agent Ready" };
}
