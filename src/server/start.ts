// The gateway process: `startGateway(config) → RunningGateway`, the one
// constructor `agentgate serve` and the tests share. The config is typed and
// checked (src/cli/serve.ts turns flags into it); nothing here knows a
// command line, and the errors it throws name config fields.
import type { KubeApi } from "../kube/api.ts";
import type { RunningCallGateway } from "../calls/start.ts";
import type { CertificateManager } from "../certs/manager.ts";
import { startSelfManaged } from "../certs/self-managed.ts";
import { ClusterAccessReviewer } from "../context/access-review.ts";
import { ClusterLookup } from "../context/cluster-lookup.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import { StaticLookup } from "../context/static-lookup.ts";
import { AgentgateError, errorMessage } from "../errors.ts";
import { exemptNamespaces } from "../gateway/exemptions.ts";
import { clusterReader, RegistrationGuard } from "../gateway/registration-guard.ts";
import type { Identity } from "../guardrails/identity.ts";
import type { Owner } from "../kube/owner.ts";
import { logger } from "../log.ts";
import { openBundleStore, type BundleSourcing } from "../policy/bundles/open.ts";
import type { BundleStore } from "../policy/bundles/store.ts";
import { closeServer, listenOn, listeningPort, listenProbes, type ListenAddress, type ProbeServer } from "../runtime/probe-server.ts";
import { guardedKeyring, type Keyring } from "../signing/keyring.ts";
import { startSigning, type SigningPlan } from "../signing/start.ts";
import type { ReviewLimits } from "../wire/parse.ts";
import { ClientAuth, ClientCaReloader } from "./client-auth.ts";
import { createDecisionLogger } from "./decision-log.ts";
import { createDenialEvents, type EventLimits } from "./denial-events.ts";
import { finishSeconds, ServerDrain } from "./drain.ts";
import { GatewayMetrics } from "./metrics.ts";
import type { PathToken } from "./path-token.ts";
import { createGatewayServer } from "./server.ts";
import { initialTls, type ServingTls } from "./serving-tls.ts";
import { CertificateReloader } from "./tls-reload.ts";

/**
 * Where policy context comes from. Offline, objects a request names are
 * absent; an API client may still be there for the Secrets the certificates
 * or signing keys are kept in.
 */
export type GatewayCluster = { mode: "cluster"; api: KubeApi } | { mode: "offline"; api?: KubeApi };

export interface GatewayConfig {
  listen: ListenAddress;
  tls: ServingTls;
  cluster: GatewayCluster;
  /** agentgate's own namespace: exempt, and where its generated certificate's names point */
  namespace: string;
  identity: Identity;
  bundles: BundleSourcing;
  signing: SigningPlan;
  /** admission endpoints only for callers with a client certificate from this CA (re-read as the file changes) */
  clientAuth?: { caFile: string; caPem: string; allowedNames: string[] };
  /** admission endpoints only at /validate/<token> and /mutate/<token> */
  pathToken?: PathToken;
  /** sign only while the webhook configurations of this name guard every write (cluster mode) */
  requireWebhooks?: { name: string; intervalMs?: number };
  reviewLimits: ReviewLimits;
  maxInFlight?: number;
  /** how long close() keeps answering, every answer closing its connection, before it stops listening */
  drainMs: number;
  /** OPA-shaped decision logs with these paths redacted; off when absent */
  decisionLog?: { redactions: string[] };
  eventLimits?: EventLimits;
  /** the run-time gateway's plain-HTTP listen address (cluster mode); off when absent */
  callsListen?: ListenAddress;
  /** /metrics also here, plain HTTP; off when absent */
  metricsListen?: ListenAddress;
  /** owner of the certificate Secret this gateway creates */
  owner?: Owner;
}

export interface RunningGateway {
  port: number;
  /** the CA of a generated certificate */
  caCert?: string;
  /** with tls.source "secret" */
  certificates?: CertificateManager;
  callsPort?: number;
  metricsPort?: number;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  const first = await initialTls(config.tls, config.namespace);
  const metrics = new GatewayMetrics();
  metrics.certificateLoaded(first.pair.cert, config.tls.source === "files" ? "files" : "generated");
  // Bundles are verified, loaded and swapped by the store; requests read store.engine() once each.
  const store = await openBundleStore(config.bundles, logger, metrics.bundles);
  if (first.caCert) logger.info("no certificate files: serving a self-signed certificate; put this CA in the webhook's caBundle", { caFile: config.tls.source === "generated" ? config.tls.caOut : undefined, ca: first.caCert });
  const parts = await serverParts(config, metrics, store, first.pair);
  const { server, lookup, keyring } = parts;
  const stopWatches = (): void => { parts.stopWatches(); };
  try {
    await listenOn(server, "listen", config.listen);
  } catch (err) {
    stopWatches();
    throw err;
  }
  let probes: ProbeServer | undefined;
  let calls: RunningCallGateway | undefined;
  try {
    if (config.metricsListen) probes = await listenProbes("metricsListen", config.metricsListen, { metrics: metrics.registry });
    const kc = config.cluster.mode === "cluster" ? config.cluster.api : undefined;
    // Loaded only when asked for (the chart leaves it off): ~70 KB of source and its graph are not resident in every replica.
    if (config.callsListen && kc) calls = await (await import("../calls/start.ts")).startCallGateway({ ...config.callsListen, ledgerNamespace: config.namespace }, kc, () => store.engine(), lookup, keyring.resolve, logger).catch((err: unknown) => { throw new AgentgateError("input", errorMessage(err), { field: "callsListen", cause: err }); });
  } catch (err) {
    await closeServer(server);
    await probes?.close();
    stopWatches();
    throw err;
  }
  const port = listeningPort(server);
  logger.info("agentgate serving", { listen: `${config.listen.host}:${port}`, offline: config.cluster.mode === "offline", bundles: store.status() });
  // Caches sync in the background; /readyz says when.
  parts.cluster?.start().catch((err: unknown) => logger.error("watch caches failed to start", { error: errorMessage(err) }));
  return {
    port,
    ...(first.caCert ? { caCert: first.caCert } : {}),
    ...(parts.certs ? { certificates: parts.certs } : {}),
    ...(calls ? { callsPort: calls.port } : {}),
    ...(probes ? { metricsPort: probes.port } : {}),
    async close() {
      // Not ready first, so endpoints drop this pod; meanwhile every answer
      // closes its connection, so pooled clients reconnect elsewhere.
      parts.drain.begin();
      if (config.drainMs > 0) await new Promise((r) => setTimeout(r, config.drainMs));
      stopWatches();
      await calls?.close();
      const finishMs = finishSeconds(config.drainMs / 1000) * 1000;
      const { cut } = await parts.drain.shutdown(finishMs);
      if (cut > 0) logger.warn("connections still open after the drain were closed", { connections: cut, finishSeconds: finishMs / 1000 });
      await parts.cluster?.stop();
      // Last: a scrape during the drain still sees the gateway's counters.
      await probes?.close();
    },
  };
}

interface ServerParts {
  server: ReturnType<typeof createGatewayServer>;
  drain: ServerDrain;
  lookup: ObjectLookup;
  keyring: Keyring;
  cluster?: ClusterLookup;
  certs?: CertificateManager;
  /** the watches and timers a running gateway holds: stopped on close, and when it fails to start (nothing may keep the process up) */
  stopWatches(): void;
}

/** The webhook server, not yet listening, with what it reads: context, keys, certificates. */
async function serverParts(config: GatewayConfig, metrics: GatewayMetrics, store: BundleStore, pair: { cert: string; key: string }): Promise<ServerParts> {
  const kc = config.cluster.mode === "cluster" ? config.cluster.api : undefined;
  const cluster = kc ? new ClusterLookup(kc, logger, (kind, synced) => metrics.cacheSynced.set({ kind }, synced ? 1 : 0)) : undefined;
  const lookup: ObjectLookup = cluster ?? new StaticLookup();
  const onDeniedUpdate = kc ? createDenialEvents(kc, logger, metrics.registry, config.eventLimits) : undefined;
  const guard = config.requireWebhooks && kc ? new RegistrationGuard(clusterReader(kc), config.requireWebhooks.name, logger, config.requireWebhooks.intervalMs) : undefined;
  await guard?.start();
  // The signing keys outlive the Deployment (no owner): stored runs and provenance are verified
  // with them, and a deleted Deployment (helm upgrade --force, a rename) must not take them along.
  const signingKeys = await startSigning(config.signing, config.cluster.api, logger);
  const keyring = guard ? guardedKeyring(signingKeys, () => guard.blocked()) : signingKeys;
  const clientAuth = config.clientAuth ? new ClientAuth({ caPem: config.clientAuth.caPem, allowedNames: config.clientAuth.allowedNames }) : undefined;
  let certs: CertificateManager | undefined;
  const server = createGatewayServer({
    tls: pair,
    deps: { engine: () => store.engine(), lookup, identity: config.identity, exemptNamespaces: exemptNamespaces(config.namespace), keyring, ...(kc ? { access: new ClusterAccessReviewer(kc) } : {}) },
    metrics,
    log: logger,
    notReady: () => (drain.draining ? "shutting down" : (store.notReady() ?? keyring.notReady() ?? certs?.notReady() ?? cluster?.notSynced())),
    readyNotes: () => [...store.degraded(), ...(guard?.blocked() ? [guard.blocked() ?? ""] : [])],
    ...(config.decisionLog ? { decisions: createDecisionLogger(logger, config.decisionLog.redactions) } : {}),
    ...(onDeniedUpdate ? { onDeniedUpdate } : {}),
    ...(clientAuth ? { clientAuth } : {}),
    ...(config.pathToken ? { pathToken: config.pathToken } : {}),
    reviewLimits: config.reviewLimits,
    ...(config.maxInFlight !== undefined ? { maxInFlight: config.maxInFlight } : {}),
  });
  const drain = new ServerDrain(server);
  config.pathToken?.start(logger);
  const caReloader = clientAuth && config.clientAuth ? new ClientCaReloader(clientAuth, config.clientAuth.caFile, logger) : undefined;
  caReloader?.start();
  const { tls } = config;
  const reloader = tls.source === "files" ? new CertificateReloader(server, tls.certFile, tls.keyFile, tls.pair, logger, (p) => metrics.certificateLoaded(p.cert, "files")) : undefined;
  reloader?.start();
  if (tls.source === "secret" && config.cluster.api) {
    certs = startSelfManaged(tls.plan, config.cluster.api, logger, (p) => {
      server.setSecureContext({ cert: p.cert, key: p.key, minVersion: "TLSv1.2" });
      metrics.certificateLoaded(p.cert, "secret");
    }, config.owner);
  }
  const stopWatches = (): void => {
    reloader?.stop();
    caReloader?.stop();
    store.stop();
    certs?.stop();
    keyring.stop();
    guard?.stop();
    config.pathToken?.stop();
  };
  return { server, drain, lookup, keyring, ...(cluster ? { cluster } : {}), ...(certs ? { certs } : {}), stopWatches };
}
