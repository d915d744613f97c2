// `agentgate serve --cert-secret NS/NAME`: the serve flags of self-managed
// certificates, checked before anything starts, and the manager they make.
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import { DurationError, parseDurationNs } from "../policy/builtins/duration.ts";
import { parseWebhookConfigRef, WebhookConfigRefError, type WebhookConfigRef } from "./ca-bundle.ts";
import { CertificateManager } from "./manager.ts";
import type { KeyPairPem } from "./material.ts";
import type { Owner } from "../owner.ts";
import { serviceHosts, type RotationPolicy } from "./rotate.ts";
import { parseSecretRef, SecretRefError, type SecretRef } from "./secret-store.ts";

export interface SelfManagedFlags {
  certSecret: string;
  /** the Service whose DNS names the certificate carries */
  certService?: string;
  /** more DNS names or IPs (a gateway reached by URL) */
  certHost?: string[];
  webhookConfig?: string[];
  certValidity?: string;
  caValidity?: string;
  /** agentgate's namespace: the Service's */
  namespace: string;
}

export const DEFAULT_CERT_VALIDITY = "8760h";
export const DEFAULT_CA_VALIDITY = "87600h";
/** Shorter than this, renewals would chase each other; tests use 20 s. */
const MIN_VALIDITY_MS = 10_000;

export class CertFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertFlagError";
  }
}

export interface SelfManagedPlan {
  secret: SecretRef;
  policy: RotationPolicy;
  webhookConfigs: WebhookConfigRef[];
}

function validityMs(flag: string, text: string): number {
  let ns: bigint;
  try {
    ns = parseDurationNs(text);
  } catch (err) {
    if (err instanceof DurationError) throw new CertFlagError(`${flag} ${JSON.stringify(text)}: expected a duration such as 8760h, 30m or 20s`);
    throw err;
  }
  const ms = Number(ns / 1_000_000n);
  if (ms < MIN_VALIDITY_MS) throw new CertFlagError(`${flag} ${JSON.stringify(text)}: must be at least 10s`);
  return ms;
}

const HOST = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*|[\d.]+|[0-9a-f:]+)$/i;

/** Checks the flags; throws CertFlagError naming the flag and the problem. */
export function planSelfManaged(flags: SelfManagedFlags): SelfManagedPlan {
  try {
    const secret = parseSecretRef(flags.certSecret);
    const service = flags.certService ?? "agentgate";
    const extra = flags.certHost ?? [];
    for (const h of [service, ...extra]) if (!HOST.test(h)) throw new CertFlagError(`--cert-host ${JSON.stringify(h)}: not a DNS name or IP address`);
    return {
      secret,
      policy: {
        hosts: [...new Set([...serviceHosts(service, flags.namespace), ...extra])],
        servingValidityMs: validityMs("--cert-validity", flags.certValidity ?? DEFAULT_CERT_VALIDITY),
        caValidityMs: validityMs("--ca-validity", flags.caValidity ?? DEFAULT_CA_VALIDITY),
      },
      webhookConfigs: (flags.webhookConfig ?? []).map(parseWebhookConfigRef),
    };
  } catch (err) {
    if (err instanceof SecretRefError || err instanceof WebhookConfigRefError) throw new CertFlagError(err.message);
    throw err;
  }
}

export function startSelfManaged(plan: SelfManagedPlan, kubeConfig: k8s.KubeConfig, log: Logger, onCertificate: (pair: KeyPairPem) => void, owner?: Owner): CertificateManager {
  const manager = new CertificateManager({ ...plan, kubeConfig, log, onCertificate, ...(owner ? { owner } : {}) });
  manager.start();
  log.info("self-managed certificates", {
    secret: `${plan.secret.namespace}/${plan.secret.name}`,
    hosts: plan.policy.hosts,
    webhookConfigurations: plan.webhookConfigs.map((r) => r.name),
    certValidityMs: plan.policy.servingValidityMs,
    caValidityMs: plan.policy.caValidityMs,
  });
  return manager;
}
