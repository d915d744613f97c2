// The gateway's own counters, read from its /metrics (over TLS on its
// webhook port): what it says about itself during the soak, beside what the
// soak's clients saw — reviews it failed closed on or shed (the controller's
// writes too, which the soak's traffic does not see), bundle activations,
// serving certificates loaded.
import { httpsCall } from "../../test/support/https-call.ts";

export interface GatewayCounters {
  /** reviews answered [gateway-error] (decision="error") */
  errors: number;
  /** reviews shed over the in-flight limit */
  overloaded: number;
  /** reviews answered, all decisions */
  reviews: number;
  evaluationErrors: number;
  /** bundle versions put in force from the bundle service */
  activations: number;
  /** serving certificates loaded from the Secret */
  certificateLoads: number;
}

/** Sum of the samples of `name` whose labels include every `match` pair. */
export function sumSamples(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

export async function gatewayCounters(port: number): Promise<GatewayCounters> {
  const { status, body } = await httpsCall(port, "GET", "/metrics");
  if (status !== 200) throw new Error(`gateway /metrics answered HTTP ${String(status)}`);
  return {
    errors: sumSamples(body, "agentgate_admission_requests_total", { decision: "error" }),
    overloaded: sumSamples(body, "agentgate_admission_overload_total"),
    reviews: sumSamples(body, "agentgate_admission_requests_total"),
    evaluationErrors: sumSamples(body, "agentgate_policy_evaluation_errors_total"),
    activations: sumSamples(body, "agentgate_bundle_activations_total", { origin: "http" }),
    certificateLoads: sumSamples(body, "agentgate_serving_certificate_loads_total", { source: "secret" }),
  };
}
