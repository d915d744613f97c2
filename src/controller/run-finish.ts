// The end of a run, once: its ledger closed, its provenance recorded, the
// final status written (over the version it was computed from), then what
// it left running stopped and its identity deleted.
import { closeStep, NoLedger, type LedgerState } from "../calls/ledger.ts";
import type { CallsUnreadable } from "../provenance/facts.ts";
import type { AgentConfig, AgentRun, AgentRunStatus, Guardrails, Usage } from "../types/agent.ts";
import type { PipelineRun } from "../types/tekton.ts";
import { isTerminal, phaseFor, succeededCondition, type RunReason } from "./conditions.ts";
import { hookState } from "./hooks.ts";
import { describeError, GVR, statusCode } from "./kube.ts";
import { names, ownedByRun, RUN_LABEL } from "./owned.ts";
import { usageOfLedger } from "./run-ledger.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import type { RunProvenance } from "./run-provenance.ts";
import { runKey, sleep, ZERO_USAGE, type RunStatusWriter } from "./run-status.ts";

/** How long a run's end waits for calls in flight to settle in its ledger, so its provenance counts them (what is still out is said so). */
const LEDGER_SETTLE_MS = 10_000;

/** What the run's end knows beyond its status; provenance is recorded only with both config and guardrails. */
export interface FinishFacts {
  config?: AgentConfig | null;
  guardrails?: Guardrails;
  usage?: Usage;
  results?: { name: string; value: string }[];
  iterations?: number;
  /** the kagent Agent the run acted through, as proven when it was chosen; absent: none is recorded in provenance */
  agent?: string;
}

export class RunFinisher {
  private readonly opts: RunReconcilerOptions;
  private readonly writer: RunStatusWriter;
  private readonly provenance: RunProvenance;

  constructor(opts: RunReconcilerOptions, status: RunStatusWriter, provenance: RunProvenance) {
    this.opts = opts;
    this.writer = status;
    this.provenance = provenance;
  }

  /** Ends the run once: results, provenance, the final condition; then stops what it left running. */
  async finish(run: AgentRun, reason: RunReason, message: string, facts: FinishFacts = {}): Promise<void> {
    if (isTerminal(run.status)) return;
    const finishedOn = new Date().toISOString();
    const closed = await this.closeLedger(run);
    const ledger = closed && "state" in closed ? closed.state : undefined;
    // What agentgate counted is exact; kagent's usage metadata is what the agent chose to report.
    const usage = ledger ? usageOfLedger(ledger) : (facts.usage ?? run.status?.usage ?? ZERO_USAGE);
    let results = facts.results ?? run.status?.results ?? [];
    let provenanceNote = "";
    let provenance: AgentRunStatus["provenance"];
    if (facts.config && facts.guardrails) {
      try {
        const record = await this.provenance.record(run, facts.config, facts.guardrails, usage, results, reason, finishedOn, closed, facts.agent);
        provenance = record.envelope;
        results = [...results.filter((r) => r.name !== "provenance-digest"), { name: "provenance-digest", value: record.digest }];
        if (!record.signed) provenanceNote = " (provenance recorded unsigned: no signing key configured, Helm provenance.keySecret)";
      } catch (err) {
        provenanceNote = ` (provenance not recorded: ${describeError(err)})`;
      }
    }
    const status: Partial<AgentRunStatus> = {
      phase: phaseFor(reason),
      completionTime: finishedOn,
      conditions: succeededCondition(reason === "Succeeded" ? "True" : "False", reason, `${message}${provenanceNote}`, run.status?.conditions),
      usage,
      results,
      ...(facts.iterations !== undefined ? { iterations: facts.iterations } : {}),
      ...(provenance ? { provenance } : {}),
      ...(run.status?.startTime ? {} : { startTime: finishedOn }),
    };
    const written = await this.writer.writeOutcome(run, status);
    if (!written) {
      this.opts.log.info("run already ended elsewhere; not finishing it again", { run: runKey(run), reason });
      return;
    }
    this.opts.log.info("run finished", { run: runKey(run), reason, message, usage });
    await this.opts.kube.event(run, reason === "Succeeded" ? "Normal" : "Warning", reason, `${message}${provenanceNote}`);
    // A hook can still run only when the run ended in a hook phase for a reason other than the hooks' own outcome.
    const hookMayRun = (run.status?.phase === "PreHooks" || run.status?.phase === "PostHooks") && !["Succeeded", "PreHookFailed", "PostHookFailed"].includes(reason);
    await this.cleanUp(written, hookMayRun);
  }

  /**
   * What a finished run leaves running: its kagent Agent (kagent keeps its
   * Deployment and pod up as long as the Agent exists) and any hook
   * PipelineRun still going (Tekton stops it on spec.status: Cancelled). The
   * rest goes with the run through owner references.
   */
  private async cleanUp(run: AgentRun, hookMayRun: boolean): Promise<void> {
    const ns = run.metadata?.namespace ?? "";
    const runName = run.metadata?.name ?? "";
    try {
      if (run.status?.agentRef && (await this.opts.kube.delete(GVR.agents, ns, names.agent(runName)))) {
        this.opts.log.info("deleted the run's kagent Agent", { run: runKey(run), agent: names.agent(runName) });
      }
    } catch (err) {
      this.opts.log.warn("cannot delete the run's kagent Agent", { run: runKey(run), error: describeError(err) });
    }
    // The run's identity goes with it: nobody can mint its token or run as
    // it once it ended. The NetworkPolicy stays (with the run, until the run
    // is deleted): it selects only this run's agent pods, and keeps them
    // confined while kagent takes them down.
    for (const ref of [
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", name: names.roleBinding(runName) },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", name: names.role(runName) },
      { apiVersion: "v1", kind: "ServiceAccount", name: names.serviceAccount(runName) },
      // the hooks' account: a hook still running is cancelled below
      { apiVersion: "v1", kind: "ServiceAccount", name: names.hookServiceAccount(runName) },
    ]) {
      try {
        const object = await this.opts.kube.getObject({ ...ref, namespace: ns });
        if (object && ownedByRun(object.metadata, run)) await this.opts.kube.deleteObject({ ...ref, namespace: ns });
      } catch (err) {
        this.opts.log.warn("cannot delete the run's scope", { run: runKey(run), object: `${ref.kind}/${ref.name}`, error: describeError(err) });
      }
    }
    // The ledger's trace is in the provenance now; calls the gateway still
    // took in the moment the run ended find the run ended, or are swept
    // (observeLedger).
    const uid = run.metadata?.uid ?? "";
    if (this.opts.calls && uid !== "") {
      await this.opts.calls.ledgers.remove(uid).catch((err: unknown) => { this.opts.log.warn("cannot delete the run's ledger at the run-time gateway", { run: runKey(run), error: describeError(err) }); });
    }
    if (!hookMayRun) return;
    try {
      const hooks = (await this.opts.kube.list(GVR.pipelineRuns, ns, `${RUN_LABEL}=${runName}`)) as PipelineRun[];
      for (const pr of hooks) {
        const ours = pr.metadata?.ownerReferences?.some((o) => o.uid === run.metadata?.uid);
        if (!ours || hookState(pr).state !== "running" || pr.spec?.status === "Cancelled") continue;
        await this.opts.kube.patch(GVR.pipelineRuns, ns, pr.metadata?.name ?? "", { spec: { status: "Cancelled" } });
        await this.opts.kube.event(run, "Normal", "HookCancelled", `PipelineRun ${pr.metadata?.name ?? ""} cancelled: the run ended`);
      }
    } catch (err) {
      // no Tekton installed means no hook to stop
      if (statusCode(err) !== 404) this.opts.log.warn("cannot cancel the run's hook PipelineRuns", { run: runKey(run), error: describeError(err) });
    }
  }

  /**
   * Closes the run's ledger at the run-time gateway (no call is started in
   * its name from then on), waits a little for calls in flight to settle,
   * and returns it for the run's usage and provenance. Undefined when the
   * run has none (not sent through the gateway); one that cannot be closed
   * or read is said so in the provenance, never taken for "no calls".
   */
  private async closeLedger(run: AgentRun): Promise<{ state: LedgerState } | CallsUnreadable | undefined> {
    const uid = run.metadata?.uid ?? "";
    const calls = this.opts.calls;
    if (!calls || uid === "") return undefined;
    // The run's Agent is made only once its ledger is open: a run that has one and no ledger lost it.
    const routed = run.status?.agentRef !== undefined;
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        let state = await calls.ledgers.update(uid, closeStep);
        // Calls begun before the close settle: model calls' reservations, tool calls in flight.
        for (const until = Date.now() + LEDGER_SETTLE_MS; (state.reserved > 0 || (state.inFlight ?? 0) > 0) && Date.now() < until; ) {
          await sleep(200);
          state = (await calls.ledgers.read(uid)) ?? state;
        }
        return { state };
      } catch (err) {
        if (err instanceof NoLedger) {
          if (!routed) return undefined;
          lastError = err;
          break;
        }
        lastError = err;
        await sleep(500 * attempt);
      }
    }
    this.opts.log.warn("cannot close the run's ledger at the run-time gateway; its provenance says so", { run: runKey(run), error: describeError(lastError) });
    return { unreadable: `the run's ledger at agentgate's run-time gateway could not be closed and read: ${describeError(lastError)}` };
  }
}
