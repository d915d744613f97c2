// The kubelet this cluster lacks, for the pods Tekton makes for the hooks'
// TaskRuns: nothing runs them, so the demo does what each step's script
// would have done (fetch-ticket writes the ticket into the workspace the
// agent reads; run-tests reads the test file the agent wrote) and ends the
// pod as a kubelet would, each step's results in its termination message,
// which is where Tekton reads them. Tekton then finishes the TaskRun and
// the hook's PipelineRun itself. Every pod it plays is announced in the
// output: the demo says plainly which part is its own.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import type { ControlPlane } from "../test/support/control-plane.ts";
import type { Kagent } from "./kagent.ts";
import { note } from "./output.ts";

interface Container {
  name: string;
  image?: string;
  env?: { name: string; value?: string }[];
}

interface Pod {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { containers?: Container[]; initContainers?: Container[] };
  status?: { phase?: string };
}

/** What a step's script would have left: its results, and its exit code. */
interface Ending {
  exitCode: number;
  results: Record<string, string>;
  /** one line for the output: what the demo did in the pod's place */
  said: string;
}

const envOf = (pod: Pod, name: string): string => (pod.spec?.containers ?? []).flatMap((c) => c.env ?? []).find((e) => e.name === name)?.value ?? "";

/** Ends the pod: init containers exited 0, steps with the ending's code, the last step's termination message carrying the results. */
async function endPod(cp: ControlPlane, pod: Pod, ending: Ending): Promise<void> {
  const at = new Date().toISOString();
  const steps = pod.spec?.containers ?? [];
  const message = JSON.stringify(Object.entries(ending.results).map(([key, value]) => ({ key, value, type: 1 })));
  const terminated = (c: Container, exitCode: number, withResults: boolean) => ({
    name: c.name,
    image: c.image ?? "",
    imageID: c.image ?? "",
    ready: false,
    restartCount: 0,
    started: false,
    state: { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt: at, finishedAt: at, ...(withResults ? { message } : {}) } },
  });
  const status = {
    phase: ending.exitCode === 0 ? "Succeeded" : "Failed",
    startTime: at,
    initContainerStatuses: (pod.spec?.initContainers ?? []).map((c) => terminated(c, 0, false)),
    containerStatuses: steps.map((c, i) => terminated(c, ending.exitCode, i === steps.length - 1)),
  };
  await cp.kubectl(["patch", "pod", pod.metadata?.name ?? "", "-n", pod.metadata?.namespace ?? "", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

export function playKubelet(cp: ControlPlane, examples: string, kagent: Kagent): () => Promise<void> {
  const core = cp.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const handled = new Set<string>();

  /** What each hook's step would have done, by the Pipeline the pod belongs to. */
  const play = async (pod: Pod): Promise<Ending | undefined> => {
    const pipeline = pod.metadata?.labels?.["tekton.dev/pipeline"] ?? "";
    if (pipeline === "fetch-ticket") {
      const id = /^ticket: *(\S+)/m.exec(envOf(pod, "HINTS"))?.[1] ?? "";
      const path = `tickets/${id}.md`;
      // the tracker's copy of the ticket, which the step would have fetched with curl
      const text = readFileSync(join(examples, `ticket-${id}.md`), "utf8");
      await kagent.callTool({ name: "write_file", args: { path, content: text } });
      return { exitCode: 0, results: { ticket: id, path }, said: `fetched ${id} (the example's ticket-${id}.md) into the workspace as ${path}` };
    }
    if (pipeline === "run-tests") {
      const result = envOf(pod, "AGENT_RESULT");
      const tests = await kagent.callTool({ name: "read_file", args: { path: "tests/test_refund.py" } });
      const count = tests.split("\n").filter((l) => l.startsWith("def test_")).length;
      return {
        exitCode: count > 0 ? 0 : 1,
        results: { tests: String(count), summary: `${String(count)} tests collected from tests/test_refund.py (not run: no pod runs here)` },
        said: `got AGENT_RESULT="${result.slice(0, 60)}…"; read tests/test_refund.py from the workspace: ${String(count)} test functions`,
      };
    }
    return undefined;
  };

  // an object: the loop reads what the returned stop() writes later
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      try {
        const pods = await core.listPodForAllNamespaces({ labelSelector: "tekton.dev/taskRun" });
        for (const pod of pods.items as Pod[]) {
          const key = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
          if (handled.has(key) || (pod.status?.phase ?? "Pending") !== "Pending") continue;
          handled.add(key);
          const ending = await play(pod).catch((err: unknown): Ending => ({ exitCode: 1, results: {}, said: `failed: ${err instanceof Error ? err.message : String(err)}` }));
          if (!ending) continue;
          note(`[kubelet stand-in] no kubelet here, so no pod runs: for pod ${key} (TaskRun ${pod.metadata?.labels?.["tekton.dev/taskRun"] ?? "?"}) the demo ${ending.said}, and ends it with exit code ${String(ending.exitCode)}; Tekton finishes the TaskRun`);
          await endPod(cp, pod, ending);
        }
      } catch {
        // the API server is going away at the end
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return async () => {
    state.running = false;
    await loop;
  };
}
