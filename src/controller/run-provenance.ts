// A finished run's provenance: gathers the facts (the Agent, ModelConfig
// and tool servers as the run used them, the ledger's trace) from the
// cluster and has them recorded. Apart from finishing, since it is the one
// part of the end of a run that reads what the agent ran.
import { parsePolicyDigests } from "../guardrails/decision.ts";
import type { LedgerState } from "../calls/ledger.ts";
import type { Logger } from "../log.ts";
import { PREVIOUS_STEPS_LIMIT, type CallsUnreadable, type PreviousStep, type ProvenanceRecord, type ProvenanceRecorder, type SharedContext } from "../provenance/facts.ts";
import { STAMP, type AgentConfig, type AgentRun, type Guardrails, type ToolServerKind, type Usage } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import { isTerminal } from "./conditions.ts";
import { describeError, GVR, statusCode, type Kube } from "./kube.ts";
import { names } from "./owned.ts";
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

  /**
   * agentName: the Agent the run acted through (its own, or its PipelineRun's
   * shared one, as proven by the caller); undefined records none. A shared
   * Agent the run's status names that was not proven, or is gone, is
   * recorded as such (agentUnproven), and a run whose goal went into a
   * shared context records that context and the steps before it.
   */
  async record(run: AgentRun, config: AgentConfig, guardrails: Guardrails, usage: Usage, results: { name: string; value: string }[], outcome: string, finishedOn: string, ledger: { state: LedgerState } | CallsUnreadable | undefined, agentName: string | undefined): Promise<ProvenanceRecord> {
    const ns = run.metadata?.namespace ?? "";
    const agent = agentName !== undefined ? ((await this.kube.get(GVR.agents, ns, agentName)) as Agent | null) : null;
    const unproven = unprovenAgent(run, agentName, agent !== null);
    const contextId = run.status?.agentRef?.contextId;
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
      ...(unproven ? { agentUnproven: { namespace: ns, name: unproven.name, why: unproven.why } } : {}),
      ...(contextId !== undefined ? { context: await this.sharedContext(run, contextId, unproven ? null : agent) } : {}),
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

  /**
   * The shared context the run's goal was sent in: its id, the share, the
   * PipelineRun owning the (proven) Agent, and the runs of the same context
   * and Agent that ended before this run's goal was sent (status is the
   * controller's alone; each is bound by its own provenance's digest).
   */
  private async sharedContext(run: AgentRun, id: string, agent: Agent | null): Promise<SharedContext> {
    const ns = run.metadata?.namespace ?? "";
    const agentName = run.status?.agentRef?.name ?? "";
    const owner = agent?.metadata?.ownerReferences?.find((o) => o.kind === "PipelineRun" && o.controller === true);
    const base = { id, share: agentName.replace(/-agent$/, ""), pipelineRun: owner ? { name: owner.name, uid: owner.uid } : null };
    let runs: AgentRun[];
    try {
      runs = (await this.kube.list(GVR.agentRuns, ns, "")) as AgentRun[];
    } catch (err) {
      this.log.warn("cannot list the runs of a shared context; provenance says so", { run: `${ns}/${run.metadata?.name ?? ""}`, error: describeError(err) });
      return { ...base, previous: null, earlier: { unreadable: describeError(err) } };
    }
    const { previous, earlier } = previousSteps(run, runs);
    return { ...base, previous, earlier };
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

/** Why the shared Agent the run's status names is not recorded with its spec; undefined for a run on its own Agent, or a shared one proven and read. */
export function unprovenAgent(run: AgentRun, proven: string | undefined, read: boolean): { name: string; why: string } | undefined {
  const own = names.agent(run.metadata?.name ?? "");
  const named = run.status?.agentRef?.name;
  if (proven === undefined) return named !== undefined && named !== own ? { name: named, why: `the run's status names Agent ${named}, which agentgate could not prove is the Agent shared by the run's PipelineRun` } : undefined;
  return proven !== own && !read ? { name: proven, why: `Agent ${proven} was gone when the run's provenance was recorded` } : undefined;
}

/**
 * The runs whose goals went into the run's shared context before its own:
 * same namespace, Agent and contextId in status, ended no later than this
 * run's goal was sent (none when it sent none), oldest first; the most
 * recent PREVIOUS_STEPS_LIMIT, with how many earlier ones were left out.
 */
export function previousSteps(run: AgentRun, runs: readonly AgentRun[]): { previous: PreviousStep[]; earlier: number } {
  const ref = run.status?.agentRef;
  const sent = Date.parse(run.status?.goal?.sentTime ?? "");
  if (ref?.contextId === undefined || Number.isNaN(sent)) return { previous: [], earlier: 0 };
  const before = runs
    .filter((r) => r.metadata?.uid !== run.metadata?.uid && r.metadata?.namespace === run.metadata?.namespace)
    .filter((r) => r.status?.agentRef?.contextId === ref.contextId && r.status?.agentRef?.name === ref.name && isTerminal(r.status))
    .map((r) => ({ r, ended: Date.parse(r.status?.completionTime ?? "") }))
    .filter(({ ended }) => !Number.isNaN(ended) && ended <= sent)
    .sort((a, b) => a.ended - b.ended || (a.r.metadata?.name ?? "").localeCompare(b.r.metadata?.name ?? ""));
  const kept = before.slice(-PREVIOUS_STEPS_LIMIT);
  const previous = kept.map(({ r }) => {
    const digest = r.status?.results?.find((x) => x.name === "provenance-digest")?.value;
    return {
      name: r.metadata?.name ?? "",
      uid: r.metadata?.uid ?? "",
      taskId: r.status?.taskId ?? null,
      finishedOn: r.status?.completionTime ?? "",
      provenance: digest?.startsWith("sha256:") === true ? { sha256: digest.slice("sha256:".length) } : null,
    };
  });
  return { previous, earlier: before.length - kept.length };
}
