// Real Tekton Pipelines in the test control plane: the controller that
// tools/install.sh builds from the module pinned in tools/tekton, with the
// CRDs, RBAC and ConfigMaps of that same module version (its config/ folder
// in the Go module cache), running on the host against the local API server
// as Tekton's own ServiceAccount, under the RBAC Tekton installs.
//
// Tekton's webhook is not run: every object the tests write is tekton.dev/v1
// (CustomRuns only exist as v1beta1), which needs neither conversion nor
// defaulting for the controller to reconcile it.
//
// There is no kubelet (nor scheduler) here, so the pods Tekton makes for
// TaskRuns never run: startKubeletStandIn() ends them as a kubelet would,
// writing the pod's status, and Tekton itself then finishes the TaskRun and
// PipelineRun from it. Nor is there a serviceaccount controller: Tekton reads
// the account a TaskRun runs as ("default" unless one is named), so a test
// whose TaskRuns name none makes "default" in its namespace itself.
import { execFileSync, type ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { freePort } from "../../src/testing/free-port.ts";
import type { ControlPlane } from "./control-plane.ts";

const TOOLS_MODULE = fileURLToPath(new URL("../../tools/tekton/", import.meta.url));
/** Where tools/install.sh (and the README) expect Go. */
const GO = "/usr/local/go/bin/go";

/** The namespace Tekton is installed in, as its release manifests have it. */
export const TEKTON_NAMESPACE = "tekton-pipelines";
/** Who Tekton's controller is to the API server (and to agentgate's gateway, which trusts it to make CustomRuns). */
export const TEKTON_CONTROLLER_USER = `system:serviceaccount:${TEKTON_NAMESPACE}:tekton-pipelines-controller`;

const START_TIMEOUT_MS = 60_000;

let moduleDir: string | undefined;

/**
 * Where the Go module cache holds the Tekton module that tools/tekton pins,
 * asked of go itself with the environment tools/install.sh builds with.
 */
export function tektonModuleDir(): string {
  if (moduleDir !== undefined) return moduleDir;
  let dir: string;
  try {
    dir = execFileSync(existsSync(GO) ? GO : "go", ["list", "-m", "-f", "{{.Dir}}", "github.com/tektoncd/pipeline"], {
      cwd: TOOLS_MODULE,
      env: { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH ?? ""}`, GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (err) {
    throw new Error(`cannot locate the Tekton module (go list in tools/tekton): ${err instanceof Error ? err.message : String(err)}; run tools/install.sh`, { cause: err });
  }
  if (dir === "") throw new Error("the Tekton module pinned in tools/tekton is not in the Go module cache: run tools/install.sh");
  moduleDir = dir;
  return dir;
}

/** Tekton's released CRDs (config/300-crds), for startControlPlane's serverSideCrds or installCRDs(…, {serverSide: true}): they are too large for client-side apply. */
export const tektonCrdDir = (): string => join(tektonModuleDir(), "config", "300-crds");

const configFile = (name: string): string => join(tektonModuleDir(), "config", name);

/** Tekton's namespace, ServiceAccounts, RBAC and ConfigMaps as released; not its webhook's configurations, Deployments or Services. */
function installFiles(): string[] {
  const names = readdirSync(join(tektonModuleDir(), "config"));
  const wanted = (f: string) => /^20[01]-.*\.yaml$/.test(f) || /^clusterrole-aggregate-.*\.yaml$/.test(f) || /^config-.*\.yaml$/.test(f);
  return [join(tektonModuleDir(), "config", "100-namespace", "100-namespace.yaml"), ...names.filter(wanted).sort().map(configFile)];
}

interface Container {
  name?: string;
  args?: string[];
  env?: { name: string; value?: string }[];
}

/** The controller's container as config/controller.yaml declares it. */
function controllerContainer(): Container {
  for (const doc of parseAllDocuments(readFileSync(configFile("controller.yaml"), "utf8"))) {
    const o = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } } | null;
    const c = o?.kind === "Deployment" ? o.spec?.template?.spec?.containers?.[0] : undefined;
    if (c) return c;
  }
  throw new Error("config/controller.yaml has no Deployment container");
}

/**
 * The released Deployment's flags, with its `ko://` image references (which
 * `ko resolve` replaces at release) made digest references: Tekton puts
 * them into the pods it makes, which never run here, and refuses a tag.
 */
function controllerArgs(c: Container): string[] {
  const digest = `sha256:${"0".repeat(64)}`;
  return (c.args ?? []).map((a) => (a.startsWith("ko://") ? `registry.invalid/tekton/${a.split("/").pop() ?? "image"}@${digest}` : a));
}

/**
 * The released Deployment's environment: its literal values, the namespace
 * its fieldRef would give, and loopback ports of our own for what listens
 * (probes, metrics, profiling), so that several planes' controllers can run
 * at once. SSL_CERT_* point at files in Tekton's image.
 */
async function controllerEnv(c: Container): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (e.value !== undefined && !e.name.startsWith("SSL_CERT_")) env[e.name] = e.value;
  const [probes, metrics, profiling] = await Promise.all([freePort(), freePort(), freePort()]);
  return { ...env, SYSTEM_NAMESPACE: TEKTON_NAMESPACE, PROBES_PORT: String(probes), METRICS_PROMETHEUS_PORT: String(metrics), METRICS_PROMETHEUS_HOST: "127.0.0.1", PROFILING_PORT: String(profiling) };
}

export interface RunningTekton {
  /** Tekton's controller process id. */
  readonly pid: number;
  /** Its log (JSON lines), in the control plane's dir. */
  readonly logPath: string;
  /** The last lines of its log, for a failing test's message. */
  logTail(lines?: number): string;
  /** Stops the controller (SIGTERM) and waits for it to exit; idempotent. The plane's stop() stops it too. */
  stop(): Promise<void>;
}

function probe(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: "/readiness", timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => { resolve(false); });
    req.on("timeout", () => { req.destroy(); });
    req.end();
  });
}

const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/**
 * Installs Tekton's CRDs (server-side; harmless if the plane has them),
 * namespace, RBAC and ConfigMaps into the plane, then starts its controller
 * on the host as Tekton's ServiceAccount (a client certificate with that
 * user and its groups, so the API server applies Tekton's own RBAC).
 * Resolves once the controller serves its probes; it reconciles objects
 * created before it has synced its caches as soon as it has.
 */
export async function startTekton(cp: ControlPlane): Promise<RunningTekton> {
  await cp.installCRDs([tektonCrdDir()], { serverSide: true });
  await cp.kubectl(["apply", ...installFiles().flatMap((f) => ["-f", f])]);
  const kubeconfig = await cp.kubeconfigFor(TEKTON_CONTROLLER_USER, ["system:serviceaccounts", `system:serviceaccounts:${TEKTON_NAMESPACE}`]);
  const container = controllerContainer();
  const env = await controllerEnv(container);
  // -disable-ha: one replica, no leader election to wait for.
  const child = cp.startTool("tekton-controller", [...controllerArgs(container), "-kubeconfig", kubeconfig, "-disable-ha"], env);
  const logPath = join(cp.dir, "tekton-controller.log");
  const logTail = (lines = 30): string => {
    try {
      return readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!child.pid || !alive(child)) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => { resolve(); }));
      // Unreferenced by the plane: without this an await on its exit alone would not keep the test process up.
      child.ref();
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!alive(child)) throw new Error(`tekton-controller exited (${String(child.exitCode ?? child.signalCode)}) while starting:\n${logTail()}`);
    if (await probe(env.PROBES_PORT ?? "")) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`tekton-controller did not serve its probes within ${START_TIMEOUT_MS / 1000} s:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid ?? 0, logPath, logTail, stop };
}

// ---------------------------------------------------------------------------
// The kubelet stand-in.

/** How a TaskRun's pod ends: every step exits with this code (0: the TaskRun succeeds; else it fails). */
export interface PodEnding {
  exitCode: number;
}

export interface TektonPod {
  namespace: string;
  name: string;
  /** the TaskRun it runs (label tekton.dev/taskRun) */
  taskRun: string;
  /** the PipelineRun that TaskRun belongs to, if any (label tekton.dev/pipelineRun) */
  pipelineRun?: string;
  /** the Pipeline (label tekton.dev/pipeline) */
  pipeline?: string;
}

export interface KubeletStandIn {
  /** The pods it ended, "namespace/name exitCode", in order. */
  readonly ended: readonly string[];
  stop(): Promise<void>;
}

interface PodLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { containers?: { name: string; image?: string }[]; initContainers?: { name: string; image?: string }[] };
  status?: { phase?: string };
}

const terminated = (c: { name: string; image?: string }, exitCode: number, at: string) => ({
  name: c.name,
  image: c.image ?? "",
  imageID: c.image ?? "",
  ready: false,
  restartCount: 0,
  started: false,
  state: { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt: at, finishedAt: at } },
});

/**
 * Ends one of Tekton's pods as a kubelet would once its containers ran:
 * every init container exited 0, every step with `ending.exitCode`, and
 * the pod's phase Succeeded or Failed. Tekton reads this and finishes the
 * TaskRun itself (Succeeded, or Failed naming the step that failed).
 */
export async function endPod(cp: ControlPlane, pod: PodLike, ending: PodEnding): Promise<void> {
  const at = new Date().toISOString();
  const status = {
    phase: ending.exitCode === 0 ? "Succeeded" : "Failed",
    startTime: at,
    initContainerStatuses: (pod.spec?.initContainers ?? []).map((c) => terminated(c, 0, at)),
    containerStatuses: (pod.spec?.containers ?? []).map((c) => terminated(c, ending.exitCode, at)),
  };
  await cp.kubectl(["patch", "pod", pod.metadata?.name ?? "", "-n", pod.metadata?.namespace ?? "", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

/**
 * Ends the pod of one TaskRun as the missing kubelet would (endPod), once
 * Tekton has made it; Tekton then finishes the TaskRun from the pod's status.
 */
export async function completeTaskRun(cp: ControlPlane, namespace: string, taskRun: string, ending: PodEnding = { exitCode: 0 }, timeoutMs = 60_000): Promise<void> {
  const core = cp.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `tekton.dev/taskRun=${taskRun}` }).catch(() => undefined);
    const pod = pods?.items[0] as PodLike | undefined;
    if (pod) return endPod(cp, pod, ending);
    if (Date.now() > deadline) throw new Error(`Tekton made no pod for TaskRun ${namespace}/${taskRun} within ${String(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Plays the kubelet this plane lacks, for Tekton's pods only: each pending
 * pod of a TaskRun is shown to `decide`, and ended as it says (undefined:
 * left pending, as a pod that is still running; it is asked again). Polls
 * every 200 ms.
 */
export function startKubeletStandIn(cp: ControlPlane, decide: (pod: TektonPod) => PodEnding | undefined): KubeletStandIn {
  const core = cp.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const ended: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const pods = await core.listPodForAllNamespaces({ labelSelector: "tekton.dev/taskRun" });
        for (const pod of pods.items as PodLike[]) {
          const phase = pod.status?.phase ?? "Pending";
          if (phase !== "Pending" && phase !== "") continue;
          const labels = pod.metadata?.labels ?? {};
          const seen: TektonPod = {
            namespace: pod.metadata?.namespace ?? "",
            name: pod.metadata?.name ?? "",
            taskRun: labels["tekton.dev/taskRun"] ?? "",
            ...(labels["tekton.dev/pipelineRun"] ? { pipelineRun: labels["tekton.dev/pipelineRun"] } : {}),
            ...(labels["tekton.dev/pipeline"] ? { pipeline: labels["tekton.dev/pipeline"] } : {}),
          };
          const ending = decide(seen);
          if (!ending || !running) continue;
          await endPod(cp, pod, ending);
          ended.push(`${seen.namespace}/${seen.name} ${String(ending.exitCode)}`);
        }
      } catch {
        // the API server is going away at the end, or the pod went
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    ended,
    async stop() {
      running = false;
      await loop;
    },
  };
}
