// `agentgate controller`: the thin controller (README, "The controller").
import type { KeyObject } from "node:crypto";
import { access, constants } from "node:fs/promises";
import { describeFileError } from "../file-errors.ts";
import * as k8s from "@kubernetes/client-node";
import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import { A2ADriver } from "../controller/a2a-driver.ts";
import { DEFAULT_KAGENT_RUNTIME, KAGENT_RUNTIMES, type KagentRuntime } from "../controller/kagent-agent.ts";
import { describeError } from "../kube/errors.ts";
import { startController, type ControllerOptions, type RunningController } from "../controller/controller.ts";
import { ListenError } from "../runtime/probe-server.ts";
import { runUntilSignal } from "../runtime/signals.ts";
import { Kube } from "../controller/kube.ts";
import { ProvenanceSigner, embeddedBundles, loadSigningKeyFromSecret } from "../controller/provenance-recorder.ts";
import { logger } from "../log.ts";
import type { Io } from "./review.ts";
import { InputError } from "../errors.ts";
import { defaultNamespace, CONTEXT_FLAG_HELP } from "./environment.ts";
import { loadKubeConfig, parseListen } from "./environment.ts";
import { collect } from "./flag-values.ts";
import { addVerificationFlags, verificationKeyring, type SigningFlags } from "./signing-flags.ts";
import { exemptNamespaces } from "../gateway/exemptions.ts";
import { parseOwnerFlag, resolveOwnerFlag } from "./owner-flag.ts";

export interface ControllerCliOptions extends SigningFlags {
  kubeconfig?: string;
  context?: string;
  /** agentgate's own namespace: exempt from admission, so runs there are never acted on */
  namespace: string;
  /** more namespaces the webhooks never see (the chart's webhook.excludeNamespaces) */
  exemptNamespace: string[];
  kagentRuntime: KagentRuntime;
  kagentTokenFile?: string;
  kagentUrl: string;
  callsUrl?: string;
  provenanceKeySecret?: string;
  leaderElect: boolean;
  leaseNamespace: string;
  healthListen: string;
  metricsListen: string;
  /** deployment/NAME in --namespace: owner of the Lease and the run ledgers it creates (src/kube/owner.ts) */
  owner?: string;
}

export async function runControllerCommand(opts: ControllerCliOptions): Promise<number> {
  const config = await controllerConfig(opts);
  let controller: RunningController;
  try {
    controller = await startController(config);
  } catch (err) {
    const flag = err instanceof ListenError ? (err.field === "healthListen" ? `--health-listen ${opts.healthListen}` : `--metrics-listen ${opts.metricsListen}`) : undefined;
    throw flag !== undefined && err instanceof Error ? new InputError(`${flag}: ${err.message}`, { cause: err }) : err;
  }
  logger.info("agentgate controller started", { kagentUrl: opts.kagentUrl, callsUrl: opts.callsUrl ?? "", leaderElect: opts.leaderElect, signed: opts.provenanceKeySecret !== undefined });
  // Another replica took the Lease: this one stopped acting; exit non-zero
  // so the Deployment restarts it as a standby. Once everything that acts
  // has stopped, a kept-alive socket or a library's timer must not keep the
  // process up.
  return runUntilSignal({ stop: () => controller.stop(), ended: controller.lost.then(() => 1) }, { log: logger, message: "controller shutting down", exitAfterMs: 2000 });
}

/** Flags first: a typo is named before anything reaches for the cluster. */
export async function controllerConfig(opts: ControllerCliOptions): Promise<ControllerOptions> {
  const healthListen = parseListen(opts.healthListen, "--health-listen");
  const metricsListen = parseListen(opts.metricsListen, "--metrics-listen");
  const ownerFlag = opts.owner !== undefined ? parseOwnerFlag(opts.owner) : undefined;
  if (!URL.canParse(opts.kagentUrl) || !/^https?:$/.test(new URL(opts.kagentUrl).protocol)) {
    throw new InputError(`--kagent-url ${JSON.stringify(opts.kagentUrl)}: expected an http(s) URL, e.g. http://kagent-controller.kagent.svc:8083`);
  }
  if (opts.callsUrl !== undefined && (!URL.canParse(opts.callsUrl) || !/^https?:$/.test(new URL(opts.callsUrl).protocol) || new URL(opts.callsUrl).pathname.replace(/\/+$/, "") !== "" || new URL(opts.callsUrl).search !== "")) {
    throw new InputError(`--calls-url ${JSON.stringify(opts.callsUrl)}: expected the run-time gateway's base URL as agents reach it, without a path, e.g. http://agentgate.agentgate-system.svc:8444`);
  }
  const [secretNs, secretName, ...rest] = (opts.provenanceKeySecret ?? "").split("/");
  if (opts.provenanceKeySecret !== undefined && (!secretNs || !secretName || rest.length > 0)) {
    throw new InputError(`--provenance-key-secret ${JSON.stringify(opts.provenanceKeySecret)}: expected NAMESPACE/NAME`);
  }
  if (opts.kagentTokenFile !== undefined) {
    const file = opts.kagentTokenFile;
    await access(file, constants.R_OK).catch((err: unknown) => {
      throw new InputError(`--kagent-token-file ${file}: cannot read: ${describeFileError(err, "read")}`);
    });
  }
  const kubeConfig = loadKubeConfig(opts);
  let key: KeyObject | undefined;
  if (secretNs && secretName) {
    try {
      key = await loadSigningKeyFromSecret(new Kube(kubeConfig), secretNs, secretName);
    } catch (err) {
      // Without the key every run's provenance would go unsigned: refuse to start, saying why.
      // An API answer or a network failure (fetch's TypeError), not a Secret without a good key.
      const reading = err instanceof k8s.ApiException || err instanceof TypeError;
      const where = reading ? ` cannot read it from ${kubeConfig.getCurrentCluster()?.server ?? "the cluster"}:` : "";
      throw new InputError(`--provenance-key-secret ${opts.provenanceKeySecret ?? ""}:${where} ${describeError(err)}`);
    }
  }
  const keyring = await verificationKeyring(opts, kubeConfig, logger, true);
  if (!keyring) throw new InputError("no decision verification keys");
  const owner = ownerFlag ? await resolveOwnerFlag(kubeConfig, opts.namespace, ownerFlag) : undefined;
  return {
    kubeConfig,
    keyring,
    exemptNamespaces: new Set([...exemptNamespaces(opts.namespace), ...opts.exemptNamespace]),
    kagentUrl: opts.kagentUrl,
    driver: new A2ADriver(opts.kagentUrl, logger, opts.kagentTokenFile !== undefined ? { tokenFile: opts.kagentTokenFile } : {}),
    kagentRuntime: opts.kagentRuntime,
    ...(opts.callsUrl !== undefined ? { calls: { url: opts.callsUrl.replace(/\/+$/, ""), ledgerNamespace: opts.namespace } } : {}),
    provenance: new ProvenanceSigner(key, await embeddedBundles(logger)),
    ...(owner ? { owner } : {}),
    log: logger,
    leaderElect: opts.leaderElect,
    leaseNamespace: opts.leaseNamespace,
    healthListen,
    metricsListen,
  };
}

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
  addVerificationFlags(controller).action(async (opts: ControllerCliOptions) => { setExit(await runControllerCommand(opts)); });
}
