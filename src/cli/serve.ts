// `agentgate serve`: the webhook server.
import { clusterReader, RegistrationGuard } from "../gateway/registration-guard.ts";
import { guardedKeyring } from "../signing/keyring.ts";
import { PathToken } from "../server/path-token.ts";
import { writeFile } from "node:fs/promises";
import type { CertificateManager } from "../certs/manager.ts";
import { CertFlagError, planSelfManaged, startSelfManaged, type SelfManagedPlan } from "../certs/self-managed.ts";
import { ClusterLookup } from "../context/cluster-lookup.ts";
import { StaticLookup } from "../context/static-lookup.ts";
import type { ObjectLookup } from "../context/lookup.ts";
import type { GatewayDeps } from "../gateway/admit.ts";
import { exemptNamespaces } from "../gateway/exemptions.ts";
import { makeIdentity } from "../guardrails/identity.ts";
import { logger } from "../log.ts";
import { openBundleStore, type BundleFlags } from "../policy/bundle-store.ts";
import { GatewayMetrics } from "../server/metrics.ts";
import { createGatewayServer } from "../server/server.ts";
import { createDecisionLogger, DEFAULT_REDACTIONS } from "../server/decision-log.ts";
import { createDenialEvents, type EventLimits } from "../server/denial-events.ts";
import { ClientAuth, ClientCaReloader, readCaBundle } from "../server/client-auth.ts";
import { DEFAULT_REVIEW_LIMITS } from "../wire/parse.ts";
import { ServerDrain, finishSeconds } from "../server/drain.ts";
import { CertificateReloader, readKeyPair, type KeyPair } from "../server/tls-reload.ts";
import { generateServingCertificate } from "../tls/self-signed.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { loadKubeConfig, parseListen } from "./environment.ts";
import { describeFileError } from "./file-errors.ts";
import { InputError } from "./manifests.ts";
import { planSigningKeyring, startSigningKeyring, type SigningFlags } from "./signing-flags.ts";
import { ClusterAccessReviewer } from "../context/access-review.ts";
import { startCallGateway, type RunningCallGateway } from "../calls/start.ts";
import type { Server as HttpServer } from "node:http";
import { listenMetrics, listeningPort } from "../server/metrics-server.ts";
import { parseOwnerFlag, resolveOwner, type Owner } from "../owner.ts";

export interface ServeOptions extends BundleFlags, SigningFlags {
  listen: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  bundle: string[];
  policyConfig?: string;
  kubeconfig?: string;
  context?: string;
  offline: boolean;
  namespace: string;
  serviceAccount: string;
  trustedUser: string[];
  caOut?: string;
  /** admission endpoints only for callers with a client certificate from this CA */
  clientCaFile?: string;
  /** with clientCaFile: the subject CNs allowed (none: any the CA signed) */
  clientCn?: string[];
  /** admission endpoints only at /validate/<token> and /mutate/<token> */
  webhookPathTokenFile?: string;
  /** how many Events denied updates may write (tests; default DEFAULT_EVENT_LIMITS) */
  eventLimits?: EventLimits;
  /** sign only while the Validating and MutatingWebhookConfiguration of this name guard every write */
  requireWebhooks?: string;
  /** how often requireWebhooks is read (ms; default 5000) */
  requireWebhooksIntervalMs?: number;
  /** deny a review holding more JSON values than this, unevaluated */
  maxReviewValues?: number;
  /** deny a review nesting deeper than this, unevaluated */
  maxReviewDepth?: number;
  /** admission reviews in flight at most; more are denied unevaluated, [gateway-overloaded] (DEFAULT_MAX_IN_FLIGHT when absent) */
  maxInFlight?: number;
  drainSeconds: number;
  /** self-managed certificates: NS/NAME of the Secret that holds them */
  certSecret?: string;
  certService?: string;
  certHost?: string[];
  webhookConfig?: string[];
  certValidity?: string;
  caValidity?: string;
  decisionLogs?: boolean;
  decisionLogRedact?: string[];
  decisionLogNoDefaultRedactions?: boolean;
  /** kagent's controller identity (makes the Deployment of a run's Agent) */
  kagentServiceAccount?: string[];
  /** Tekton's controller identity (makes CustomRuns for PipelineRuns) */
  tektonServiceAccount?: string[];
  /** the run-time gateway's listen address (plain HTTP; docs/run-time-gateway.md); off when absent */
  callsListen?: string;
  /** --metrics-listen: /metrics also here, plain HTTP (it stays on --listen, over TLS); off when absent */
  metricsListen?: string;
  /** deployment/NAME in --namespace: owner of the certificate Secret this gateway creates (src/owner.ts); the signing keys have none */
  owner?: string;
}

export interface RunningGateway {
  port: number;
  caCert?: string;
  /** with --cert-secret */
  certificates?: CertificateManager;
  /** with --calls-listen: the run-time gateway's port */
  callsPort?: number;
  /** with --metrics-listen: the plain /metrics port */
  metricsPort?: number;
  close(): Promise<void>;
}

/** What the API server accepts as an object's name (a DNS-1123 subdomain). */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export async function startGateway(opts: ServeOptions): Promise<RunningGateway> {
  // Flags and the files they name first: a mistake is one line, before a
  // bundle is loaded, a certificate generated or the cluster watched.
  const { host, port } = parseListen(opts.listen);
  if ((opts.clientCn ?? []).length > 0 && opts.clientCaFile === undefined) throw new InputError("--client-cn needs --client-ca-file: the names are checked on certificates that CA signed");
  let clientAuth: ClientAuth | undefined;
  if (opts.clientCaFile !== undefined) {
    const caPem = await readCaBundle(opts.clientCaFile).catch((err: unknown) => {
      throw new InputError(`--client-ca-file: ${err instanceof Error ? err.message : String(err)}`);
    });
    clientAuth = new ClientAuth({ caPem, allowedNames: opts.clientCn ?? [] });
  }
  const calls = opts.callsListen !== undefined ? parseListen(opts.callsListen, "--calls-listen") : undefined;
  const metricsAddress = opts.metricsListen !== undefined ? parseListen(opts.metricsListen, "--metrics-listen") : undefined;
  if (calls && opts.offline) throw new InputError("--calls-listen needs a cluster: a run's calls are checked with TokenReview against its AgentRun (drop --offline)");
  if (opts.requireWebhooks !== undefined) {
    if (opts.offline) throw new InputError("--require-webhooks needs a cluster: it reads the webhook configurations (drop --offline)");
    if (!DNS_SUBDOMAIN.test(opts.requireWebhooks)) throw new InputError(`--require-webhooks ${JSON.stringify(opts.requireWebhooks)}: not a webhook configuration name (lowercase letters, digits, - and ., at most 253)`);
  }
  let pathToken: PathToken | undefined;
  if (opts.webhookPathTokenFile !== undefined) {
    try {
      pathToken = PathToken.fromFile(opts.webhookPathTokenFile);
    } catch (err) {
      throw new InputError(`--webhook-path-token-file: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let selfManaged: SelfManagedPlan | undefined;
  if (opts.certSecret !== undefined) {
    if (opts.tlsCertFile || opts.tlsKeyFile) throw new InputError("--cert-secret and --tls-cert-file/--tls-key-file exclude each other: the certificate comes from the Secret or from files");
    try {
      selfManaged = planSelfManaged({ ...opts, certSecret: opts.certSecret });
    } catch (err) {
      if (err instanceof CertFlagError) throw new InputError(err.message);
      throw err;
    }
  }
  let files: KeyPair | undefined;
  if (opts.tlsCertFile || opts.tlsKeyFile) {
    if (!opts.tlsCertFile || !opts.tlsKeyFile) throw new InputError("--tls-cert-file and --tls-key-file go together");
    files = await readKeyPair(opts.tlsCertFile, opts.tlsKeyFile).catch((err: unknown) => {
      throw new InputError(`--tls-cert-file/--tls-key-file: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
  const signing = await planSigningKeyring(opts);
  const ownerFlag = opts.owner !== undefined ? parseOwnerFlag(opts.owner) : undefined;
  // The Secrets live in the cluster even when policy context does not (--offline).
  const inCluster = selfManaged !== undefined || signing.kind === "secret";
  const kc = !opts.offline || inCluster ? loadKubeConfig(opts, inCluster ? "" : ", or --offline") : undefined;
  if (ownerFlag && !kc) throw new InputError("--owner needs a cluster: it names what the gateway creates there (--cert-secret, --signing-keys)");
  const owner: Owner | undefined = ownerFlag && kc ? await resolveOwner(kc, opts.namespace, ownerFlag) : undefined;

  let tls: KeyPair;
  let caCert: string | undefined;
  if (files) {
    tls = files;
  } else if (selfManaged) {
    // Served only until the Secret's certificate is loaded; /readyz says not ready meanwhile.
    const placeholder = generateServingCertificate(selfManaged.policy.hosts, 1);
    tls = { cert: placeholder.cert, key: placeholder.key };
  } else {
    const svc = "agentgate";
    const generated = generateServingCertificate(["localhost", "127.0.0.1", "::1", svc, `${svc}.${opts.namespace}`, `${svc}.${opts.namespace}.svc`]);
    tls = { cert: generated.cert, key: generated.key };
    caCert = generated.caCert;
    const caOut = opts.caOut;
    if (caOut) {
      await writeFile(caOut, caCert).catch((err: unknown) => {
        throw new InputError(`--ca-out ${caOut}: cannot write: ${describeFileError(err, "write")}`);
      });
    }
  }

  const metrics = new GatewayMetrics();
  metrics.certificateLoaded(tls.cert, files ? "files" : "generated");
  // Bundles are verified, loaded and swapped by the store; requests read store.engine() once each.
  const store = await openBundleStore(opts, logger, metrics.bundles);
  if (caCert) logger.info("no --tls-cert-file: serving a self-signed certificate; put this CA in the webhook's caBundle", { caFile: opts.caOut, ca: caCert });

  let lookup: ObjectLookup;
  let cluster: ClusterLookup | undefined;
  let onDeniedUpdate: ((request: AdmissionRequest, message: string) => void) | undefined;
  if (kc && !opts.offline) {
    cluster = new ClusterLookup(kc, logger, (kind, synced) => metrics.cacheSynced.set({ kind }, synced ? 1 : 0));
    lookup = cluster;
    onDeniedUpdate = createDenialEvents(kc, logger, metrics.registry, opts.eventLimits);
  } else {
    lookup = new StaticLookup();
  }
  const redactions = [...(opts.decisionLogNoDefaultRedactions === true ? [] : DEFAULT_REDACTIONS), ...(opts.decisionLogRedact ?? [])];
  const decisions = opts.decisionLogs === true ? createDecisionLogger(logger, redactions) : undefined;

  const identity = makeIdentity([opts.serviceAccount, ...opts.trustedUser], {
    ...(opts.kagentServiceAccount && opts.kagentServiceAccount.length > 0 ? { kagent: opts.kagentServiceAccount } : {}),
    ...(opts.tektonServiceAccount && opts.tektonServiceAccount.length > 0 ? { tekton: opts.tektonServiceAccount } : {}),
  });
  const guard = opts.requireWebhooks !== undefined && kc && !opts.offline ? new RegistrationGuard(clusterReader(kc), opts.requireWebhooks, logger, opts.requireWebhooksIntervalMs) : undefined;
  await guard?.start();
  // The signing keys outlive the Deployment (no owner): stored runs and provenance are verified
  // with them, and a deleted Deployment (helm upgrade --force, a rename) must not take them along.
  const signingKeys = await startSigningKeyring(signing, kc, logger);
  const keyring = guard ? guardedKeyring(signingKeys, () => guard.blocked()) : signingKeys;
  if (signing.kind === "fixed" && opts.signingKeyFile === undefined) logger.warn("no --signing-keys or --signing-key-file: decisions are signed with a key made for this process, which no controller can verify once it stops");
  const deps: GatewayDeps = {
    engine: () => store.engine(),
    lookup,
    identity,
    exemptNamespaces: exemptNamespaces(opts.namespace),
    keyring,
    ...(kc && !opts.offline ? { access: new ClusterAccessReviewer(kc) } : {}),
  };
  let certs: CertificateManager | undefined;
  const server = createGatewayServer({
    tls,
    deps,
    metrics,
    log: logger,
    // drain is set just below, before the server listens.
    notReady: () => (drain.draining ? "shutting down" : (store.notReady() ?? keyring.notReady() ?? certs?.notReady() ?? cluster?.notSynced())),
    readyNotes: () => [...store.degraded(), ...(guard?.blocked() ? [guard.blocked() ?? ""] : [])],
    ...(decisions ? { decisions } : {}),
    ...(onDeniedUpdate ? { onDeniedUpdate } : {}),
    ...(clientAuth ? { clientAuth } : {}),
    ...(pathToken ? { pathToken } : {}),
    reviewLimits: { maxValues: opts.maxReviewValues ?? DEFAULT_REVIEW_LIMITS.maxValues, maxDepth: opts.maxReviewDepth ?? DEFAULT_REVIEW_LIMITS.maxDepth },
    ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
  });
  pathToken?.start(logger);
  const clientCaReloader = clientAuth && opts.clientCaFile !== undefined ? new ClientCaReloader(clientAuth, opts.clientCaFile, logger) : undefined;
  clientCaReloader?.start();
  const drain = new ServerDrain(server);
  let reloader: CertificateReloader | undefined;
  if (opts.tlsCertFile && opts.tlsKeyFile) {
    reloader = new CertificateReloader(server, opts.tlsCertFile, opts.tlsKeyFile, tls, logger, (pair) => metrics.certificateLoaded(pair.cert, "files"));
    reloader.start();
  }
  if (selfManaged && kc) {
    certs = startSelfManaged(selfManaged, kc, logger, (pair) => {
      server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: "TLSv1.2" });
      metrics.certificateLoaded(pair.cert, "secret");
    }, owner);
  }
  // The watches and timers a running gateway holds: stopped on close, and when it fails to start (nothing may keep the process up).
  const stopWatches = (): void => {
    reloader?.stop();
    clientCaReloader?.stop();
    store.stop();
    certs?.stop();
    keyring.stop();
    guard?.stop();
    pathToken?.stop();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new InputError(`--listen ${opts.listen}: ${err.message}`)));
      server.listen(port, host, resolve);
    });
  } catch (err) {
    stopWatches();
    throw err;
  }
  let metricsServer: HttpServer | undefined;
  const closeMetrics = (): Promise<void> => new Promise((resolve) => { if (metricsServer) metricsServer.close(() => resolve()); else resolve(); });
  if (metricsAddress) {
    try {
      metricsServer = await listenMetrics(metrics.registry, metricsAddress);
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      stopWatches();
      throw new InputError(`--metrics-listen ${opts.metricsListen ?? ""}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let callGateway: RunningCallGateway | undefined;
  if (calls && kc) {
    try {
      callGateway = await startCallGateway({ ...calls, ledgerNamespace: opts.namespace }, kc, () => store.engine(), lookup, keyring.resolve, logger);
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeMetrics();
      stopWatches();
      throw new InputError(`--calls-listen ${opts.callsListen ?? ""}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  logger.info("agentgate serving", { listen: `${host}:${boundPort}`, offline: opts.offline, bundles: store.status() });
  // Caches sync in the background; /readyz says when.
  cluster?.start().catch((err: unknown) => logger.error("watch caches failed to start", { error: err instanceof Error ? err.message : String(err) }));

  return {
    port: boundPort,
    ...(caCert ? { caCert } : {}),
    ...(certs ? { certificates: certs } : {}),
    ...(callGateway ? { callsPort: callGateway.port } : {}),
    ...(metricsServer ? { metricsPort: listeningPort(metricsServer) } : {}),
    async close() {
      // Not ready first, so endpoints drop this pod; meanwhile every answer
      // closes its connection, so pooled clients reconnect elsewhere.
      drain.begin();
      if (opts.drainSeconds > 0) await new Promise((r) => setTimeout(r, opts.drainSeconds * 1000));
      stopWatches();
      await callGateway?.close();
      const finishMs = finishSeconds(opts.drainSeconds) * 1000;
      const { cut } = await drain.shutdown(finishMs);
      if (cut > 0) logger.warn("connections still open after the drain were closed", { connections: cut, finishSeconds: finishMs / 1000 });
      await cluster?.stop();
      // Last: a scrape during the drain still sees the gateway's counters.
      await closeMetrics();
    },
  };
}

export async function runServe(opts: ServeOptions): Promise<number> {
  const gateway = await startGateway(opts);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info("shutting down", { signal, drainSeconds: opts.drainSeconds });
      gateway.close().then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}
