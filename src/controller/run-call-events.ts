// What the run-time gateway's ledger tells the controller while a run acts:
// an Event per traced call, in order (`kubectl describe`, `agentgate logs
// -f`), and the budget spent.
import type { LedgerState } from "../calls/ledger.ts";
import type { Logger } from "../log.ts";
import { AGENT_API_VERSION } from "../types/agent.ts";
import type { KubeObject } from "../types/kube.ts";
import { describeError, type Kube } from "./kube.ts";
import { callEvent } from "./run-ledger.ts";

export class CallAnnouncer {
  /** run uid → the last traced call an Event was written for */
  private readonly announced = new Map<string, number>();
  private readonly startedAt = Date.now();
  private announcements: Promise<void> = Promise.resolve();
  private readonly kube: Kube;
  private readonly log: Logger;

  constructor(kube: Kube, log: Logger) {
    this.kube = kube;
    this.log = log;
  }

  /**
   * A ledger first seen after this controller started announces only calls
   * made since; the earlier ones are in the trace the provenance carries.
   */
  announce(state: LedgerState): void {
    const uid = state.run.uid;
    const last = this.announced.get(uid);
    const fresh = state.trace.filter((e) => (last === undefined ? Date.parse(e.at) >= this.startedAt : e.seq > last));
    const newest = state.trace.at(-1)?.seq;
    if (newest !== undefined) {
      // Kept past the run's end (a call may land as it ends); the oldest runs are forgotten first.
      if (last === undefined && this.announced.size >= 10_000) this.announced.delete(this.announced.keys().next().value ?? "");
      this.announced.set(uid, Math.max(last ?? 0, newest));
    }
    if (fresh.length === 0) return;
    const involved: KubeObject = { apiVersion: AGENT_API_VERSION, kind: "AgentRun", metadata: { name: state.run.name, namespace: state.run.namespace, uid } };
    this.announcements = this.announcements.then(async () => {
      for (const entry of fresh) {
        const e = callEvent(entry, state);
        await this.kube.event(involved, e.type, e.reason, e.message).catch((err: unknown) => { this.log.warn("cannot write a call's Event", { run: `${state.run.namespace}/${state.run.name}`, error: describeError(err) }); });
      }
    });
  }
}
