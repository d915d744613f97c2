// npm run bench:control-plane: how long the local control plane of the
// tests takes to start (startControlPlane() until it returns: certificates,
// etcd, kube-apiserver /readyz and the default namespaces, then the CRDs
// Established, then kube-controller-manager /healthz) and to stop, over
// several starts of each shape. Prints figures and, last, one JSON line.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane, type ControlPlaneOptions } from "../test/support/control-plane.ts";
import { tektonCrdDir } from "../test/support/tekton.ts";
import { summarize, type Summary } from "./stats.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const CRDS = [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")];
const SERVER_SIDE_CRDS = [tektonCrdDir()];

const SHAPES: { name: string; opts: ControlPlaneOptions }[] = [
  { name: "etcd+apiserver", opts: {} },
  { name: "etcd+apiserver+crds", opts: { crds: CRDS, serverSideCrds: SERVER_SIDE_CRDS } },
  { name: "etcd+apiserver+kcm", opts: { controllerManager: true } },
  { name: "etcd+apiserver+crds+kcm", opts: { controllerManager: true, crds: CRDS, serverSideCrds: SERVER_SIDE_CRDS } },
];

interface ShapeResult {
  shape: string;
  starts: number;
  startMs: Summary;
  stopMs: Summary;
}

async function measure(name: string, opts: ControlPlaneOptions): Promise<ShapeResult> {
  const start: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now();
    const cp = await startControlPlane(opts);
    const t1 = performance.now();
    await cp.stop();
    const t2 = performance.now();
    start.push(t1 - t0);
    stop.push(t2 - t1);
    process.stdout.write(`  ${name} #${String(i + 1)}: start ${(t1 - t0).toFixed(0)} ms, stop ${(t2 - t1).toFixed(0)} ms\n`);
  }
  return { shape: name, starts: STARTS, startMs: summarize(start), stopMs: summarize(stop) };
}

const results: ShapeResult[] = [];
for (const shape of SHAPES) results.push(await measure(shape.name, shape.opts));

process.stdout.write("\nshape                      start median   p90     min     max   | stop median\n");
for (const r of results) {
  const f = (n: number) => `${n.toFixed(0)} ms`.padStart(8);
  process.stdout.write(`${r.shape.padEnd(26)} ${f(r.startMs.median)} ${f(r.startMs.p90)} ${f(r.startMs.min)} ${f(r.startMs.max)}   | ${f(r.stopMs.median)}\n`);
}
process.stdout.write(`${JSON.stringify({ bench: "control-plane-start", starts: STARTS, results })}\n`);
