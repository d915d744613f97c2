// Self-managed certificates (`agentgate serve --cert-secret NS/NAME`): the
// config checked before anything starts, and the manager it makes. The
// config is typed (durations in ms); src/cli/cert-flags.ts makes it from
// the flags and words CertConfigError by flag.
import type { KubeApi } from "../kube/api.ts";
import type { Logger } from "../log.ts";
import { AgentgateError } from "../errors.ts";
import { parseWebhookConfigRef, WebhookConfigRefError, type WebhookConfigRef } from "./ca-bundle.ts";
import { CertificateManager } from "./manager.ts";
import type { KeyPairPem } from "./material.ts";
import type { Owner } from "../kube/owner.ts";
import { serviceHosts, type RotationPolicy } from "./rotate.ts";
import { parseSecretRef, SecretRefError, type SecretRef } from "./secret-store.ts";

export interface SelfManagedConfig {
  /** NAMESPACE/NAME of the Secret that keeps the CA and the serving certificate */
  secret: string;
  /** the Service whose DNS names the certificate carries */
  service: string;
  /** more DNS names or IPs (a gateway reached by URL) */
  extraHosts: readonly string[];
  /** NAME, validating/NAME or mutating/NAME: webhook configurations whose caBundle is kept in step */
  webhookConfigs: readonly string[];
  servingValidityMs: number;
  caValidityMs: number;
  /** agentgate's namespace: the Service's */
  namespace: string;
}

/** Shorter than this, renewals would chase each other; tests use 20 s. */
export const MIN_VALIDITY_MS = 10_000;

/** A config value refused: `field` names it, `value` is it as given, `problem` says why (the message is all three). */
export class CertConfigError extends AgentgateError {
  readonly value: string;
  readonly problem: string;
  constructor(field: "secret" | "service" | "extraHosts" | "webhookConfigs" | "servingValidityMs" | "caValidityMs", value: string, problem: string) {
    super("usage", `${field} ${JSON.stringify(value)}: ${problem}`, { field });
    this.name = "CertConfigError";
    this.value = value;
    this.problem = problem;
  }
}

export interface SelfManagedPlan {
  secret: SecretRef;
  policy: RotationPolicy;
  webhookConfigs: WebhookConfigRef[];
}

const HOST = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*|[\d.]+|[0-9a-f:]+)$/i;

/** A parse error of a ref, as the CertConfigError of its field: the ref's message is the value and the problem. */
function refused(field: "secret" | "webhookConfigs", text: string, err: SecretRefError | WebhookConfigRefError): CertConfigError {
  return new CertConfigError(field, text, err.message.slice(JSON.stringify(text).length + 2));
}

/** Checks the config; throws CertConfigError naming the field and the problem. */
export function planSelfManaged(config: SelfManagedConfig): SelfManagedPlan {
  let secret: SecretRef;
  try {
    secret = parseSecretRef(config.secret);
  } catch (err) {
    throw err instanceof SecretRefError ? refused("secret", config.secret, err) : err;
  }
  if (!HOST.test(config.service)) throw new CertConfigError("service", config.service, "not a DNS name or IP address");
  for (const h of config.extraHosts) if (!HOST.test(h)) throw new CertConfigError("extraHosts", h, "not a DNS name or IP address");
  for (const [field, ms] of [["servingValidityMs", config.servingValidityMs], ["caValidityMs", config.caValidityMs]] as const) {
    if (!(ms >= MIN_VALIDITY_MS)) throw new CertConfigError(field, String(ms), `must be at least ${String(MIN_VALIDITY_MS / 1000)}s`);
  }
  const webhookConfigs = config.webhookConfigs.map((text) => {
    try {
      return parseWebhookConfigRef(text);
    } catch (err) {
      throw err instanceof WebhookConfigRefError ? refused("webhookConfigs", text, err) : err;
    }
  });
  return {
    secret,
    policy: {
      hosts: [...new Set([...serviceHosts(config.service, config.namespace), ...config.extraHosts])],
      servingValidityMs: config.servingValidityMs,
      caValidityMs: config.caValidityMs,
    },
    webhookConfigs,
  };
}

export function startSelfManaged(plan: SelfManagedPlan, api: KubeApi, log: Logger, onCertificate: (pair: KeyPairPem) => void, owner?: Owner): CertificateManager {
  const manager = new CertificateManager({ ...plan, api, log, onCertificate, ...(owner ? { owner } : {}) });
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
