// The gateway signs only while its webhooks guard every write (serve
// --require-webhooks NAME). Its signatures are checked again by the
// validating pass against the real caller, so one obtained outside the API
// server (a leaked webhook path, a forged review) is worth nothing while the
// webhooks are called. It is worth something only when they are not: removed,
// or failing open during an outage. So while the configurations are absent,
// miss one of agentgate's webhooks, or let one fail open, the gateway signs
// nothing: no decision, creator or approval; runs wait for the webhooks to be
// back (failing closed, like the rest of agentgate for agent kinds).
import { errorMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { KubeApi } from "../kube/api.ts";
import { statusCode } from "../kube/errors.ts";
import { WEBHOOKS } from "./webhooks.ts";

interface Registered {
  name?: string;
  failurePolicy?: string;
}
interface Configuration {
  webhooks?: Registered[];
}

/**
 * What keeps the named configurations from guarding every write agentgate
 * registers, or undefined when they do. `null`: the configuration does not
 * exist.
 */
export function registrationProblem(name: string, validating: Configuration | null, mutating: Configuration | null): string | undefined {
  for (const [kind, config] of [["ValidatingWebhookConfiguration", validating], ["MutatingWebhookConfiguration", mutating]] as const) {
    if (config === null) return `${kind} "${name}" does not exist`;
    const type = kind === "ValidatingWebhookConfiguration" ? "validating" : "mutating";
    for (const def of WEBHOOKS.filter((w) => w.type === type)) {
      const registered = (config.webhooks ?? []).find((w) => w.name === def.name);
      if (!registered) return `${kind} "${name}" has no webhook ${def.name}`;
      // The one agentgate registers to fail open by design (PipelineRuns) is caught later by the others.
      if (def.failurePolicy === "configured" && registered.failurePolicy !== "Fail") return `webhook ${def.name} of ${kind} "${name}" fails open (failurePolicy ${registered.failurePolicy ?? "unset"}); set webhook.failurePolicy back to Fail`;
    }
  }
  return undefined;
}

/** Reads one configuration; null when it does not exist. */
export type ConfigurationReader = (kind: "validating" | "mutating", name: string) => Promise<Configuration | null>;

export function clusterReader(api: KubeApi): ConfigurationReader {
  return async (kind, name) => {
    try {
      return await api.get<Configuration>(`/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations/${encodeURIComponent(name)}`);
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  };
}

/** Reads the configurations every `intervalMs` and says why signing is blocked, if it is. */
export class RegistrationGuard {
  private problem: string | undefined = "its webhook configurations have not been read yet";
  private timer: NodeJS.Timeout | undefined;
  private readonly read: ConfigurationReader;
  private readonly name: string;
  private readonly log: Logger;
  private readonly intervalMs: number;

  constructor(read: ConfigurationReader, name: string, log: Logger, intervalMs = 5000) {
    this.read = read;
    this.name = name;
    this.log = log;
    this.intervalMs = intervalMs;
  }

  /** Why the gateway signs nothing now, or undefined when it may sign. */
  blocked(): string | undefined {
    return this.problem === undefined ? undefined : `agentgate signs nothing while its webhooks do not guard every write: ${this.problem}`;
  }

  async check(): Promise<void> {
    let problem: string | undefined;
    try {
      problem = registrationProblem(this.name, await this.read("validating", this.name), await this.read("mutating", this.name));
    } catch (err) {
      problem = `cannot read webhook configuration "${this.name}": ${errorMessage(err).split("\n")[0] ?? ""}`;
    }
    if (problem !== this.problem) {
      if (problem === undefined) this.log.info("webhook configurations guard every write: signing", { name: this.name });
      else this.log.warn("signing stopped", { why: problem });
    }
    this.problem = problem;
  }

  async start(): Promise<void> {
    await this.check();
    const tick = () => {
      this.timer = setTimeout(() => void this.check().finally(tick), this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
