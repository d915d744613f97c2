// The soak's real AgentRuns: one created every so often (admitted and
// stamped by the gateway), acted on by whichever controller replica leads,
// its agent the A2A stand-in's scripted one; kagent's controller is played
// here (an Agent is marked Ready once it exists). A run that ends in
// anything but Succeeded, or has not ended when the soak drains, is an
// unexplained failure. Finished runs are deleted, as a TTL would: objects
// piling up in the cluster would grow every process that caches them, and
// the soak would measure that instead of a leak.
import * as k8s from "@kubernetes/client-node";
import type { AgentRun } from "../../src/types/agent.ts";
import { causeOf, type FailureLedger } from "./ledger.ts";
import { SOAK_CONFIG } from "./traffic.ts";

const RUNS = { group: "agent.tekton.dev", version: "v1alpha1", plural: "agentruns" } as const;
const AGENTS = { group: "kagent.dev", version: "v1alpha2", plural: "agents" } as const;

const message = (err: unknown): string => {
  if (err instanceof k8s.ApiException) {
    const raw: unknown = err.body;
    return `HTTP ${String(err.code)}: ${typeof raw === "string" ? raw : JSON.stringify(raw)}`;
  }
  return err instanceof Error ? err.message : String(err);
};

interface Tracked {
  createdAt: number;
  ended: boolean;
}

export class RunDriver {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly namespace: string;
  private readonly ledger: FailureLedger;
  private readonly runs = new Map<string, Tracked>();
  private timers: NodeJS.Timeout[] = [];
  private creating = false;
  private polling = false;
  private next = 0;
  started = 0;
  succeeded = 0;
  /** ended otherwise than Succeeded */
  failed = 0;
  /** create → Succeeded, ms */
  durations: number[] = [];

  constructor(custom: k8s.CustomObjectsApi, namespace: string, ledger: FailureLedger) {
    this.custom = custom;
    this.namespace = namespace;
    this.ledger = ledger;
  }

  /** Creates a run every `everyMs`, and follows runs and Agents. */
  start(everyMs: number): void {
    this.creating = true;
    this.polling = true;
    this.timers.push(setInterval(() => { if (this.creating) void this.create(); }, everyMs));
    const poll = (what: () => Promise<void>, ms: number): void => {
      const loop = (): void => {
        if (!this.polling) return;
        void what().finally(() => { if (this.polling) this.timers.push(setTimeout(loop, ms)); });
      };
      loop();
    };
    poll(() => this.markAgentsReady(), 300);
    poll(() => this.follow(), 500);
  }

  get inFlight(): number {
    return [...this.runs.values()].filter((r) => !r.ended).length;
  }

  /** Stops creating; waits until every run created has ended or `timeoutMs` passed; the rest are unexplained failures. */
  async drain(timeoutMs: number): Promise<void> {
    this.creating = false;
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    for (const [name, r] of this.runs) {
      if (!r.ended) this.ledger.unexplained(`a run did not end within the ${String(timeoutMs / 1000)} s drain`, name);
    }
  }

  stop(): void {
    this.creating = false;
    this.polling = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  private async create(): Promise<void> {
    const name = `soak-run-${String(this.next++)}`;
    const run = { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: this.namespace }, spec: { configRef: { name: SOAK_CONFIG }, goal: `goal of ${name}` } };
    try {
      this.runs.set(name, { createdAt: Date.now(), ended: false });
      await this.custom.createNamespacedCustomObject({ ...RUNS, namespace: this.namespace, body: run });
      this.started++;
    } catch (err) {
      this.runs.delete(name);
      this.ledger.unexplained(`creating a run failed: ${causeOf(message(err))}`, message(err));
    }
  }

  private async follow(): Promise<void> {
    let list: { items: AgentRun[] };
    try {
      list = (await this.custom.listNamespacedCustomObject({ ...RUNS, namespace: this.namespace })) as { items: AgentRun[] };
    } catch {
      return; // the next poll asks again; a stuck list shows as runs that do not end
    }
    for (const run of list.items) {
      const name = run.metadata?.name ?? "";
      const tracked = this.runs.get(name);
      const phase = run.status?.phase;
      if (!tracked || tracked.ended || (phase !== "Succeeded" && phase !== "Failed")) continue;
      tracked.ended = true;
      const condition = run.status?.conditions?.find((c) => c.type === "Succeeded");
      if (phase === "Succeeded") {
        this.succeeded++;
        this.durations.push(Date.now() - tracked.createdAt);
      } else {
        this.failed++;
        this.ledger.unexplained(`a run ended ${condition?.reason ?? phase}: ${causeOf(condition?.message ?? "")}`, `${name}: ${condition?.message ?? ""}`);
      }
      void this.custom.deleteNamespacedCustomObject({ ...RUNS, namespace: this.namespace, name, propagationPolicy: "Background" }).catch((err: unknown) => {
        if (!(err instanceof k8s.ApiException && err.code === 404)) this.ledger.unexplained(`deleting a finished run failed: ${causeOf(message(err))}`, message(err));
      });
    }
  }

  /** kagent's controller, played: an Agent is Ready once it exists. */
  private async markAgentsReady(): Promise<void> {
    let list: { items: { metadata?: { name?: string }; status?: { conditions?: unknown[] } }[] };
    try {
      list = (await this.custom.listNamespacedCustomObject({ ...AGENTS, namespace: this.namespace })) as typeof list;
    } catch {
      return;
    }
    await Promise.all(list.items.filter((a) => (a.status?.conditions?.length ?? 0) === 0 && a.metadata?.name).map((a) =>
      this.custom
        .patchNamespacedCustomObjectStatus(
          { ...AGENTS, namespace: this.namespace, name: a.metadata?.name ?? "", body: { status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }] } } },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        )
        .catch(() => undefined), // gone meanwhile, or marked by the last poll: the next poll sees
    ));
  }
}
