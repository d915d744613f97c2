// What the cluster offers the runs' scope, read from the API and read again
// now and then: which kagent it runs (so a kagent upgraded to its main
// branch, which no longer runs v1alpha2 Agents, fails runs fast instead of
// leaving them waiting), whether Cilium's policies are served (a run's
// public hosts are then allowed by name), and where the API server is.
import type * as k8s from "@kubernetes/client-node";
import { errorMessage } from "../errors.ts";
import { RESOURCES } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import { readKagentSupport, type KagentSupport } from "./kagent-version.ts";
import type { Kube } from "./kube.ts";
import type { ApiServerEndpoint } from "./scope.ts";

/** How long the API server's endpoints are taken as read. */
const API_SERVER_TTL_MS = 60_000;

export class ClusterFacts {
  kagentSupport: KagentSupport | undefined;
  /** CiliumNetworkPolicy is served */
  fqdn = false;
  private apiServerCache: { at: number; value: ApiServerEndpoint | undefined } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly kc: k8s.KubeConfig;
  private readonly kube: Kube;
  private readonly log: Logger;

  constructor(kc: k8s.KubeConfig, kube: Kube, log: Logger) {
    this.kc = kc;
    this.kube = kube;
    this.log = log;
  }

  /** Reads both now, then every intervalMs until stop(). */
  async start(intervalMs: number): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => { void this.refresh(); }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  refresh(): Promise<void> {
    return Promise.all([this.readKagent(), this.readCilium()]).then(() => undefined);
  }

  private async readKagent(): Promise<void> {
    try {
      const next = await readKagentSupport(this.kc);
      if (next.state !== this.kagentSupport?.state) this.log[next.state === "supported" ? "info" : "warn"]("kagent on this cluster", { state: next.state, message: next.message });
      this.kagentSupport = next;
    } catch (err) {
      this.log.warn("cannot read kagent's API versions from discovery", { error: errorMessage(err) });
    }
  }

  private async readCilium(): Promise<void> {
    const cilium = RESOURCES.ciliumNetworkPolicies;
    try {
      const list = await this.kube.custom.getAPIResources({ group: cilium.group, version: cilium.versions[0] });
      const served = list.resources.some((r) => r.name === cilium.plural);
      if (served !== this.fqdn) this.log.info("Cilium network policies", { served, effect: served ? "public hosts allowed by name (toFQDNs)" : "public hosts allowed as any public address on their port" });
      this.fqdn = served;
    } catch {
      this.fqdn = false;
    }
  }

  /** The API server's addresses (the default/kubernetes Endpoints), for the runs' egress to it. */
  async apiServer(): Promise<ApiServerEndpoint | undefined> {
    if (this.apiServerCache && Date.now() - this.apiServerCache.at < API_SERVER_TTL_MS) return this.apiServerCache.value;
    let value: ApiServerEndpoint | undefined;
    try {
      const ep = await this.kube.core.readNamespacedEndpoints({ name: "kubernetes", namespace: "default" });
      const subset = ep.subsets?.[0];
      value = { ips: (subset?.addresses ?? []).map((a) => a.ip), port: subset?.ports?.[0]?.port ?? 443 };
    } catch {
      value = undefined;
    }
    this.apiServerCache = { at: Date.now(), value };
    return value;
  }
}
