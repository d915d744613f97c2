// A finished run's provenance: gathers the facts (the Agent, ModelConfig
// and tool servers as the run used them, the ledger's trace) from the
// cluster and has them recorded. Apart from finishing, since it is the one
// part of the end of a run that reads what the agent ran.
import { parsePolicyDigests } from "../guardrails/decision.ts";
import type { LedgerState } from "../calls/ledger.ts";
import type { Logger } from "../log.ts";
import { envelopeDigest, type Verification } from "../provenance/envelope.ts";
import { PREVIOUS_STEPS_LIMIT, UNVERIFIED_STEPS_LIMIT, type CallsUnreadable, type PreviousStep, type ProvenanceRecord, type ProvenanceRecorder, type SharedContext, type UnverifiedStep } from "../provenance/facts.ts";
import { statedStep } from "../provenance/slsa.ts";
import { STAMP, type AgentConfig, type AgentRun, type DsseEnvelope, type Guardrails, type ToolServerKind, type Usage } from "../types/agent.ts";
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
   * PipelineRun owning the (proven) Agent, the run's own task, and the runs
   * of the same context and share that ended before this run's goal was
   * sent, as their own provenance proves (previousSteps): another run's
   * status is no proof, since it can be written while the webhooks are off.
   */
  private async sharedContext(run: AgentRun, id: string, agent: Agent | null): Promise<SharedContext> {
    const ns = run.metadata?.namespace ?? "";
    const agentName = run.status?.agentRef?.name ?? "";
    const owner = agent?.metadata?.ownerReferences?.find((o) => o.kind === "PipelineRun" && o.controller === true);
    const base = { id, share: agentName.replace(/-agent$/, ""), pipelineRun: owner ? { name: owner.name, uid: owner.uid } : null, taskId: run.status?.taskId ?? null };
    let runs: AgentRun[];
    try {
      runs = (await this.kube.list(GVR.agentRuns, ns, "")) as AgentRun[];
    } catch (err) {
      this.log.warn("cannot list the runs of a shared context; provenance says so", { run: `${ns}/${run.metadata?.name ?? ""}`, error: describeError(err) });
      return { ...base, previous: null, earlier: { unreadable: describeError(err) }, unverified: null };
    }
    const steps = previousSteps(run, runs, this.recorder.verify?.bind(this.recorder));
    if (steps.unverified.runs.length > 0) this.log.warn("runs whose status says they were earlier steps of a shared context have no provenance proving it; provenance names them apart", { run: `${ns}/${run.metadata?.name ?? ""}`, context: id, unverified: steps.unverified.runs.map((u) => `${u.name}: ${u.why}`), more: steps.unverified.more });
    return { ...base, ...steps };
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

/** Checks an envelope's signature: the controller's provenance key (ProvenanceRecorder.verify). */
export type VerifyEnvelope = (envelope: DsseEnvelope) => Verification;

type Proof = { ok: true; step: PreviousStep; ended: number } | { ok: false; why: string };

/**
 * Whether a run's own provenance proves it a step of the context: its
 * envelope verifies with the controller's key, and its statement is that
 * run's (its uid, namespace and name) in this context of this share. The
 * step is then as its statement says, nothing taken from its status.
 */
function proveStep(r: AgentRun, contextId: string, share: string, verify: VerifyEnvelope | undefined): Proof {
  const envelope = r.status?.provenance;
  if (!envelope) return { ok: false, why: "it records no provenance" };
  if (!verify) return { ok: false, why: "this controller records provenance unsigned (no signing key configured, Helm provenance.keySecret), so none proves a step" };
  const v = verify(envelope);
  if (!v.ok) return { ok: false, why: `its provenance does not verify: ${v.reason}` };
  const stated = statedStep(v.statement);
  if (!stated) return { ok: false, why: "its provenance is not an agentgate run's statement" };
  const name = `${r.metadata?.namespace ?? ""}/${r.metadata?.name ?? ""}`;
  if (stated.uid !== r.metadata?.uid || stated.subject !== name) return { ok: false, why: `its provenance is that of run ${stated.subject} (uid ${stated.uid}), not this one's` };
  if (stated.contextId !== contextId || stated.share !== share) return { ok: false, why: stated.contextId === undefined ? "its provenance records no shared context" : `its provenance records context ${stated.contextId} of ${stated.share ?? "no share"}` };
  const ended = Date.parse(stated.finishedOn);
  if (Number.isNaN(ended)) return { ok: false, why: `its provenance's finishedOn ${JSON.stringify(stated.finishedOn)} is no time` };
  const digest = envelopeDigest(envelope).slice("sha256:".length);
  return { ok: true, ended, step: { name: r.metadata.name ?? "", uid: stated.uid, taskId: stated.taskId, finishedOn: stated.finishedOn, provenance: { sha256: digest } } };
}

/** What a payload says before its signature is checked: only to skip runs that do not even claim the context. */
function claimedContext(envelope: DsseEnvelope | undefined): string | undefined {
  if (!envelope) return undefined;
  try {
    return statedStep(JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")))?.contextId;
  } catch {
    return undefined;
  }
}

/**
 * The runs whose goals went into the run's shared context before its own,
 * as each one's own provenance proves it (proveStep): signed with the
 * controller's key, naming that run's uid, this contextId and this share,
 * finished no later than this run's goal was sent (none when it sent
 * none); oldest first, the most recent PREVIOUS_STEPS_LIMIT, with how many
 * earlier ones were left out. Runs whose status (anyone's to write while
 * the webhooks are off) says they ended in the context before the goal
 * but that no provenance proves are named apart (unverified: the most
 * recent UNVERIFIED_STEPS_LIMIT by what their status says, and how many
 * more), so however many are forged they never push a proven step out of
 * the list.
 */
export function previousSteps(run: AgentRun, runs: readonly AgentRun[], verify?: VerifyEnvelope): { previous: PreviousStep[]; earlier: number; unverified: { runs: UnverifiedStep[]; more: number } } {
  const ref = run.status?.agentRef;
  const sent = Date.parse(run.status?.goal?.sentTime ?? "");
  if (ref?.contextId === undefined || Number.isNaN(sent)) return { previous: [], earlier: 0, unverified: { runs: [], more: 0 } };
  const share = ref.name.replace(/-agent$/, "");
  const proven: { step: PreviousStep; ended: number }[] = [];
  const unproven: { step: UnverifiedStep; ended: number }[] = [];
  for (const r of runs) {
    if (r.metadata?.uid === run.metadata?.uid || r.metadata?.namespace !== run.metadata?.namespace) continue;
    const statusEnded = Date.parse(r.status?.completionTime ?? "");
    const statusSays = r.status?.agentRef?.contextId === ref.contextId && r.status.agentRef.name === ref.name && isTerminal(r.status) && !Number.isNaN(statusEnded) && statusEnded <= sent;
    if (!statusSays && claimedContext(r.status?.provenance) !== ref.contextId) continue;
    const proof = proveStep(r, ref.contextId, share, verify);
    if (proof.ok) {
      if (proof.ended <= sent) proven.push(proof);
    } else if (statusSays) {
      unproven.push({ ended: statusEnded, step: { name: r.metadata?.name ?? "", uid: r.metadata?.uid ?? "", why: proof.why } });
    }
  }
  const order = (a: { ended: number; step: { name: string } }, b: { ended: number; step: { name: string } }) => a.ended - b.ended || a.step.name.localeCompare(b.step.name);
  proven.sort(order);
  unproven.sort(order);
  const kept = proven.slice(-PREVIOUS_STEPS_LIMIT);
  const named = unproven.slice(-UNVERIFIED_STEPS_LIMIT);
  return { previous: kept.map((p) => p.step), earlier: proven.length - kept.length, unverified: { runs: named.map((u) => u.step), more: unproven.length - named.length } };
}
