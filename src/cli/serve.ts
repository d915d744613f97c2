// `agentgate serve`: the webhook server's flags, checked and turned into
// the typed GatewayConfig of src/server/start.ts (the files they name read,
// exclusive modes refused) before anything starts; then the one start().
// Errors from below name config fields; they are worded by flag here.
import { planSelfManagedFlags } from "./cert-flags.ts";
import { AgentgateError, InputError } from "../errors.ts";
import { makeIdentity } from "../guardrails/identity.ts";
import { parseOwnerFlag, resolveOwnerFlag } from "./owner-flag.ts";
import { logger } from "../log.ts";
import { runUntilSignal } from "../runtime/signals.ts";
import { readCaBundle } from "../server/client-auth.ts";
import { DEFAULT_REDACTIONS } from "../server/decision-log.ts";
import type { EventLimits } from "../server/denial-events.ts";
import { PathToken } from "../server/path-token.ts";
import { startGateway as start, type GatewayConfig, type RunningGateway } from "../server/start.ts";
import type { ServingTls } from "../server/serving-tls.ts";
import { readKeyPair } from "../server/tls-reload.ts";
import { DEFAULT_REVIEW_LIMITS } from "../wire/parse.ts";
import { bundleSourcing, type BundleFlags } from "./bundle-flags.ts";
import { kubeApiFor, parseListen } from "./environment.ts";
import { planSigningKeyring, type SigningFlags } from "./signing-flags.ts";

export type { RunningGateway };

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
  /** deployment/NAME in --namespace: owner of the certificate Secret this gateway creates (src/kube/owner.ts); the signing keys have none */
  owner?: string;
}

/** What the API server accepts as an object's name (a DNS-1123 subdomain). */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The flag that set each config field start() may name in an error, and its value. */
function flagOf(field: string | undefined, opts: ServeOptions): string | undefined {
  switch (field) {
    case "listen": return `--listen ${opts.listen}`;
    case "metricsListen": return `--metrics-listen ${opts.metricsListen ?? ""}`;
    case "callsListen": return `--calls-listen ${opts.callsListen ?? ""}`;
    case "tls.caOut": return `--ca-out ${opts.caOut ?? ""}`;
    default: return undefined;
  }
}

/** Flags → config → the one start(); tests start the gateway this way too, flags and all. */
export async function startGateway(opts: ServeOptions): Promise<RunningGateway> {
  const config = await gatewayConfig(opts);
  try {
    const gateway = await start(config);
    // Once started: a start that failed says only why.
    if (config.signing.kind === "fixed" && opts.signingKeyFile === undefined) logger.warn("no --signing-keys or --signing-key-file: decisions are signed with a key made for this process, which no controller can verify once it stops");
    return gateway;
  } catch (err) {
    const flag = err instanceof AgentgateError ? flagOf(err.field, opts) : undefined;
    throw flag !== undefined && err instanceof Error ? new InputError(`${flag}: ${err.message}`, { cause: err }) : err;
  }
}

/** Flags and the files they name: a mistake is one line, before a bundle is loaded, a certificate generated or the cluster watched. */
export async function gatewayConfig(opts: ServeOptions): Promise<GatewayConfig> {
  const listen = parseListen(opts.listen);
  if ((opts.clientCn ?? []).length > 0 && opts.clientCaFile === undefined) throw new InputError("--client-cn needs --client-ca-file: the names are checked on certificates that CA signed");
  const caFile = opts.clientCaFile;
  const caPem = caFile !== undefined ? await readCaBundle(caFile).catch((err: unknown) => { throw new InputError(`--client-ca-file: ${err instanceof Error ? err.message : String(err)}`); }) : undefined;
  const callsListen = opts.callsListen !== undefined ? parseListen(opts.callsListen, "--calls-listen") : undefined;
  const metricsListen = opts.metricsListen !== undefined ? parseListen(opts.metricsListen, "--metrics-listen") : undefined;
  if (callsListen && opts.offline) throw new InputError("--calls-listen needs a cluster: a run's calls are checked with TokenReview against its AgentRun (drop --offline)");
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
  const tls = await servingTls(opts);
  const signing = await planSigningKeyring(opts);
  const bundles = bundleSourcing(opts);
  const ownerFlag = opts.owner !== undefined ? parseOwnerFlag(opts.owner) : undefined;
  // The Secrets live in the cluster even when policy context does not (--offline).
  const inCluster = tls.source === "secret" || signing.kind === "secret";
  const api = !opts.offline || inCluster ? kubeApiFor(opts, inCluster ? "" : ", or --offline", { userAgent: "agentgate-gateway" }) : undefined;
  if (ownerFlag && !api) throw new InputError("--owner needs a cluster: it names what the gateway creates there (--cert-secret, --signing-keys)");
  const owner = ownerFlag && api ? await resolveOwnerFlag(api, opts.namespace, ownerFlag) : undefined;
  return {
    listen,
    tls,
    cluster: !opts.offline && api ? { mode: "cluster", api } : { mode: "offline", ...(api ? { api } : {}) },
    namespace: opts.namespace,
    identity: makeIdentity([opts.serviceAccount, ...opts.trustedUser], {
      ...(opts.kagentServiceAccount && opts.kagentServiceAccount.length > 0 ? { kagent: opts.kagentServiceAccount } : {}),
      ...(opts.tektonServiceAccount && opts.tektonServiceAccount.length > 0 ? { tekton: opts.tektonServiceAccount } : {}),
    }),
    bundles,
    signing,
    ...(caFile !== undefined && caPem !== undefined ? { clientAuth: { caFile, caPem, allowedNames: opts.clientCn ?? [] } } : {}),
    ...(pathToken ? { pathToken } : {}),
    ...(opts.requireWebhooks !== undefined ? { requireWebhooks: { name: opts.requireWebhooks, ...(opts.requireWebhooksIntervalMs !== undefined ? { intervalMs: opts.requireWebhooksIntervalMs } : {}) } } : {}),
    reviewLimits: { maxValues: opts.maxReviewValues ?? DEFAULT_REVIEW_LIMITS.maxValues, maxDepth: opts.maxReviewDepth ?? DEFAULT_REVIEW_LIMITS.maxDepth },
    ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
    drainMs: opts.drainSeconds * 1000,
    ...(opts.decisionLogs === true ? { decisionLog: { redactions: [...(opts.decisionLogNoDefaultRedactions === true ? [] : DEFAULT_REDACTIONS), ...(opts.decisionLogRedact ?? [])] } } : {}),
    ...(opts.eventLimits ? { eventLimits: opts.eventLimits } : {}),
    ...(callsListen ? { callsListen } : {}),
    ...(metricsListen ? { metricsListen } : {}),
    ...(owner ? { owner } : {}),
  };
}

/** --tls-cert-file/--tls-key-file, --cert-secret, or neither: a certificate made for this process. */
async function servingTls(opts: ServeOptions): Promise<ServingTls> {
  const { tlsCertFile: certFile, tlsKeyFile: keyFile } = opts;
  if (opts.certSecret !== undefined) {
    if (certFile || keyFile) throw new InputError("--cert-secret and --tls-cert-file/--tls-key-file exclude each other: the certificate comes from the Secret or from files");
    return { source: "secret", plan: planSelfManagedFlags({ ...opts, certSecret: opts.certSecret }) };
  }
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new InputError("--tls-cert-file and --tls-key-file go together");
    const pair = await readKeyPair(certFile, keyFile).catch((err: unknown) => {
      throw new InputError(`--tls-cert-file/--tls-key-file: ${err instanceof Error ? err.message : String(err)}`);
    });
    return { source: "files", certFile, keyFile, pair };
  }
  return { source: "generated", ...(opts.caOut ? { caOut: opts.caOut } : {}) };
}

export async function runServe(opts: ServeOptions): Promise<number> {
  const gateway = await startGateway(opts);
  return runUntilSignal({ stop: () => gateway.close() }, { log: logger, message: "shutting down", fields: { drainSeconds: opts.drainSeconds } });
}
