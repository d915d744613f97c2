// Where a command runs: its cluster (--kubeconfig, in-cluster, $KUBECONFIG),
// the address it listens on, and who it is (the pod's namespace and
// ServiceAccount, as the chart's Downward API sets them). Shared by every
// subcommand that talks to a cluster or serves HTTP.
import * as k8s from "@kubernetes/client-node";
import { serviceAccountUser } from "../guardrails/identity.ts";
import { InputError } from "./manifests.ts";

/** HOST:PORT (or [IPv6]:PORT) as given to `flag`. */
export function parseListen(listen: string, flag = "--listen"): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new InputError(`${flag} ${JSON.stringify(listen)}: expected HOST:PORT, e.g. 0.0.0.0:8443`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export function loadKubeConfig(path: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else if (process.env.KUBECONFIG) kc.loadFromDefault();
  else throw new InputError("no cluster to watch: pass --kubeconfig FILE (or set KUBECONFIG), or --offline");
  return kc;
}

export const defaultNamespace = (): string => process.env.POD_NAMESPACE ?? "agentgate-system";
export const defaultServiceAccount = (): string => serviceAccountUser(defaultNamespace(), process.env.POD_SERVICE_ACCOUNT ?? "agentgate");
