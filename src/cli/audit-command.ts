// `agentgate audit`: its flags and help. What it runs (audit.ts) is
// imported only when it runs (src/cli/main.ts says why).
import type { Command } from "commander";
import { Option } from "commander";
import type { AuditCliOptions } from "./audit.ts";
import { addVerificationFlags } from "./signing-flags.ts";
import { addBundleFlags } from "./bundle-flags.ts";
import { collect } from "./flag-values.ts";
import { InputError } from "../errors.ts";
import type { Io } from "./review.ts";
import { defaultNamespace, defaultServiceAccount, CONTEXT_FLAG_HELP } from "./environment.ts";

function pageSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InputError(`--page-size ${JSON.stringify(value)}: expected a whole number from 1 to 10000`);
  return n;
}

export function registerAuditCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  const audit = addBundleFlags(
    program
      .command("audit")
      .description("evaluate existing objects as the webhook would an update of each to itself; write PolicyReports / OpenReports, metrics and Events"),
  )
    .option("--kubeconfig <file>", "kubeconfig of the cluster to scan (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", CONTEXT_FLAG_HELP)
    .option("-n, --namespace <ns>", "scan only this namespace: its objects, its report (default: every namespace), as kubectl's --namespace")
    .option("--agentgate-namespace <ns>", "agentgate's own namespace (exempt, as for the webhook; so is kube-system), where the Lease is", defaultNamespace())
    .option("--service-account <user>", "agentgate's own identity, as given to serve", defaultServiceAccount())
    .option("--trusted-user <user>", "another identity trusted like agentgate's own, as given to serve; repeatable", collect, [])
    .option("--once", "scan once, print the results and exit (CI, CronJob)", false)
    .option("--interval <duration>", "time between scans of the long-running scanner (±10% jitter)", "10m")
    .addOption(new Option("-o, --output <format>", "print each scan's results (default with --once: text)").choices(["text", "json"]))
    .option("--leader-elect", "hold Lease agentgate-audit while writing (the default; --dry-run needs no Lease)")
    .option("--no-leader-elect", "write without the Lease (only when no other scanner can run)")
    .option("--lease-namespace <ns>", "namespace of the Lease (default: --agentgate-namespace)")
    .option("--lease-wait <duration>", "with --once: how long to wait for a Lease another scanner holds; then exit 2 naming the holder, having written nothing", "30s")
    .option("--metrics-listen <host:port>", "long-running scanner: /metrics, /healthz, /readyz", "0.0.0.0:9090")
    .addOption(new Option("--page-size <n>", "limit of each list call").default(500).argParser(pageSize))
    .option("--dry-run", "evaluate and print only: write no report, no Event", false)
    .option("--exit-code", "with --once: exit 1 when any result is fail or error (CI)", false)
    .option("--owner <kind/name>", "deployment/NAME or cronjob/NAME in --agentgate-namespace (the chart's audit Deployment or CronJob): the Lease names it as its owner, so deleting it (helm uninstall) deletes the Lease; needs get on it");
  addVerificationFlags(audit)
    .action(async (opts: AuditCliOptions) => {
      const { runAudit } = await import("./audit.ts");
      setExit(await runAudit(opts, io));
    });
}
