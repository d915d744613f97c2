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
// last byte of the response, measured with hrtime. The generator runs in a
// process of its own (paced-generator.ts says why, and how it reports its
// own lag).
import { fileURLToPath } from "node:url";
import type { GeneratorResult, GeneratorTask } from "./paced-generator.ts";
import { runForked } from "./raw-load.ts";

export type PacedResult = GeneratorResult;

const GENERATOR = fileURLToPath(new URL("./paced-generator.ts", import.meta.url));

/**
 * The first `warmupSeconds` of requests open the connections (TLS handshakes)
 * and are not counted: a webhook's connections from the API server are
 * long-lived, so the steady state is what matters.
 */
export function pacedLoad(port: number, path: string, bodies: readonly string[], rate: number, seconds: number, connections = 16, warmupSeconds = 1): Promise<PacedResult> {
  const task: GeneratorTask = { port, path, bodies: [...bodies], rate, seconds, connections, warmupSeconds };
  return runForked<PacedResult>(GENERATOR, "paced generator", task);
}
