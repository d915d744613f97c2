// The soak's admission traffic: creates with dryRun=All through the real API
// server (so through both of agentgate's webhook configurations, their
// caBundle and the API server's webhook client), at a steady rate, open
// loop. A mix whose every answer is known in advance, up to the bundle swap:
//  - an AgentConfig within every limit: admitted;
//  - one over the default bundle's budget: denied, [token-budget];
//  - one between the two soak bundle versions' limits: denied [soak-budget]
//    under v1, admitted under v2 (both expected: the swap decides);
//  - an AgentRun of an admitted config: stamped and signed by the mutating
//    webhook, then admitted.
// Anything else (a webhook call that failed, [gateway-error],
// [gateway-overloaded], a denial no policy explains, an admission that
// should have been a denial) is an unexplained failure.
import * as k8s from "@kubernetes/client-node";
import { SOAK_POLICY, SWAY_BUDGET } from "./bundles.ts";
import { causeOf, type FailureLedger } from "./ledger.ts";

type Kind = "within" | "over" | "sway" | "run";
/** ten requests: the mix repeats */
const MIX: readonly Kind[] = ["within", "run", "within", "over", "sway", "within", "run", "within", "over", "sway"];
/** past this many creates unanswered the API server or the webhook has stalled: send no more */
const MAX_OUTSTANDING = 200;

export const SOAK_CONFIG = "soak-plain";

export function agentConfigSpec(tokenBudget?: number): Record<string, unknown> {
  return {
    modelConfigRef: { name: "claude" },
    systemPrompt: "You write tests.",
    toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }],
    rbac: { rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] },
    ...(tokenBudget !== undefined ? { tokenBudget } : {}),
  };
}

function body(kind: Kind, namespace: string, n: number): { plural: string; object: Record<string, unknown> } {
  const metadata = { name: `soak-dry-${String(n)}`, namespace };
  if (kind === "run") return { plural: "agentruns", object: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata, spec: { configRef: { name: SOAK_CONFIG }, goal: `dry run ${String(n)}` } } };
  const budget = kind === "within" ? 50_000 : kind === "over" ? 900_000 : SWAY_BUDGET;
  return { plural: "agentconfigs", object: { apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentConfig", metadata, spec: agentConfigSpec(budget) } };
}

/** The API server's message of a failed request, with its status code. */
function apiError(err: unknown): { code: number; message: string } {
  if (err instanceof k8s.ApiException) {
    const raw: unknown = err.body;
    let message = "";
    if (typeof raw === "string") {
      try {
        message = (JSON.parse(raw) as { message?: string }).message ?? raw;
      } catch {
        message = raw;
      }
    } else if (typeof raw === "object" && raw !== null && "message" in raw) {
      message = String(raw.message);
    }
    return { code: err.code, message };
  }
  return { code: 0, message: err instanceof Error ? err.message : String(err) };
}

const DENIAL = /^admission webhook "([^"]+)" denied the request: ([\s\S]*)$/;

export class DryRunTraffic {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly namespace: string;
  private readonly ledger: FailureLedger;
  private readonly rate: number;
  private timer: NodeJS.Timeout | undefined;
  private outstanding = new Set<Promise<void>>();
  private window: number[] = [];
  sent = 0;
  /** answered as expected (admitted, or denied by the policy that should deny) */
  asExpected = 0;
  /** the sway config's outcome, by the bundle version it shows in force */
  underV1 = 0;
  underV2 = 0;

  constructor(custom: k8s.CustomObjectsApi, namespace: string, ledger: FailureLedger, rate: number) {
    this.custom = custom;
    this.namespace = namespace;
    this.ledger = ledger;
    this.rate = rate;
  }

  start(): void {
    const begin = performance.now();
    let due = 0;
    const tick = (): void => {
      // Every create that has come due since the last tick (a timer fires late, the rate holds).
      const now = performance.now();
      while (due < Math.floor(((now - begin) / 1000) * this.rate) + 1) {
        const n = due++;
        if (this.outstanding.size >= MAX_OUTSTANDING) {
          this.ledger.unexplained(`not sent: ${String(MAX_OUTSTANDING)} dry-run creates already unanswered (the API server or a webhook stalled)`);
          continue;
        }
        const p = this.one(n).finally(() => this.outstanding.delete(p));
        this.outstanding.add(p);
      }
      this.timer = setTimeout(tick, 20);
    };
    tick();
  }

  /** Stops sending and waits for what was sent. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([...this.outstanding]);
  }

  /** Latencies (ms) since the last call. */
  takeLatencies(): number[] {
    const w = this.window;
    this.window = [];
    return w;
  }

  private async one(n: number): Promise<void> {
    const kind = MIX[n % MIX.length] ?? "within";
    const { plural, object } = body(kind, this.namespace, n);
    this.sent++;
    const started = performance.now();
    let error: { code: number; message: string } | undefined;
    try {
      await this.custom.createNamespacedCustomObject({ group: "agent.tekton.dev", version: "v1alpha1", namespace: this.namespace, plural, body: object, dryRun: "All" });
    } catch (err) {
      error = apiError(err);
    }
    this.window.push(performance.now() - started);
    this.judge(kind, error);
  }

  private judge(kind: Kind, error: { code: number; message: string } | undefined): void {
    if (!error) {
      if (kind === "over") {
        this.ledger.unexplained("admitted an AgentConfig over the default bundle's token budget");
        return;
      }
      if (kind === "sway") this.underV2++;
      this.asExpected++;
      return;
    }
    const denial = DENIAL.exec(error.message);
    if (!denial) {
      // Not a webhook's answer: a failed call to one ("failed calling webhook"), or the API server's own error.
      this.ledger.unexplained(`${kind}: HTTP ${String(error.code)}: ${causeOf(error.message)}`, error.message);
      return;
    }
    const [, webhook = "", text = ""] = denial;
    const policies = [...text.matchAll(/\[([a-z0-9-]+)\]/g)].map((m) => m[1] ?? "");
    if (policies.includes("gateway-error") || policies.includes("gateway-overloaded")) {
      this.ledger.unexplained(`${kind}: ${webhook} refused without a decision: [${policies.find((p) => p.startsWith("gateway-")) ?? ""}]`, error.message);
      return;
    }
    if (kind === "over" && policies.includes("token-budget")) {
      this.asExpected++;
      this.ledger.expected(`denied by policy [token-budget] (an AgentConfig over the default budget)`);
      return;
    }
    if (kind === "sway" && policies.length === 1 && policies[0] === SOAK_POLICY) {
      this.asExpected++;
      this.underV1++;
      this.ledger.expected(`denied by policy [${SOAK_POLICY}] (soak bundle v1 in force)`);
      return;
    }
    this.ledger.unexplained(`${kind}: denied unexpectedly by ${webhook}: ${policies.map((p) => `[${p}]`).join(" ") || causeOf(text)}`, error.message);
  }
}
