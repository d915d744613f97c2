// `agentgate logs`: its flags and help. What it runs (logs.ts) is imported
// only when it runs (src/cli/main.ts says why).
import type { Command } from "commander";
import { Option } from "commander";
import type { LogsOptions } from "./logs.ts";
import { CONTEXT_FLAG_HELP } from "./environment.ts";
import type { Io } from "./review.ts";

export function registerLogsCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("logs <run>")
    .description("what an AgentRun did: its phases, progress, approvals it waits for and every call through the run-time gateway; with -f, as it happens")
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", CONTEXT_FLAG_HELP)
    .option("-n, --namespace <ns>", "the run's namespace (default: the kubeconfig context's)")
    .option("-f, --follow", "keep printing until the run ends", false)
    .addOption(new Option("-o, --output <format>", "text, or json: one JSON object per line").choices(["text", "json"]).default("text"))
    .option("--kagent-url <url>", "kagent's controller, as the controller's --kagent-url (e.g. through kubectl port-forward): adds the agent's messages, tool calls and results, approvals and tokens from its kagent task")
    .option("--kagent-token-file <file>", "a bearer token for kagent's trusted-proxy auth")
    .action(async (run: string, opts: LogsOptions) => {
      const { runLogs, ApiAnswer } = await import("./logs.ts");
      const stop = new AbortController();
      const onSignal = () => { stop.abort(); };
      process.once("SIGINT", onSignal);
      try {
        setExit(await runLogs(run, opts, io, stop.signal));
      } catch (err) {
        if (!(err instanceof ApiAnswer)) throw err;
        io.err(err.message);
        setExit(1);
      } finally {
        process.off("SIGINT", onSignal);
      }
    });
}
