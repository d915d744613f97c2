// serve's self-managed certificate flags (--cert-secret, --cert-service,
// --cert-host, --webhook-config, --cert-validity, --ca-validity) as the
// typed SelfManagedConfig of src/certs/self-managed.ts: durations parsed
// here, and each refusal worded by the flag that was given.
import { DurationError, parseDurationNs } from "../duration.ts";
import { UsageError } from "../errors.ts";
import { CertConfigError, planSelfManaged, type SelfManagedConfig, type SelfManagedPlan } from "../certs/self-managed.ts";

export const DEFAULT_CERT_VALIDITY = "8760h";
export const DEFAULT_CA_VALIDITY = "87600h";

export interface SelfManagedFlags {
  certSecret: string;
  certService?: string;
  certHost?: string[];
  webhookConfig?: string[];
  certValidity?: string;
  caValidity?: string;
  /** agentgate's namespace (--namespace): the Service's */
  namespace: string;
}

const FLAG: Readonly<Record<string, string>> = {
  secret: "--cert-secret",
  service: "--cert-service",
  extraHosts: "--cert-host",
  webhookConfigs: "--webhook-config",
  servingValidityMs: "--cert-validity",
  caValidityMs: "--ca-validity",
};

function validityMs(flag: string, text: string): number {
  try {
    return Number(parseDurationNs(text) / 1_000_000n);
  } catch (err) {
    if (err instanceof DurationError) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a duration such as 8760h, 30m or 20s`);
    throw err;
  }
}

/** Checks the flags; throws UsageError naming the flag and the problem. */
export function planSelfManagedFlags(flags: SelfManagedFlags): SelfManagedPlan {
  const certValidity = flags.certValidity ?? DEFAULT_CERT_VALIDITY;
  const caValidity = flags.caValidity ?? DEFAULT_CA_VALIDITY;
  const config: SelfManagedConfig = {
    secret: flags.certSecret,
    service: flags.certService ?? "agentgate",
    extraHosts: flags.certHost ?? [],
    webhookConfigs: flags.webhookConfig ?? [],
    servingValidityMs: validityMs("--cert-validity", certValidity),
    caValidityMs: validityMs("--ca-validity", caValidity),
    namespace: flags.namespace,
  };
  try {
    return planSelfManaged(config);
  } catch (err) {
    if (!(err instanceof CertConfigError) || err.field === undefined) throw err;
    // A validity is shown as given (8760h), not in ms.
    const given = err.field === "servingValidityMs" ? certValidity : err.field === "caValidityMs" ? caValidity : err.value;
    throw new UsageError(`${FLAG[err.field] ?? err.field} ${JSON.stringify(given)}: ${err.problem}`, { field: err.field, cause: err });
  }
}
