// Tekton CustomRun → AgentRun: a Pipeline task with
// taskRef {apiVersion: agent.tekton.dev/v1alpha1, kind: AgentRun} becomes an
// AgentRun owned by the CustomRun (so it passes admission like any other),
// whose status and results are mirrored back for `when` expressions.
import { AGENT_API_VERSION, type AgentRun } from "../types/agent.ts";
import type { Condition } from "../types/kube.ts";
import type { CustomRun, Param } from "../types/tekton.ts";
import type { Logger } from "../log.ts";
import { GVR, Kube, describeError, statusCode } from "./kube.ts";

export function isAgentRunCustomRun(cr: CustomRun): boolean {
  const ref = cr.spec?.customRef;
  return ref?.apiVersion === AGENT_API_VERSION && ref.kind === "AgentRun";
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

function buildRun(cr: CustomRun, configRef: string, goal: string): AgentRun {
  const hints = asStrings(param(cr.spec?.params, "hints"));
  const timeout = cr.spec?.timeout;
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
      ...(typeof timeout === "string" && timeout !== "" ? { timeout } : {}),
    },
  };
}

function condition(status: Condition["status"], reason: string, message: string, previous?: Condition[]): Condition[] {
  const old = previous?.find((c) => c.type === "Succeeded");
  const changed = !old || old.status !== status || old.reason !== reason;
  return [{ type: "Succeeded", status, reason, message, lastTransitionTime: changed ? new Date().toISOString() : old.lastTransitionTime }];
}

export class CustomRunReconciler {
  private readonly kube: Kube;
  private readonly log: Logger;

  constructor(kube: Kube, log: Logger) {
    this.kube = kube;
    this.log = log;
  }

  async reconcile(cr: CustomRun): Promise<void> {
    if (!isAgentRunCustomRun(cr)) return;
    const ns = cr.metadata?.namespace ?? "";
    const name = cr.metadata?.name ?? "";
    const done = cr.status?.conditions?.some((c) => c.type === "Succeeded" && c.status !== "Unknown");
    if (done) return;
    let run = (await this.kube.get(GVR.agentRuns, ns, name)) as AgentRun | null;
    if (!run) {
      const desired = agentRunFor(cr);
      if ("error" in desired) {
        await this.kube.patchStatus(GVR.customRuns, ns, name, { conditions: condition("False", "InvalidParams", desired.error), completionTime: new Date().toISOString() });
        return;
      }
      try {
        run = (await this.kube.create(GVR.agentRuns, ns, desired.run)) as AgentRun;
        this.log.info("AgentRun created for CustomRun", { customRun: `${ns}/${name}` });
      } catch (err) {
        // Admission said no: the CustomRun fails with the webhook's words.
        if (statusCode(err) === 403 || statusCode(err) === 400 || statusCode(err) === 422) {
          await this.kube.patchStatus(GVR.customRuns, ns, name, {
            conditions: condition("False", "PolicyDenied", describeError(err)),
            startTime: cr.status?.startTime ?? new Date().toISOString(),
            completionTime: new Date().toISOString(),
          });
          return;
        }
        throw err;
      }
    }
    if (cr.spec?.status === "RunCancelled" && run.spec?.status !== "Cancelled") {
      await this.kube.patch(GVR.agentRuns, ns, name, { spec: { status: "Cancelled" } });
    }
    await this.mirror(cr, run);
  }

  /** Copies the run's outcome onto the CustomRun, as Tekton reads it. */
  async mirror(cr: CustomRun, run: AgentRun): Promise<void> {
    const c = run.status?.conditions?.find((x) => x.type === "Succeeded");
    const status = c?.status ?? "Unknown";
    const reason = c?.reason ?? "Pending";
    const message = c?.message ?? `AgentRun ${run.metadata?.name ?? ""} is ${run.status?.phase ?? "Pending"}`;
    const results = (run.status?.results ?? []).map((r) => ({ name: r.name, value: r.value }));
    const desired = {
      conditions: condition(status, reason, message, cr.status?.conditions),
      startTime: cr.status?.startTime ?? run.status?.startTime ?? new Date().toISOString(),
      ...(run.status?.completionTime ? { completionTime: run.status.completionTime } : {}),
      ...(results.length > 0 ? { results } : {}),
      observedGeneration: cr.metadata?.generation,
    };
    const current = cr.status?.conditions?.find((x) => x.type === "Succeeded");
    if (current?.status === status && current.reason === reason && current.message === message && (cr.status?.results?.length ?? 0) === results.length && cr.status?.startTime) return;
    await this.kube.patchStatus(GVR.customRuns, cr.metadata?.namespace ?? "", cr.metadata?.name ?? "", desired);
  }
}
