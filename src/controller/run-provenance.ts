// A finished run's provenance: gathers the facts (the Agent, ModelConfig
// and tool servers as the run used them, the ledger's trace) from the
// cluster and has them recorded. Apart from finishing, since it is the one
// part of the end of a run that reads what the agent ran.
import { parsePolicyDigests } from "../guardrails/decision.ts";
import type { LedgerState } from "../calls/ledger.ts";
import type { Logger } from "../log.ts";
import type { CallsUnreadable, ProvenanceRecord, ProvenanceRecorder } from "../provenance/facts.ts";
import { STAMP, type AgentConfig, type AgentRun, type Guardrails, type ToolServerKind, type Usage } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import { describeError, GVR, statusCode, type Kube } from "./kube.ts";
import { callsRecord } from "./run-ledger.ts";

export class RunProvenance {
  private readonly kube: Kube;
  private readonly recorder: ProvenanceRecorder;
  private readonly log: Logger;

  constructor(kube: Kube, recorder: ProvenanceRecorder, log: Logger) {
    this.kube = kube;
    this.recorder = recorder;
    this.log = log;
  }

  /** agentName: the Agent the run acted through (its own, or its PipelineRun's shared one, as proven by the caller); undefined records none. */
  async record(run: AgentRun, config: AgentConfig, guardrails: Guardrails, usage: Usage, results: { name: string; value: string }[], outcome: string, finishedOn: string, ledger: { state: LedgerState } | CallsUnreadable | undefined, agentName: string | undefined): Promise<ProvenanceRecord> {
    const ns = run.metadata?.namespace ?? "";
    const agent = agentName !== undefined ? ((await this.kube.get(GVR.agents, ns, agentName)) as Agent | null) : null;
    const modelName = config.spec?.modelConfigRef?.name;
    const modelNs = config.spec?.modelConfigRef?.namespace ?? ns;
    const model = modelName ? await this.kube.get(GVR.modelConfigs, modelNs, modelName) : null;
    const toolServers = [];
    for (const t of guardrails.tools) {
      const [tns = "", tname = ""] = t.server.split("/");
      toolServers.push({ namespace: tns, name: tname, kind: t.kind, spec: await this.toolServerSpec(t.kind, tns, tname) });
    }
    return this.recorder.record({
      run,
      config,
      guardrails,
      ...(agent ? { agentRuntime: { runtime: typeof agent.spec?.declarative?.runtime === "string" ? agent.spec.declarative.runtime : "", images: await this.agentImages(ns, agent.metadata?.name ?? "") } } : {}),
      agent: agent ? { namespace: ns, name: agent.metadata?.name ?? "", spec: agent.spec } : null,
      modelConfig: model && modelName ? { namespace: modelNs, name: modelName, spec: model.spec } : null,
      toolServers,
      usage,
      results,
      policyRevision: run.metadata?.annotations?.[STAMP.policyRevision] ?? "",
      // Signed with the decision the reconciler verified before acting; stamps never change after admission.
      policyDigests: parsePolicyDigests(run.metadata?.annotations?.[STAMP.policyDigests]),
      startedOn: run.status?.startTime ?? finishedOn,
      finishedOn,
      outcome,
      ...(ledger ? { calls: "state" in ledger ? callsRecord(ledger.state) : ledger } : {}),
    });
  }

  /** The images of the Deployment kagent made for the Agent (named as the Agent); none when it cannot be read. */
  private async agentImages(namespace: string, name: string): Promise<string[]> {
    try {
      const d = await this.kube.getObject({ apiVersion: "apps/v1", kind: "Deployment", namespace, name });
      const spec = d?.spec as { template?: { spec?: { containers?: { image?: string }[] } } } | undefined;
      return (spec?.template?.spec?.containers ?? []).map((c) => c.image ?? "").filter((i) => i !== "");
    } catch (err) {
      this.log.info("cannot read the agent's Deployment for its image; provenance records none", { namespace, name, error: describeError(err) });
      return [];
    }
  }

  /** The spec of a tool server as the run used it; null when it is gone. */
  private async toolServerSpec(kind: ToolServerKind, namespace: string, name: string): Promise<unknown> {
    if (kind === "Service") {
      try {
        return (await this.kube.core.readNamespacedService({ name, namespace })).spec ?? null;
      } catch (err) {
        if (statusCode(err) === 404) return null;
        throw err;
      }
    }
    return (await this.kube.get(kind === "MCPServer" ? GVR.mcpServers : GVR.remoteMcpServers, namespace, name))?.spec ?? null;
  }
}
