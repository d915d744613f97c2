// What `agentgate logs` prints of a run (README, "Following a run"): its
// phase changes, the Events agentgate writes on it (progress, approvals it
// waits for, each call through the run-time gateway), and once it ended the
// signed trace. Pure: logs.ts reads and watches, this says it.
import type * as k8s from "@kubernetes/client-node";
import { callEvent } from "../controller/run-ledger.ts";
import type { CallsRecord } from "../provenance/facts.ts";
import { isRecord } from "../types/kube.ts";
import type { AgentRun } from "../types/agent.ts";

export interface LogLine {
  /** RFC 3339 */
  time: string;
  /** "phase": the run's phase changed; "event": an Event on the run; "agent": from kagent's task (messages, tool calls, approvals, tokens); "call": a call from the signed trace; "end": the run's outcome */
  kind: "phase" | "event" | "agent" | "call" | "end";
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

const asTime = (v: unknown): string => (v instanceof Date ? v.toISOString() : typeof v === "string" ? v : "");

export function eventLine(ev: k8s.CoreV1Event): LogLine {
  const time = asTime(ev.eventTime) || asTime(ev.lastTimestamp) || asTime(ev.firstTimestamp) || asTime(ev.metadata.creationTimestamp);
  return { time, kind: "event", type: ev.type === "Warning" ? "Warning" : "Normal", reason: ev.reason ?? "", message: ev.message ?? "" };
}

const succeeded = (run: AgentRun) => run.status?.conditions?.find((c) => c.type === "Succeeded");

/** The run's phase now, as a line; undefined before the controller gave it one. */
export function phaseLine(run: AgentRun, now: string): LogLine | undefined {
  const phase = run.status?.phase;
  if (phase === undefined) return undefined;
  const c = succeeded(run);
  return { time: c?.lastTransitionTime ?? now, kind: "phase", type: phase === "Failed" ? "Warning" : "Normal", reason: phase, message: c ? `${c.reason}: ${c.message}` : phase };
}

/**
 * Following a run, a phase change read from its status is printed only when
 * the controller's own Event for it (reason: the phase) has not come by the
 * next poll, and then at the time it was seen. That Event says what
 * happened, when it happened; the Succeeded condition keeps its transition
 * time while its reason stays Running, so its time can be an earlier
 * phase's, and printing both showed every change twice.
 */
export function unannouncedPhase(change: { phase: string; seenAt: string }, run: AgentRun, printedSince: readonly LogLine[]): LogLine | undefined {
  if (printedSince.some((l) => l.kind === "event" && l.reason === change.phase)) return undefined;
  const line = phaseLine(run, change.seenAt);
  return line && line.reason === change.phase ? { ...line, time: change.seenAt } : undefined;
}

export const isOver = (run: AgentRun): boolean => run.status?.phase === "Succeeded" || run.status?.phase === "Failed";

/** How the run ended, with its usage. */
export function endLine(run: AgentRun): LogLine {
  const c = succeeded(run);
  const u = run.status?.usage;
  const usage = u ? `; ${String(u.totalTokens)} tokens (${String(u.promptTokens)} prompt, ${String(u.completionTokens)} completion), ${String(u.toolCalls)} tool calls` : "";
  return { time: run.status?.completionTime ?? c?.lastTransitionTime ?? "", kind: "end", type: run.status?.phase === "Succeeded" ? "Normal" : "Warning", reason: c?.reason ?? run.status?.phase ?? "", message: `${c?.message ?? ""}${usage}` };
}

/**
 * The calls the run-time gateway traced, from the run's signed provenance
 * (its `calls` byproduct); empty when it has none. Read for a run whose
 * call Events are gone (Events expire) or were never written.
 */
export function traceLines(run: AgentRun): LogLine[] {
  const envelope = run.status?.provenance;
  if (!envelope) return [];
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8"));
  } catch {
    return [];
  }
  return statementTrace(statement)?.lines ?? [];
}

/** The `calls` byproduct of a provenance statement: its counts and one line per traced call; undefined when it has none. */
export function statementTrace(statement: unknown): { record: CallsRecord; lines: LogLine[] } | undefined {
  const predicate = isRecord(statement) && isRecord(statement.predicate) ? statement.predicate : {};
  const details = isRecord(predicate.runDetails) ? predicate.runDetails : {};
  const byproducts = Array.isArray(details.byproducts) ? details.byproducts : [];
  const calls: unknown = byproducts.find((b) => isRecord(b) && b.name === "calls");
  if (!isRecord(calls) || typeof calls.content !== "string") return undefined;
  let record: CallsRecord;
  try {
    record = JSON.parse(Buffer.from(calls.content, "base64").toString("utf8")) as CallsRecord;
  } catch {
    return undefined;
  }
  if (!Array.isArray(record.trace)) return undefined;
  const lines = record.trace.map((entry): LogLine => {
    const e = callEvent(entry, record);
    return { time: entry.at, kind: "call", type: e.type, reason: e.reason, message: e.message };
  });
  return { record, lines };
}

/** Control characters (a terminal's escape sequences among them) in what an agent or a namespace's writer chose, shown harmless. */
// eslint-disable-next-line no-control-regex -- matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function renderText(line: LogLine): string {
  return `${line.time.replace(/\.\d+Z$/, "Z")}  ${line.reason.replace(CONTROL, "?").padEnd(16)} ${line.message.replace(CONTROL, "?")}`;
}

export function renderJson(line: LogLine): string {
  return JSON.stringify(line);
}
