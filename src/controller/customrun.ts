// Tekton CustomRun → AgentRun: a Pipeline task with
// taskRef {apiVersion: agent.tekton.dev/v1alpha1, kind: AgentRun} becomes an
// AgentRun owned by the CustomRun (so it passes admission like any other),
// whose status and results are mirrored back for `when` expressions. Tekton
// leaves cancel and timeout of a CustomRun to its controller (Tekton's CustomRun documentation):
// spec.status RunCancelled or spec.timeout passed → the AgentRun is cancelled,
// and the CustomRun ends with reason CustomRunCancelled / CustomRunTimedOut.
import { AGENT_API_VERSION, type AgentRun } from "../types/agent.ts";
import type { Condition } from "../types/kube.ts";
import { customRunOfAgentRun, type CustomRun, type Param } from "../types/tekton.ts";
import type { Logger } from "../log.ts";
import { parseExtendedDurationNs } from "../duration.ts";
import { GVR, Kube, describeError, statusCode } from "./kube.ts";

/** A CustomRun of an AgentRun of the version this controller serves. */
export function isAgentRunCustomRun(cr: CustomRun): boolean {
  return customRunOfAgentRun(cr) && cr.spec?.customRef?.apiVersion === AGENT_API_VERSION;
}

function param(params: Param[] | undefined, name: string): unknown {
  return params?.find((p) => p.name === name)?.value;
}

function asStrings(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  if (typeof value === "string" && value !== "") {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed.filter((v): v is string => typeof v === "string");
    } catch {
      // a plain string: one hint per line
    }
    return value.split("\n").map((s) => s.trim()).filter(Boolean);
  }
  return [];
}

/** The AgentRun a CustomRun asks for, or why it cannot be made. */
export function agentRunFor(cr: CustomRun): { run: AgentRun } | { error: string } {
  const configRef = param(cr.spec?.params, "configRef");
  const goal = param(cr.spec?.params, "goal");
  if (typeof configRef !== "string" || configRef === "") return { error: 'param "configRef" (the AgentConfig name) is required' };
  if (typeof goal !== "string" || goal === "") return { error: 'param "goal" is required' };
  return { run: buildRun(cr, configRef, goal) };
}

/**
 * The CustomRun's spec.timeout is not copied to the run: Tekton v1.9 sets
 * it from the pipeline task's `timeout` alone (a pipeline's own timeouts it
 * enforces by cancelling the CustomRun), and a run's timeout may only narrow
 * its config's, so the webhook would refuse runs whose task allows longer
 * than the config. It bounds the CustomRun instead (customRunDeadline).
 */
function buildRun(cr: CustomRun, configRef: string, goal: string): AgentRun {
  const hints = asStrings(param(cr.spec?.params, "hints"));
  return {
    apiVersion: AGENT_API_VERSION,
    kind: "AgentRun",
    metadata: {
      name: cr.metadata?.name ?? "",
      namespace: cr.metadata?.namespace ?? "",
      labels: { "tekton.dev/customRun": cr.metadata?.name ?? "", ...(cr.metadata?.labels?.["tekton.dev/pipelineRun"] ? { "tekton.dev/pipelineRun": cr.metadata.labels["tekton.dev/pipelineRun"] } : {}) },
      ownerReferences: [{ apiVersion: cr.apiVersion ?? "tekton.dev/v1beta1", kind: "CustomRun", name: cr.metadata?.name ?? "", uid: cr.metadata?.uid ?? "", controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      configRef: { name: configRef },
      goal,
      ...(hints.length > 0 ? { context: { hints } } : {}),
    },
  };
}

/** When the CustomRun times out (epoch ms), from its startTime (else creation) and spec.timeout; undefined without one. */
export function customRunDeadline(cr: CustomRun): number | undefined {
  const timeout = cr.spec?.timeout;
  if (typeof timeout !== "string" || timeout === "") return undefined;
  let ms: number;
  try {
    ms = Number(parseExtendedDurationNs(timeout) / 1_000_000n);
  } catch {
    return undefined;
  }
  // Tekton: a zero timeout means none
  if (ms <= 0) return undefined;
  const start = cr.status?.startTime ?? cr.metadata?.creationTimestamp;
  return start ? Date.parse(start) + ms : undefined;
}

function condition(status: Condition["status"], reason: string, message: string, previous?: Condition[]): Condition[] {
  const old = previous?.find((c) => c.type === "Succeeded");
  const changed = !old || old.status !== status || old.reason !== reason;
  return [{ type: "Succeeded", status, reason, message, lastTransitionTime: changed ? new Date().toISOString() : old.lastTransitionTime }];
}

/** Same names and values in the same order (a count alone misses a changed value). */
const sameResults = (a: { name: string; value: string }[] | undefined, b: { name: string; value: string }[]): boolean =>
  JSON.stringify((a ?? []).map((r) => [r.name, r.value])) === JSON.stringify(b.map((r) => [r.name, r.value]));

/** Why the CustomRun's AgentRun was cancelled by the CustomRun, if it was. */
export type Stop = { reason: "CustomRunCancelled" | "CustomRunTimedOut"; message: string } | undefined;

export class CustomRunReconciler {
  private readonly kube: Kube;
  private readonly log: Logger;

  constructor(kube: Kube, log: Logger) {
    this.kube = kube;
    this.log = log;
  }

  async reconcile(cr: CustomRun): Promise<{ requeueAfterMs?: number }> {
    if (!isAgentRunCustomRun(cr)) return {};
    const ns = cr.metadata?.namespace ?? "";
    const name = cr.metadata?.name ?? "";
    const done = cr.status?.conditions?.some((c) => c.type === "Succeeded" && c.status !== "Unknown");
    if (done) return {};
    const fail = async (reason: string, message: string) => {
      await this.kube.patchStatus(GVR.customRuns, ns, name, { conditions: condition("False", reason, message, cr.status?.conditions), startTime: cr.status?.startTime ?? new Date().toISOString(), completionTime: new Date().toISOString() });
    };
    let run = (await this.kube.get(GVR.agentRuns, ns, name)) as AgentRun | null;
    if (run && !run.metadata?.ownerReferences?.some((o) => o.kind === "CustomRun" && o.uid === cr.metadata?.uid)) {
      // Not this CustomRun's: reporting its outcome (or cancelling it) would
      // hand the pipeline another run's results.
      const owner = run.metadata?.ownerReferences?.find((o) => o.controller);
      await fail("AgentRunNameTaken", `AgentRun ${ns}/${name} already exists and is not this CustomRun's (${owner ? `owned by ${owner.kind} ${owner.name}` : "it has no owner"}); the CustomRun's AgentRun takes its name, so delete that AgentRun or rename the pipeline task`);
      return {};
    }
    if (!run) {
      if (cr.spec?.status === "RunCancelled") {
        await fail("CustomRunCancelled", cr.spec.statusMessage ?? "cancelled before its AgentRun was created");
        return {};
      }
      const desired = agentRunFor(cr);
      if ("error" in desired) {
        await fail("InvalidParams", desired.error);
        return {};
      }
      try {
        run = (await this.kube.create(GVR.agentRuns, ns, desired.run)) as AgentRun;
        this.log.info("AgentRun created for CustomRun", { customRun: `${ns}/${name}` });
      } catch (err) {
        // Admission said no: the CustomRun fails with the webhook's words.
        if (statusCode(err) === 403 || statusCode(err) === 400 || statusCode(err) === 422) {
          await fail("PolicyDenied", describeError(err));
          return {};
        }
        throw err;
      }
    }
    const deadline = customRunDeadline(cr);
    let stop: Stop;
    if (cr.spec?.status === "RunCancelled") stop = { reason: "CustomRunCancelled", message: cr.spec.statusMessage ?? `CustomRun ${name} was cancelled` };
    else if (deadline !== undefined && Date.now() >= deadline) stop = { reason: "CustomRunTimedOut", message: `CustomRun ${name} timed out after ${cr.spec?.timeout ?? ""}` };
    const runEnded = run.status?.phase === "Succeeded" || run.status?.phase === "Failed";
    if (stop && !runEnded && run.spec?.status !== "Cancelled") {
      run = (await this.kube.patch(GVR.agentRuns, ns, name, { spec: { status: "Cancelled" } })) as AgentRun;
      this.log.info("AgentRun cancelled for its CustomRun", { customRun: `${ns}/${name}`, reason: stop.reason });
    }
    await this.mirror(cr, run, stop);
    // Tekton never says that a CustomRun timed out: look again at its deadline.
    return !stop && deadline !== undefined ? { requeueAfterMs: Math.min(2 ** 31 - 1, Math.max(0, deadline - Date.now()) + 50) } : {};
  }

  /** Copies the run's outcome onto the CustomRun, as Tekton reads it. */
  async mirror(cr: CustomRun, run: AgentRun, stop?: Stop): Promise<void> {
    const desired = mirroredStatus(cr, run, stop);
    if (desired) await this.kube.patchStatus(GVR.customRuns, cr.metadata?.namespace ?? "", cr.metadata?.name ?? "", desired);
  }
}

/**
 * The run's signed provenance as an artifact Tekton Chains reads by its
 * result names (`*ARTIFACT_URI` with `*ARTIFACT_DIGEST`, tektoncd/chains
 * pkg/artifacts/signable.go at v0.29.2): surfaced as pipeline results, the
 * PipelineRun's attestation names the AgentRun and its provenance digest as
 * a subject (README, "What Tekton Chains signs").
 */
export function chainsResults(run: AgentRun): { name: string; value: string }[] {
  const digest = run.status?.results?.find((r) => r.name === "provenance-digest")?.value;
  if (digest === undefined || !/^sha256:[0-9a-f]{64}$/.test(digest)) return [];
  return [
    { name: "agentrun_ARTIFACT_URI", value: `k8s://${run.metadata?.namespace ?? ""}/agent.tekton.dev/AgentRun/${run.metadata?.name ?? ""}` },
    { name: "agentrun_ARTIFACT_DIGEST", value: digest },
  ];
}

/** The CustomRun status that mirrors the run, or undefined when the CustomRun already says it all. */
export function mirroredStatus(cr: CustomRun, run: AgentRun, stop?: Stop): NonNullable<CustomRun["status"]> | undefined {
  const c = run.status?.conditions?.find((x) => x.type === "Succeeded");
  const status = c?.status ?? "Unknown";
  let reason = c?.reason ?? "Pending";
  let message = c?.message ?? `AgentRun ${run.metadata?.name ?? ""} is ${run.status?.phase ?? "Pending"}`;
  // The run's Cancelled is the CustomRun's own cancel or timeout, in Tekton's words.
  if (stop && status === "False" && reason === "Cancelled") {
    reason = stop.reason;
    message = `${stop.message}: ${message}`;
  } else if (stop && status === "Unknown") {
    message = `${stop.message}; cancelling AgentRun ${run.metadata?.name ?? ""}`;
  }
  const results = [...(run.status?.results ?? []).map((r) => ({ name: r.name, value: r.value })), ...chainsResults(run)];
  const current = cr.status?.conditions?.find((x) => x.type === "Succeeded");
  if (current?.status === status && current.reason === reason && current.message === message && sameResults(cr.status?.results, results) && cr.status?.startTime) return undefined;
  return {
    conditions: condition(status, reason, message, cr.status?.conditions),
    startTime: cr.status?.startTime ?? run.status?.startTime ?? new Date().toISOString(),
    ...(run.status?.completionTime ? { completionTime: run.status.completionTime } : {}),
    ...(results.length > 0 ? { results } : {}),
    ...(cr.metadata?.generation !== undefined ? { observedGeneration: cr.metadata.generation } : {}),
  };
}
