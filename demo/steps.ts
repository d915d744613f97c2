// The demo's steps, in the order they must happen: main.ts prints each as it
// starts, and test/e2e/demo.test.ts checks that every line appears, in this
// order, so the two cannot drift apart.
export interface Step {
  /** short id, named when the step fails */
  id: string;
  title: string;
}

export const STEPS: readonly Step[] = [
  { id: "cluster", title: "Start a local control plane (etcd, kube-apiserver, kube-controller-manager) and Tekton Pipelines' controller" },
  { id: "install", title: "helm install agentgate; its gateway and controller run as local processes with the chart's arguments" },
  { id: "platform", title: "The platform team's part: namespaces, the qe-files MCP tool server, the model, the hook Pipelines, who may do what" },
  { id: "refused", title: "dana applies a too-generous AgentConfig: kubectl refuses it, one line per finding" },
  { id: "admitted", title: "dana applies the fixed AgentConfig: admitted" },
  { id: "waiting", title: "dana starts the PipelineRun: its agent step waits for approval" },
  { id: "approved", title: "A second identity approves the run: dana may not, alex may" },
  { id: "streaming", title: "The run streams its progress: pre-hook, agent, post-hook (agentgate logs -f)" },
  { id: "post-hook", title: "The post-hook received the agent's results; the PipelineRun's results name the run's provenance" },
  { id: "provenance", title: "agentgate provenance verify on the finished run" },
];

/** The line printed as a step starts, e.g. "==> [4/10] dana applies …". */
export const stepLine = (i: number): string => `==> [${String(i + 1)}/${String(STEPS.length)}] ${STEPS[i]?.title ?? ""}`;

/** The last line of a run that went through every step. */
export const DONE_LINE = "==> Demo complete: every step happened as expected.";

/** The line naming the step that did not happen as expected (exit 1). */
export const failedLine = (i: number, why: string): string => `==> Demo FAILED at step ${String(i + 1)} (${STEPS[i]?.id ?? "?"}): ${why}`;
