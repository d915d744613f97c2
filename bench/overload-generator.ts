// The open-loop generator behind bench/overload.ts, in a process of its own
// (forked; task in over IPC, result out), as bench/paced-generator.ts is and
// for the same reasons (raw TLS keep-alive connections, latency from issue
// to last byte). What it adds: a rate schedule of phases run back to back
// on the same connections (so the drop from overload to calm is seen as the
// API server would see it, with no pause in between), answers told apart
// (judged, refused [gateway-overloaded], failed), and the API server's
// webhook timeout: a request the gateway answers later than that counts as
// late (the API server had failed it already), and one still waiting for a
// free connection when it is that old is given up unsent.
//
// Why many connections: under load the API server opens more connections to
// a webhook rather than queueing on few (Go's transport has no per-host
// limit), so what waits is at the gateway, where a bound can act on it.
import type { TLSSocket } from "node:tls";
import { answerForked, onResponses, openConnection, percentile, postBytes } from "./raw-load.ts";

export interface OverloadPhase {
  name: string;
  rate: number;
  seconds: number;
}

export interface OverloadTask {
  kind: "overload";
  port: number;
  path: string;
  bodies: string[];
  connections: number;
  phases: OverloadPhase[];
  /** a refusal's answer holds this */
  marker: string;
  /** the API server's webhook timeout */
  timeoutMs: number;
}

export interface LatencyStats {
  count: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface PhaseResult {
  name: string;
  rate: number;
  /** requests whose due time fell in the phase */
  sent: number;
  /** judged within the timeout */
  answered: LatencyStats;
  /** judged after the timeout: failed calls for the API server */
  late: number;
  refused: LatencyStats;
  /** non-200 answers */
  failed: number;
  /** never sent: no connection was free before the timeout */
  gaveUp: number;
  /** the phase's first second alone: how soon the gateway is back */
  firstSecond: { answered: LatencyStats; refused: number };
  /** how late requests were issued against their due time (the generator's own lag) */
  issue_lag_p99_ms: number;
}

export interface OverloadResult {
  phases: PhaseResult[];
  /** per second of the run, by due time: judged in time, refused, other outcomes, and the judged p99; and the answers the gateway gave in that second (any outcome, by when it answered) */
  timeline: { second: number; phase: string; answered: number; refused: number; other: number; p99_ms: number; finished: number }[];
}

type Outcome = "answered" | "late" | "refused" | "failed" | "gaveUp";

function stats(latencies: number[]): LatencyStats {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { count: sorted.length, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), max_ms: percentile(sorted, 100) };
}

interface Connection {
  socket: TLSSocket;
  index: number;
}

export async function generateOverload(task: OverloadTask): Promise<OverloadResult> {
  const { port, path, bodies, connections, phases, timeoutMs } = task;
  if (bodies.length === 0) throw new Error("overload generator: no request bodies");
  const marker = Buffer.from(task.marker);
  const requests = bodies.map((body) => postBytes(port, path, body));
  // Where each phase starts, in requests and in nanoseconds from the start.
  const starts: { index: number; ns: number }[] = [];
  let total = 0;
  let ns = 0;
  for (const p of phases) {
    starts.push({ index: total, ns });
    total += Math.round(p.rate * p.seconds);
    ns += p.seconds * 1e9;
  }
  const phaseOf = (index: number): number => {
    let i = 0;
    while (i + 1 < starts.length && (starts[i + 1]?.index ?? Infinity) <= index) i++;
    return i;
  };
  /** when request i is due, in ns from the start */
  const dueNs = (index: number): number => {
    const i = phaseOf(index);
    const start = starts[i] ?? { index: 0, ns: 0 };
    return start.ns + ((index - start.index) / (phases[i]?.rate ?? 1)) * 1e9;
  };

  const issued = new Float64Array(total);
  const latency = new Float64Array(total);
  const lag = new Float64Array(total);
  const outcome: Outcome[] = new Array<Outcome>(total);
  /** when each was answered (or given up), ns from the start */
  const ended = new Float64Array(total);
  let sent = 0;
  let done = 0;

  const sockets = await Promise.all(Array.from({ length: connections }, () => openConnection(port)));
  const idle: Connection[] = [];
  const queue: number[] = [];
  let head = 0;
  const begin = process.hrtime.bigint();
  const now = (): number => Number(process.hrtime.bigint() - begin);

  await new Promise<void>((resolve, reject) => {
    const finish = (index: number, what: Outcome, at: number): void => {
      latency[index] = (at - (issued[index] ?? 0)) / 1e6;
      ended[index] = at;
      outcome[index] = what;
      if (++done === total) resolve();
    };
    /** The next queued request still worth sending; those the API server gave up on are counted and dropped. */
    const nextQueued = (at: number): number | undefined => {
      while (head < queue.length) {
        const index = queue[head++] as number;
        if (at - (issued[index] ?? 0) < timeoutMs * 1e6) return index;
        finish(index, "gaveUp", at);
      }
      return undefined;
    };
    const send = (c: Connection, index: number): void => {
      c.index = index;
      c.socket.write(requests[index % requests.length] as Buffer);
    };
    for (const socket of sockets) {
      const c: Connection = { socket, index: -1 };
      onResponses(socket, (status, response) => {
        const at = now();
        const index = c.index;
        const refused = response.includes(marker);
        c.index = -1;
        const late = at - (issued[index] ?? 0) >= timeoutMs * 1e6;
        finish(index, status !== 200 ? "failed" : refused ? "refused" : late ? "late" : "answered", at);
        const next = nextQueued(at);
        if (next !== undefined) send(c, next);
        else idle.push(c);
      }, reject);
      socket.on("error", (err: Error) => reject(new Error(`overload generator: connection failed: ${err.message}`)));
      socket.on("close", () => {
        if (done < total) reject(new Error("overload generator: the server closed a connection"));
      });
      idle.push(c);
    }
    const tick = (): void => {
      const at = now();
      while (sent < total && dueNs(sent) <= at) {
        const index = sent++;
        issued[index] = at;
        lag[index] = (at - dueNs(index)) / 1e6;
        const c = idle.pop();
        if (c) send(c, index);
        else queue.push(index);
      }
      // Give up on what has waited too long for a connection even while none frees up.
      while (head < queue.length && at - (issued[queue[head] as number] ?? 0) >= timeoutMs * 1e6) finish(queue[head++] as number, "gaveUp", at);
      if (done < total) setTimeout(tick, 1);
    };
    tick();
  });
  for (const s of sockets) s.destroy();

  const results: PhaseResult[] = phases.map((p, i) => {
    const from = starts[i]?.index ?? 0;
    const to = starts[i + 1]?.index ?? total;
    const firstTo = Math.min(to, from + Math.round(p.rate));
    const pick = (what: Outcome, end = to): number[] => {
      const out: number[] = [];
      for (let j = from; j < end; j++) if (outcome[j] === what) out.push(latency[j] ?? 0);
      return out;
    };
    const lags: number[] = [];
    for (let j = from; j < to; j++) lags.push(lag[j] ?? 0);
    return {
      name: p.name,
      rate: p.rate,
      sent: to - from,
      answered: stats(pick("answered")),
      late: pick("late").length,
      refused: stats(pick("refused")),
      failed: pick("failed").length,
      gaveUp: pick("gaveUp").length,
      firstSecond: { answered: stats(pick("answered", firstTo)), refused: pick("refused", firstTo).length },
      issue_lag_p99_ms: stats(lags).p99_ms,
    };
  });
  const timeline: OverloadResult["timeline"] = [];
  const judged: number[][] = [];
  for (let j = 0; j < total; j++) {
    const second = Math.floor(dueNs(j) / 1e9);
    let row = timeline[second];
    if (!row) {
      row = { second, phase: phases[phaseOf(j)]?.name ?? "", answered: 0, refused: 0, other: 0, p99_ms: 0, finished: 0 };
      timeline[second] = row;
      judged[second] = [];
    }
    if (outcome[j] === "answered") {
      row.answered++;
      judged[second]?.push(latency[j] ?? 0);
    } else if (outcome[j] === "refused") row.refused++;
    else row.other++;
  }
  for (const row of timeline) row.p99_ms = stats(judged[row.second] ?? []).p99_ms;
  for (let j = 0; j < total; j++) {
    const row = timeline[Math.floor((ended[j] ?? 0) / 1e9)];
    if (row && outcome[j] !== "gaveUp") row.finished++;
  }
  return { phases: results, timeline };
}

/** Closed loop: each connection sends its next review as soon as the last is answered. */
export interface SaturateTask {
  kind: "saturate";
  port: number;
  path: string;
  bodies: string[];
  connections: number;
  seconds: number;
}

export interface SaturateResult {
  /** answers per second, the median of the run's whole seconds */
  rps: number;
  latency: LatencyStats;
  /** answers that were not 200 */
  failed: number;
}

export async function saturate(task: SaturateTask): Promise<SaturateResult> {
  const requests = task.bodies.map((body) => postBytes(task.port, task.path, body));
  const sockets = await Promise.all(Array.from({ length: task.connections }, () => openConnection(task.port)));
  const perSecond: number[] = [];
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const begin = process.hrtime.bigint();
  const end = begin + BigInt(task.seconds * 1e9);
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve, reject) => {
    let started = 0n;
    const send = (): void => {
      started = process.hrtime.bigint();
      if (started >= end) {
        resolve();
        return;
      }
      socket.write(requests[next++ % requests.length] as Buffer);
    };
    onResponses(socket, (status) => {
      const at = process.hrtime.bigint();
      const second = Number((at - begin) / 1_000_000_000n);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
      latencies.push(Number(at - started) / 1e6);
      if (status !== 200) failed++;
      send();
    }, reject);
    socket.on("error", reject);
    send();
  })));
  for (const s of sockets) s.destroy();
  const whole = Array.from({ length: task.seconds }, (_, i) => perSecond[i] ?? 0).sort((a, b) => a - b);
  return { rps: whole[Math.floor(whole.length / 2)] ?? 0, latency: stats(latencies), failed };
}

// Forked by bench/overload.ts.
answerForked((task: OverloadTask | SaturateTask) => (task.kind === "saturate" ? saturate(task) : generateOverload(task)));
