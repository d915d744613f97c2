// The open-loop generator behind bench/paced.ts, in a process of its own:
// forked by pacedLoad, told what to send over IPC, answers with the
// latencies' order statistics and its own lag.
//
// Why a process of its own: in the bench's process, the generator shared an
// event loop (and a heap, and its collections) with autocannon's leftovers
// and the bench's fixtures; a response that had arrived waited for that loop
// before it was timed.
//
// Why raw TLS sockets and not node:https's client: at 1,000 requests/s the
// https client cost this machine ~30% of a core and its event loop lagged
// up to 8 ms at the 99th percentile; on a two-core machine the generator's
// CPU is taken from the server under test, and its lag is added to every
// latency. Here each request is bytes prepared once (request line, headers,
// body) written to a keep-alive connection, and a response is read as far as
// HTTP/1.1 needs to find its end (Content-Length or chunked). The latency
// is the same interval: from when the request is issued, including any wait
// for a free connection, to the response's last byte.
//
// The generator measures itself too: how late each request was issued
// against its due time (its timer lag), and its event loop's delay. Both are
// reported with the latencies, so a tail that is the generator's is seen as
// the generator's.
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { TLSSocket } from "node:tls";
import { answerForked, onResponses, openConnection, percentile, postBytes } from "./raw-load.ts";

export interface GeneratorTask {
  port: number;
  path: string;
  bodies: string[];
  rate: number;
  seconds: number;
  connections: number;
  warmupSeconds: number;
}

export interface GeneratorResult {
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  /** how late requests were issued against their due time (the generator's timer lag) */
  issue_lag_p99_ms: number;
  issue_lag_max_ms: number;
  /** the generator's event-loop delay over the counted part (what a response may wait before it is timed) */
  loop_delay_p99_ms: number;
  loop_delay_max_ms: number;
}

interface Connection {
  socket: TLSSocket;
  /** the request in flight: its index and when it was issued */
  index: number;
  started: bigint;
}

export async function generate(task: GeneratorTask): Promise<GeneratorResult> {
  const { port, path, bodies, rate, seconds, connections, warmupSeconds } = task;
  if (bodies.length === 0) throw new Error("paced generator: no request bodies");
  const requests = bodies.map((body) => postBytes(port, path, body));
  const skip = Math.round(rate * warmupSeconds);
  const total = skip + Math.round(rate * seconds);
  const latencies = new Float64Array(total);
  const lags = new Float64Array(total);
  let sent = 0;
  let done = 0;
  let ok = 0;
  let failed = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });

  const sockets = await Promise.all(Array.from({ length: connections }, () => openConnection(port)));
  const idle: Connection[] = [];
  /** requests issued while every connection was busy: [index, issued at] */
  const queue: [number, bigint][] = [];
  let head = 0;

  await new Promise<void>((resolve, reject) => {
    const send = (c: Connection, index: number, started: bigint): void => {
      c.index = index;
      c.started = started;
      c.socket.write(requests[index % requests.length] as Buffer);
    };
    const finish = (c: Connection, success: boolean): void => {
      latencies[c.index] = Number(process.hrtime.bigint() - c.started) / 1e6;
      if (success) ok++;
      else failed++;
      c.index = -1;
      if (++done === total) {
        resolve();
        return;
      }
      if (head < queue.length) {
        const [index, started] = queue[head++] as [number, bigint];
        send(c, index, started);
      } else {
        idle.push(c);
      }
    };
    for (const socket of sockets) {
      const c: Connection = { socket, index: -1, started: 0n };
      onResponses(socket, (status) => { finish(c, status === 200); }, reject);
      socket.on("error", (err: Error) => reject(new Error(`paced generator: connection failed: ${err.message}`)));
      socket.on("close", () => {
        if (done < total) reject(new Error("paced generator: the server closed a connection"));
      });
      idle.push(c);
    }
    const start = process.hrtime.bigint();
    const nsPerRequest = 1e9 / rate;
    // A 1 ms timer cannot fire exactly on time; each tick issues everything
    // that has come due since the last one, so the rate holds on average.
    const tick = (): void => {
      const now = process.hrtime.bigint();
      const elapsed = Number(now - start);
      const due = Math.min(total, Math.floor(elapsed / nsPerRequest) + 1);
      while (sent < due) {
        const index = sent++;
        lags[index] = (elapsed - index * nsPerRequest) / 1e6;
        if (index === skip) loop.enable();
        // The most recently idle connection first, as the API server's Go
        // transport (and node:https's agent) picks one.
        const c = idle.pop();
        if (c) send(c, index, now);
        else queue.push([index, now]);
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  loop.disable();
  for (const s of sockets) s.destroy();
  const sorted = latencies.slice(skip, done).sort();
  const lagSorted = lags.slice(skip, done).sort();
  return {
    rate,
    sent: sent - skip,
    ok: ok - skip,
    failed,
    p50_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
    p999_ms: percentile(sorted, 99.9),
    max_ms: percentile(sorted, 100),
    issue_lag_p99_ms: percentile(lagSorted, 99),
    issue_lag_max_ms: percentile(lagSorted, 100),
    // The histogram counts whole timer periods (1 ms); the delay is what is over it.
    loop_delay_p99_ms: Math.round(Math.max(0, loop.percentile(99) / 1e6 - 1) * 1000) / 1000,
    loop_delay_max_ms: Math.round(Math.max(0, loop.max / 1e6 - 1) * 1000) / 1000,
  };
}

// Forked by pacedLoad.
answerForked(generate);
