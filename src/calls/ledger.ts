// Each run's calls through the run-time gateway, kept where every gateway
// replica sees them (docs/run-time-gateway.md, "Budgets across replicas"):
// tokens used, tokens reserved by model calls in flight, and the trace the
// provenance will carry. A model call reserves what it may still spend
// before it starts and settles what it spent when it ends, each step a
// compare-and-swap on one object, so replicas together never grant more
// than the budget; what a call may overshoot is bounded by its own prompt.
import { canonicalJson, sha256 } from "../signing/canonical.ts";
import { CallRefused } from "./caller.ts";

/** At most this many calls are kept in the trace; later ones are counted, not kept. */
export const TRACE_LIMIT = 500;
/**
 * A reason longer than this is cut in the trace: reasons can quote the
 * agent's own arguments, and the whole ledger must fit one ConfigMap
 * (1 MiB) with TRACE_LIMIT entries.
 */
export const REASON_LIMIT = 500;

export interface TokenCount {
  prompt: number;
  completion: number;
  total: number;
}

export interface TraceEntry {
  /** 1, 2, …: the order calls were recorded in, across replicas */
  seq: number;
  at: string;
  kind: "tool" | "model";
  /** tool calls: "<namespace>/<name>" of the tool server, and the tool */
  server?: string;
  tool?: string;
  /** model calls: the provider API and the model asked for */
  api?: string;
  model?: string;
  /** sha256 of the canonical JSON of the call's arguments (tool) or request body (model) */
  inputSha256: string;
  /** sha256 of the result as the agent received it; absent when nothing came back */
  outputSha256?: string;
  verdict: "allowed" | "denied" | "failed";
  /** why it was denied or failed: the message the agent got */
  reason?: string;
  tokens?: TokenCount;
  ms: number;
}

export type NewTraceEntry = Omit<TraceEntry, "seq">;

export interface LedgerState {
  run: { namespace: string; name: string; uid: string };
  budget: number;
  used: number;
  reserved: number;
  /** calls recorded, the trace's and the dropped ones */
  calls: number;
  /** of those, tool calls (allowed, denied or failed) */
  toolCalls?: number;
  /** prompt and completion tokens of every model call, as the provider counted them */
  prompt?: number;
  completion?: number;
  /** the run ended: no call is started any more (calls in flight still settle) */
  closed?: boolean;
  /** tool calls begun and not yet recorded: the run's end waits for them */
  inFlight?: number;
  trace: TraceEntry[];
}

export function digestOf(value: unknown): string {
  return sha256(typeof value === "string" ? value : canonicalJson(value ?? null));
}

export function emptyLedger(run: LedgerState["run"], budget: number): LedgerState {
  return { run, budget, used: 0, reserved: 0, calls: 0, trace: [] };
}

/** What a model call may spend, and the state with it reserved; refused when nothing is left. */
export function reserveStep(state: LedgerState, want: number): { state: LedgerState; grant: number } {
  refuseClosed(state);
  // A budget of 0 or less is spent, never unlimited (as the controller reads a stamp: run-guards.ts).
  const left = state.budget - state.used - state.reserved;
  if (left <= 0) {
    const inFlight = state.reserved > 0 ? ` (${state.reserved} reserved by calls in flight)` : "";
    throw new CallRefused(429, `the run's token budget of ${state.budget} is spent: ${state.used} tokens used${inFlight}; no further model call is started`);
  }
  const grant = Math.max(1, Math.min(Math.floor(want), left));
  return { state: { ...state, reserved: state.reserved + grant }, grant };
}

export function settleStep(state: LedgerState, grant: number, spent: number): LedgerState {
  return { ...state, reserved: Math.max(0, state.reserved - grant), used: state.used + Math.max(0, Math.floor(spent)) };
}

/** A closed ledger's run has ended: nothing new is started in its name. */
export function refuseClosed(state: LedgerState): void {
  if (state.closed === true) throw new CallRefused(409, "the run has ended: agentgate takes no further call in its name");
}

export function closeStep(state: LedgerState): LedgerState {
  return { ...state, closed: true };
}

/** A tool call about to be judged: refused once the run ended, counted in flight until it is recorded. */
export function beginStep(state: LedgerState): LedgerState {
  refuseClosed(state);
  return { ...state, inFlight: (state.inFlight ?? 0) + 1 };
}

export function endStep(state: LedgerState): LedgerState {
  return { ...state, inFlight: Math.max(0, (state.inFlight ?? 0) - 1) };
}

/**
 * Names in a trace entry come from the agent (the tool it asks for) or a
 * spec; each is cut here, so no entry can be large enough to fill the
 * ledger's ConfigMap (TRACE_LIMIT entries of at most a few KiB).
 */
export const NAME_LIMIT = 200;
const cut = (v: string | undefined, limit: number): string | undefined => (v !== undefined && v.length > limit ? `${v.slice(0, limit)}…` : v);

export function appendStep(state: LedgerState, entry: NewTraceEntry): LedgerState {
  const calls = state.calls + 1;
  const kept: TraceEntry = { seq: calls, ...entry };
  for (const k of ["server", "tool", "api", "model"] as const) {
    const v = cut(kept[k], NAME_LIMIT);
    if (v !== undefined) kept[k] = v;
  }
  const reason = cut(entry.reason, REASON_LIMIT);
  if (reason !== undefined) kept.reason = reason;
  const trace = state.trace.length < TRACE_LIMIT ? [...state.trace, kept] : state.trace;
  return {
    ...state,
    calls,
    toolCalls: (state.toolCalls ?? 0) + (entry.kind === "tool" ? 1 : 0),
    prompt: (state.prompt ?? 0) + (entry.tokens?.prompt ?? 0),
    completion: (state.completion ?? 0) + (entry.tokens?.completion ?? 0),
    trace,
  };
}

/** One read-modify-write of a run's ledger; `change` may throw to refuse, and may run more than once. */
export type LedgerUpdate = (current: LedgerState) => LedgerState;

/**
 * A ledger the gateway finds absent: the controller opens one for every run
 * it sends through the gateway, before the agent starts, and deletes it only
 * after the run ended. The gateway never starts a count from zero.
 */
export class NoLedger extends CallRefused {
  constructor(uid: string) {
    super(409, `run ${uid} has no ledger at agentgate: it was not started through agentgate's controller with the run-time gateway, or it has ended`);
    this.name = "NoLedger";
  }
}

export const noLedger = (uid: string): NoLedger => new NoLedger(uid);

export interface LedgerStore {
  /** Creates the run's ledger unless it exists (the controller, before the agent starts). */
  open(state: LedgerState): Promise<void>;
  /** Throws noLedger when there is none. */
  update(uid: string, change: LedgerUpdate): Promise<LedgerState>;
  read(uid: string): Promise<LedgerState | undefined>;
  remove(uid: string): Promise<void>;
}

/** One process's ledger, for tests of what is built on the store (the gateway keeps ledgers in ConfigMaps: ledger-configmap.ts). */
export class MemoryLedgerStore implements LedgerStore {
  private readonly states = new Map<string, LedgerState>();

  open(state: LedgerState): Promise<void> {
    if (!this.states.has(state.run.uid)) this.states.set(state.run.uid, state);
    return Promise.resolve();
  }

  update(uid: string, change: LedgerUpdate): Promise<LedgerState> {
    try {
      const current = this.states.get(uid);
      if (!current) throw noLedger(uid);
      const next = change(current);
      this.states.set(uid, next);
      return Promise.resolve(next);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  read(uid: string): Promise<LedgerState | undefined> {
    return Promise.resolve(this.states.get(uid));
  }

  remove(uid: string): Promise<void> {
    this.states.delete(uid);
    return Promise.resolve();
  }
}

export interface RunRef {
  namespace: string;
  name: string;
  uid: string;
  budget: number;
}

/** The gateway's operations on a run's ledger. */
export class Ledger {
  readonly store: LedgerStore;

  constructor(store: LedgerStore) {
    this.store = store;
  }

  /**
   * What a model call may spend, reserved. A call refused for the budget is
   * recorded as `refused` says in the same write as the check, so the trace
   * the run's end reads holds it whenever the refusal came first; then the
   * refusal is thrown.
   */
  async reserve(run: RunRef, want: number, refused?: (reason: string) => NewTraceEntry): Promise<number> {
    let grant = 0;
    let refusal: CallRefused | undefined;
    await this.store.update(run.uid, (current) => {
      refusal = undefined;
      try {
        const step = reserveStep(current, want);
        grant = step.grant;
        return step.state;
      } catch (err) {
        if (!(err instanceof CallRefused) || err.status !== 429 || !refused) throw err;
        refusal = err;
        return appendStep(current, refused(err.message));
      }
    });
    if (refusal) throw refusal;
    return grant;
  }

  /** Settles a reservation and records the call in one write; a call in flight settles even on a closed ledger. */
  async settle(run: RunRef, grant: number, spent: number, entry: NewTraceEntry): Promise<LedgerState> {
    return this.store.update(run.uid, (current) => appendStep(settleStep(current, grant, spent), entry));
  }

  /**
   * Records a call that reserved nothing (a tool call, a refusal), ending
   * it in flight when it was begun. A tool call begun before the ledger
   * closed is recorded: the run's end waited for it.
   */
  async record(run: RunRef, entry: NewTraceEntry, begun = false): Promise<LedgerState> {
    return this.store.update(run.uid, (current) => appendStep(begun ? endStep(current) : current, entry));
  }

  /**
   * Before a tool call is judged: refused when the run has no open ledger,
   * else counted in flight; the state it returns is the ledger as it stands
   * (a compare-and-swap, never a replica's memory), whose latest calls the
   * policy is given.
   */
  async begin(run: RunRef): Promise<LedgerState> {
    return this.store.update(run.uid, beginStep);
  }

  async read(uid: string): Promise<LedgerState | undefined> {
    return this.store.read(uid);
  }
}
