// `agentgate controller`: its flags and help. What it runs (controller.ts)
// is imported only when it runs (src/cli/main.ts says why).
import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import { DEFAULT_KAGENT_RUNTIME, KAGENT_RUNTIMES } from "../controller/kagent-agent.ts";
import type { ControllerCliOptions } from "./controller.ts";
import type { Io } from "./review.ts";
import { defaultNamespace, CONTEXT_FLAG_HELP } from "./environment.ts";
import { collect } from "./flag-values.ts";
import { addVerificationFlags } from "./signing-flags.ts";

/** `--leader-elect`, `--leader-elect=true|false`, `--no-leader-elect`. */
export function parseBoolean(flag: string): (value: string) => boolean {
  return (value) => {
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    throw new InvalidArgumentError(`${flag} takes true or false, got ${JSON.stringify(value)}`);
  };
}

export function registerControllerCommand(program: Command, _io: Io, setExit: (code: number) => void): void {
  const controller = program
    .command("controller")
    .description("run the thin controller: per-run scope, kagent delegation, hooks, status and provenance")
    .option("--kubeconfig <file>", "kubeconfig (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", CONTEXT_FLAG_HELP)
    .option("--kagent-url <url>", "kagent controller's base URL; an Agent's A2A endpoint is <url>/api/a2a/<namespace>/<name>/; its host (<service>.<namespace>) is also what the runs' NetworkPolicies let reach the agents", "http://kagent-controller.kagent.svc:8083")
    .option("--calls-url <url>", "agentgate's run-time gateway as the agents' pods reach it (serve --calls-listen), e.g. http://agentgate.agentgate-system.svc:8444: each run's Agent then calls its model and tools through it, a strict run's NetworkPolicy allows it instead of their endpoints, and the run's usage, budget and call trace come from the gateway's ledgers in --namespace")
    .option("--provenance-key-secret <ns/name>", "Secret whose key private-key.pem holds a PKCS#8 PEM ECDSA P-256 key; without it provenance is unsigned")
    .addOption(new Option("--leader-elect [bool]", "hold Lease agentgate-controller before acting (--leader-elect=false for one replica without it)").default(true).argParser(parseBoolean("--leader-elect")))
    .option("--no-leader-elect", "act without leader election (one replica only)")
    .option("--lease-namespace <ns>", "namespace of the Lease", process.env.POD_NAMESPACE ?? "agentgate-system")
    .option("--health-listen <host:port>", "/healthz and /readyz", "0.0.0.0:8081")
    .addOption(new Option("--metrics-listen <host:port>", "Prometheus /metrics").default("0.0.0.0:9090"))
    .option("--namespace <ns>", "agentgate's own namespace: exempt from admission, so runs there are never acted on", defaultNamespace())
    .addOption(new Option("--kagent-runtime <runtime>", "the runtime a run's Agent asks kagent for: go honours tasks/cancel; python (kagent-adk) refuses it, so a budget, timeout or cancel stops the agent only by deleting its Agent").choices([...KAGENT_RUNTIMES]).default(DEFAULT_KAGENT_RUNTIME))
    .option("--kagent-token-file <file>", "send kagent this bearer token (a projected ServiceAccount token, re-read when it changes): kagent's controller.auth.mode trusted-proxy refuses A2A calls without one")
    .option("--exempt-namespace <ns>", "another namespace the webhooks never see (as the chart's webhook.excludeNamespaces); its runs are never acted on; repeatable", collect, [])
    .option("--owner <kind/name>", "deployment/NAME in --namespace (the chart's controller Deployment): the Lease and the run ledgers it creates there name it as their owner, so deleting it (helm uninstall) deletes them; needs get on it");
  addVerificationFlags(controller).action(async (opts: ControllerCliOptions) => {
    const { runControllerCommand } = await import("./controller.ts");
    setExit(await runControllerCommand(opts));
  });
}
