// `agentgate controller`: the thin controller (README, "The controller"),
// started from its flags (registered in controller-command.ts).
import type { KeyObject } from "node:crypto";
import { access, constants } from "node:fs/promises";
import { describeFileError } from "../file-errors.ts";
import * as k8s from "@kubernetes/client-node";
import { A2ADriver } from "../controller/a2a-driver.ts";
import type { KagentRuntime } from "../controller/kagent-agent.ts";
import { describeError } from "../kube/errors.ts";
import { startController, type ControllerOptions, type RunningController } from "../controller/controller.ts";
import { ListenError } from "../runtime/probe-server.ts";
import { runUntilSignal } from "../runtime/signals.ts";
import { Kube } from "../controller/kube.ts";
import { ProvenanceSigner, embeddedBundles, loadSigningKeyFromSecret } from "../controller/provenance-recorder.ts";
import { logger } from "../log.ts";
import { InputError } from "../errors.ts";
import { parseListen } from "./environment.ts";
import { loadKubeConfig } from "./client-node-config.ts";
import { kubeApiOf } from "../kube/from-kubeconfig.ts";
import { verificationKeyring, type SigningFlags } from "./signing-flags.ts";
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
  const keyring = await verificationKeyring(opts, kubeApiOf(kubeConfig), logger, true);
  if (!keyring) throw new InputError("no decision verification keys");
  const owner = ownerFlag ? await resolveOwnerFlag(kubeApiOf(kubeConfig), opts.namespace, ownerFlag) : undefined;
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
