// The gateway of bench/watch-cache-scale.ts, in a process of its own so that
// its heap and RSS are the gateway's alone (the benchmark's 50,000 generated
// objects and its clients would otherwise count). Run with --expose-gc:
//
//   node --expose-gc bench/watch-cache-gateway.ts KUBECONFIG
//
// It starts the gateway in cluster mode (startGateway, as `agentgate serve`
// does), tells its parent {port} over IPC, and answers each "memory" message
// with its memory after two full collections.
import { readFile } from "node:fs/promises";
import { startGateway } from "../src/cli/serve.ts";
import { logger } from "../src/log.ts";

export interface GatewayMemory {
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  rssMb: number;
  /** VmHWM: the highest RSS so far, e.g. while the caches' first lists were parsed */
  peakRssMb: number;
}

export type ChildMessage = { type: "up"; port: number } | { type: "memory"; memory: GatewayMemory } | { type: "failed"; error: string };

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

async function memory(): Promise<GatewayMemory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  // Twice: the first collection's finalizers can free more.
  gc();
  gc();
  const m = process.memoryUsage();
  const status = await readFile("/proc/self/status", "utf8");
  return { heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), rssMb: mb(m.rss), peakRssMb: Math.round((Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024) * 10) / 10 };
}

const send = (m: ChildMessage) => process.send?.(m);

const kubeconfig = process.argv[2];
if (!kubeconfig || !process.send) {
  process.stderr.write("usage: node --expose-gc bench/watch-cache-gateway.ts KUBECONFIG (started by bench/watch-cache-scale.ts, with an IPC channel)\n");
  process.exit(2);
}
// The fresh CRDs' warnings and the per-process signing key's would drown the benchmark's output.
logger.level = "error";
try {
  const gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], kubeconfig, offline: false, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [], drainSeconds: 0 });
  process.on("message", (m: unknown) => {
    if (m === "memory") void memory().then((memory) => send({ type: "memory", memory }), (err: unknown) => send({ type: "failed", error: String(err) }));
    if (m === "stop") void gateway.close().then(() => process.exit(0));
  });
  send({ type: "up", port: gateway.port });
} catch (err) {
  send({ type: "failed", error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
