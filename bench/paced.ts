// Open-loop load at a steady rate, for the fixed-rate latency figure.
//
// Why not autocannon's `overallRate`: it is a per-second quota per
// connection (a counter reset by a 1 s interval), so every second starts with
// the whole second's requests sent back to back. Its p99 at "1,000/s" is the
// time to drain a 1,000-request burst, not latency under a steady 1,000/s.
//
// Here request i is issued when it is due (start + i / rate), whether or not
// earlier ones have answered (open loop: a slow server cannot slow the
// generator down and hide its own stalls), and its latency runs from the
// moment it was issued, including any wait for a free connection, to the
// last byte of the response, measured with hrtime.
import { Agent, request } from "node:https";

export interface PacedResult {
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, i)] ?? 0) * 1000) / 1000;
}

/**
 * The first `warmupSeconds` of requests open the connections (TLS handshakes)
 * and are not counted: a webhook's connections from the API server are
 * long-lived, so the steady state is what matters.
 */
export async function pacedLoad(port: number, path: string, bodies: readonly string[], rate: number, seconds: number, connections = 16, warmupSeconds = 1): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false });
  const skip = Math.round(rate * warmupSeconds);
  const total = skip + Math.round(rate * seconds);
  const latencies = new Float64Array(total);
  let sent = 0;
  let done = 0;
  let ok = 0;
  let failed = 0;
  const payloads = bodies.map((b) => Buffer.from(b));
  if (payloads.length === 0) throw new Error("pacedLoad: no request bodies");

  await new Promise<void>((resolve) => {
    const finish = (i: number, started: bigint, success: boolean): void => {
      latencies[i] = Number(process.hrtime.bigint() - started) / 1e6;
      if (success) ok++;
      else failed++;
      if (++done === total) resolve();
    };
    const issue = (i: number): void => {
      const body = payloads[i % payloads.length] as Buffer;
      const started = process.hrtime.bigint();
      const req = request(
        { host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json", "content-length": body.length } },
        (res) => {
          res.on("data", () => undefined);
          res.on("end", () => finish(i, started, res.statusCode === 200));
          res.on("error", () => finish(i, started, false));
        },
      );
      req.on("error", () => finish(i, started, false));
      req.end(body);
    };
    const start = process.hrtime.bigint();
    // A 1 ms timer cannot fire exactly on time; each tick issues everything
    // that has come due since the last one, so the rate holds on average.
    const tick = (): void => {
      const due = Math.min(total, Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * rate) + 1);
      while (sent < due) issue(sent++);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  agent.destroy();
  const sorted = latencies.slice(skip, done).sort();
  return { rate, sent: sent - skip, ok: ok - skip, failed, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), p999_ms: percentile(sorted, 99.9), max_ms: percentile(sorted, 100) };
}
