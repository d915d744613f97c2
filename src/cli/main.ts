// The `agentgate` command line (README, "Exit status"): 0 success or all
// admitted, 1 denied / failed verification (set by the command), 2 the
// user's or the environment's mistake, named in one line, 3 a bug in
// agentgate. What an error means is decided here and nowhere else
// (exitStatusOf).
//
// Every command's flags and help are registered here, but what a command
// runs is imported only when it runs (the *-command.ts files register,
// `await import()` in their actions loads the rest): a loaded module stays
// resident, and `agentgate serve`, the gateway, would otherwise carry the
// controller's, the audit's and the CLI's modules for its whole life.
// serve's own module is imported here, as it is the process that matters;
// test/unit/serve-imports.test.ts checks what it loads.
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { Io } from "./review.ts";
import { registerReviewCommand } from "./review-command.ts";
import { defaultNamespace, defaultServiceAccount, CONTEXT_FLAG_HELP } from "./environment.ts";
import { runServe, type ServeOptions } from "./serve.ts";
import { registerBundleCommands } from "./bundle-command.ts";
import { addBundleFlags } from "./bundle-flags.ts";
import { addSigningFlags } from "./signing-flags.ts";
import { DEFAULT_KAGENT_USER, DEFAULT_TEKTON_USER } from "../guardrails/identity.ts";
import { collect, refuseRepeatedFlags } from "./flag-values.ts";
import { DEFAULT_REVIEW_LIMITS } from "../wire/parse.ts";
import { DEFAULT_MAX_IN_FLIGHT } from "../server/overload.ts";
import { commandOf, oneLine, usageError } from "./usage-errors.ts";
import { registerAuditCommand } from "./audit-command.ts";
import { registerControllerCommand } from "./controller-command.ts";
import { registerProvenanceCommands } from "./provenance-command.ts";
import { registerCapabilitiesCommand } from "./capabilities-command.ts";
import { registerLogsCommand } from "./logs-command.ts";
import { registerVersionCommand } from "./version.ts";
import { registerCompletionCommand } from "./completion.ts";
import { logger } from "../log.ts";
import { AgentgateError, type ErrorKind } from "../errors.ts";

function atLeastOne(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number of seconds");
  return n;
}

const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/**
 * --log-level on every command that runs (not only through
 * AGENTGATE_LOG_LEVEL): set before the command acts.
 */
function addLogLevel(program: Command): void {
  const add = (command: Command): void => {
    if (command.commands.length === 0) command.addOption(new Option("--log-level <level>", "how much the process logs (JSON lines on stderr); default $AGENTGATE_LOG_LEVEL, else info").choices([...LOG_LEVELS]));
    for (const sub of command.commands) add(sub);
  };
  for (const sub of program.commands) add(sub);
  program.hook("preAction", (_program, action) => {
    const level: unknown = action.opts().logLevel;
    if (typeof level === "string") logger.level = level;
  });
}

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command("agentgate")
    .description("Admission webhook and policy gateway for AI agents on Kubernetes")
    .showHelpAfterError(false)
    // Usage errors are printed by main() in one line (commander's own can
    // take two, and help shown for a missing command is a page); --help
    // asked for goes to stdout as usual.
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: () => undefined, outputError: () => undefined })
    .exitOverride();

  // The bundle flags sit where they always did in serve's help: after the TLS files.
  const serve = addBundleFlags(
    program
      .command("serve")
      .description("run the validating and mutating webhook server (HTTPS)")
      .option("--listen <host:port>", "address to serve on", "0.0.0.0:8443")
      .option("--tls-cert-file <file>", "serving certificate (PEM); reloaded when it changes")
      .option("--tls-key-file <file>", "serving key (PEM)"),
  )
    .option("--kubeconfig <file>", "kubeconfig of the cluster to watch (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", CONTEXT_FLAG_HELP)
    .option("--offline", "no cluster: every context reference resolves to null", false)
    .option("--namespace <ns>", "agentgate's own namespace (exempt from admission)", defaultNamespace())
    .option("--service-account <user>", "agentgate's own identity, allowed to change stamps and managed objects", defaultServiceAccount())
    .option("--trusted-user <user>", "another identity trusted like agentgate's own (the controller's ServiceAccount); repeatable", collect, [])
    .option("--ca-out <file>", "with a self-signed certificate: write its CA here")
    .option("--client-ca-file <file>", "answer /validate and /mutate only for callers with a TLS client certificate from this CA (PEM: the one that signed the API server's webhook client certificate); reloaded when it changes; /healthz, /readyz and /metrics stay open")
    .option("--webhook-path-token-file <file>", "answer admission reviews only at /validate/<token> and /mutate/<token>, the tokens read from this file, one a line (the path the webhook configurations name: it keeps casual callers out, but is no credential, since the API server prints the URL when a call fails; see --require-webhooks); read again when it changes")
    .option("--require-webhooks <name>", "sign decisions, creators and approvals only while the Validating and MutatingWebhookConfiguration of this name hold all of agentgate's webhooks, failing closed (read every 5 s); otherwise runs are refused until they do")
    .option("--calls-listen <host:port>", "also serve the run-time gateway here (plain HTTP): runs' agents reach their tool servers and model only through it, each tool call judged by agent/tools/deny and every token counted (docs/run-time-gateway.md); needs a cluster")
    .option("--metrics-listen <host:port>", "also serve Prometheus /metrics here, plain HTTP and nothing else (--listen serves it too, over TLS); off by default (docs/monitoring.md)")
    .option("--client-cn <name>", "with --client-ca-file: a subject CN allowed to call /validate and /mutate; repeatable (default: any certificate the CA signed)", collect, [])
    .addOption(new Option("--max-review-values <n>", "deny, unevaluated, a review holding more JSON values than this (object and oldObject together)").default(DEFAULT_REVIEW_LIMITS.maxValues).argParser(atLeastOne))
    .addOption(new Option("--max-review-depth <n>", "deny, unevaluated, a review nesting deeper than this (the object starts 3 levels in)").default(DEFAULT_REVIEW_LIMITS.maxDepth).argParser(atLeastOne))
    .addOption(new Option("--max-in-flight <n>", "admission reviews read and not yet answered, at most; more are denied at once, unevaluated, [gateway-overloaded], rather than queued past the API server's webhook timeout").default(DEFAULT_MAX_IN_FLIGHT).argParser(atLeastOne))
    .option("--cert-secret <ns/name>", "self-managed certificates: keep a CA and the serving certificate in this Secret (created if absent), renew them before expiry, reload without restart")
    .option("--cert-service <name>", "with --cert-secret: the Service the certificate names (<svc>, <svc>.<ns>, <svc>.<ns>.svc; <ns> from --namespace)", "agentgate")
    .option("--cert-host <name>", "with --cert-secret: another DNS name or IP the certificate names (a gateway reached by URL); repeatable", collect, [])
    .option("--webhook-config <name>", "with --cert-secret: Validating and MutatingWebhookConfiguration whose caBundle is kept in step (validating/NAME or mutating/NAME for one kind); repeatable", collect, [])
    .option("--cert-validity <duration>", "with --cert-secret: serving certificate lifetime; renewed at 2/3 of it", "8760h")
    .option("--ca-validity <duration>", "with --cert-secret: CA lifetime; a next CA is trusted from 2/3 and signs from 5/6 of it", "87600h")
    .addOption(new Option("--drain-seconds <n>", "on SIGTERM, report not ready this long, still serving but closing each connection after its answer; then stop listening and give requests in flight half as long again (at least 1 s)").default(0).argParser(positiveInt))
    .option("--decision-logs", "log every admission decision as JSON in OPA's decision-log shape", false)
    .option("--decision-log-redact <path>", "another input path to redact in decision logs (dot-separated from the input root, e.g. request.object.spec.goal); repeatable", collect, [])
    .option("--decision-log-no-default-redactions", "do not redact goals, hints and prompts by default", false)
    .option("--kagent-service-account <user>", `kagent's controller identity: the only one that may make the Deployment of a run's Agent; repeatable (default ${DEFAULT_KAGENT_USER})`, collect, [])
    .option("--tekton-service-account <user>", `Tekton's controller identity: its CustomRuns take their PipelineRun's creator; repeatable (default ${DEFAULT_TEKTON_USER})`, collect, [])
    .option("--owner <kind/name>", "deployment/NAME in --namespace (the chart's gateway Deployment): the --cert-secret Secret names it as its owner, so deleting it (helm uninstall) deletes the Secret; the --signing-keys Secret and ConfigMap are not owned (they verify stored runs after it is gone); needs get on it");
  addSigningFlags(serve).action(async (opts: ServeOptions) => { setExit(await runServe(opts)); });

  registerReviewCommand(program, io, setExit);
  registerBundleCommands(program, io, setExit);
  registerControllerCommand(program, io, setExit);
  registerProvenanceCommands(program, io, setExit);
  registerAuditCommand(program, io, setExit);
  registerCapabilitiesCommand(program, io, setExit);
  registerLogsCommand(program, io, setExit);
  registerVersionCommand(program, io, setExit);
  registerCompletionCommand(program, io, setExit);
  addLogLevel(program);
  refuseRepeatedFlags(program);
  return program;
}

/** Runs the CLI; returns the exit status instead of exiting, so tests can call it. */
export async function main(
  argv: string[],
  io: Io = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`), write: (s) => process.stdout.write(s) },
): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => { code = c; });
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help asked for (--help, `help`) is a success; shown because a command was missing, it is bad usage.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || (err.code === "commander.help" && err.exitCode === 0)) return 0;
      io.err(`agentgate: ${oneLine(usageError(err, commandOf(program, argv)))}`);
      return EXIT_STATUS.usage;
    }
    return reportError(err, io, logger.level === "debug");
  }
}

/**
 * Says what went wrong in one line on stderr and returns the exit status.
 * The stack of an internal error only with --log-level debug: to the user
 * it is noise, to whoever fixes the bug it is where to look.
 */
export function reportError(err: unknown, io: Pick<Io, "err">, debug: boolean): number {
  const kind = kindOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (kind !== "internal") {
    // Each names its file, flag or dependency, and what is wrong with it.
    io.err(`agentgate: ${oneLine(message)}`);
    return EXIT_STATUS[kind];
  }
  const name = err instanceof Error && !(err instanceof AgentgateError) ? `${err.name}: ` : "";
  io.err(`agentgate: internal error (a bug in agentgate, not a mistake in what it was given): ${oneLine(name + message)}; please report it with the command you ran and the output of agentgate version${debug ? "" : " (--log-level debug shows where it happened)"}`);
  if (debug && err instanceof Error && err.stack !== undefined) io.err(err.stack);
  return EXIT_STATUS.internal;
}

/**
 * The exit status of each kind of error: the one place it is decided
 * (README, "Exit status"). 1 is not here: a denial or a failed
 * verification is an answer, which the command sets, not an error.
 */
export const EXIT_STATUS: Readonly<Record<ErrorKind, number>> = {
  usage: 2,
  input: 2,
  policy: 2,
  unavailable: 2,
  internal: 3,
};

/** JavaScript's own error classes: thrown by the runtime at a mistake in the code, not at the user's input. */
const PROGRAMMING_ERRORS = [TypeError, ReferenceError, RangeError, SyntaxError, EvalError, URIError];

/**
 * Whose mistake an error is. Ours say so. Of the rest, a system call's
 * failure (errno code) or a library's own error class (the Kubernetes
 * client's ApiException) is the environment's; a TypeError and its
 * siblings are a bug, except fetch's "fetch failed", which is the network
 * (its cause says why). A plain Error from a library keeps the status it
 * always had.
 */
export function kindOf(err: unknown): ErrorKind {
  if (err instanceof AgentgateError) return err.kind;
  if (!(err instanceof Error)) return "internal";
  if (typeof (err as NodeJS.ErrnoException).code === "string") return "unavailable";
  if (err instanceof TypeError && err.message === "fetch failed") return "unavailable";
  if (PROGRAMMING_ERRORS.some((c) => err.constructor === c)) return "internal";
  return "unavailable";
}
