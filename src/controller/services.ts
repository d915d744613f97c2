// Reads the Services a run's NetworkPolicy must name (in-cluster MCP servers,
// kagent's controller), so the policy selects the pods behind them on their
// target ports rather than a whole namespace on a Service port.
import type * as k8s from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import { describeError, statusCode } from "./kube.ts";
import type { ResolvedService } from "./scope.ts";

/** The selector and ports of a Service, with targetPort defaulted as the API server does (to port). */
export function resolvedService(svc: k8s.V1Service): ResolvedService {
  return {
    selector: { ...(svc.spec?.selector ?? {}) },
    ports: (svc.spec?.ports ?? []).map((p) => {
      // IntOrString arrives as a number, or a string that may still hold digits.
      const t: unknown = p.targetPort;
      const targetPort = typeof t === "number" ? t : typeof t === "string" && t !== "" ? (/^\d+$/.test(t) ? Number(t) : t) : p.port;
      return { port: p.port, targetPort, protocol: p.protocol ?? "TCP" };
    }),
  };
}

const TTL_MS = 30_000;

export class ServiceResolver {
  private readonly core: k8s.CoreV1Api;
  private readonly log: Logger;
  private readonly cache = new Map<string, { at: number; value: ResolvedService | null }>();

  constructor(core: k8s.CoreV1Api, log: Logger) {
    this.core = core;
    this.log = log;
  }

  /**
   * "<namespace>/<name>" → the Service, or null when it does not exist. A
   * Service that cannot be read (e.g. RBAC) is left out, so the policy falls
   * back to its namespace, and the reason is logged. Answers are kept 30 s:
   * every run of a config names the same Services.
   */
  async resolve(keys: readonly string[]): Promise<Map<string, ResolvedService | null>> {
    const out = new Map<string, ResolvedService | null>();
    const now = Date.now();
    await Promise.all(
      keys.map(async (key) => {
        const hit = this.cache.get(key);
        if (hit && now - hit.at < TTL_MS) {
          out.set(key, hit.value);
          return;
        }
        const [namespace = "", name = ""] = key.split("/");
        try {
          const value = resolvedService(await this.core.readNamespacedService({ name, namespace }));
          this.cache.set(key, { at: now, value });
          out.set(key, value);
        } catch (err) {
          if (statusCode(err) === 404) {
            this.cache.set(key, { at: now, value: null });
            out.set(key, null);
            return;
          }
          this.log.warn("cannot read a Service for a run's NetworkPolicy; allowing its namespace instead of its pods", { service: key, error: describeError(err) });
        }
      }),
    );
    return out;
  }
}
