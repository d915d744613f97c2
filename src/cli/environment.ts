// Where a command runs: its cluster (--kubeconfig, in-cluster, $KUBECONFIG,
// ~/.kube/config),
// the address it listens on, and who it is (the pod's namespace and
// ServiceAccount, as the chart's Downward API sets them). Shared by every
// subcommand that talks to a cluster or serves HTTP.
import { serviceAccountUser } from "../guardrails/identity.ts";
import { InputError } from "../errors.ts";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeApi, type KubeApiOptions } from "../kube/api.ts";
import { credentialsOf, inCluster, mergeInto, readEntries, type KubeconfigEntries, type KubeconfigSelection } from "../kube/kubeconfig.ts";

/** HOST:PORT (or [IPv6]:PORT) as given to `flag`. */
export function parseListen(listen: string, flag = "--listen"): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new InputError(`${flag} ${JSON.stringify(listen)}: expected HOST:PORT, e.g. 0.0.0.0:8443`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** --kubeconfig and --context, as kubectl takes them. */
export interface KubeTarget {
  kubeconfig?: string;
  /** a context of the kubeconfig, used instead of its current-context */
  context?: string;
}

/** --context's help, the same on every command that talks to a cluster. */
export const CONTEXT_FLAG_HELP = "the kubeconfig context to use instead of its current-context, as kubectl's --context";

/**
 * The lean API client (src/kube/api.ts) for the cluster a command talks to:
 * --kubeconfig FILE, else in-cluster, else $KUBECONFIG, else ~/.kube/config
 * (kubectl's order). A file that cannot be read, is not YAML or names no
 * current cluster is refused here, in one line naming it, before anything
 * reaches for the cluster. `orElse` ends the message when there is none to
 * use (serve adds ", or --offline").
 */
/**
 * The cluster a command talks to: --kubeconfig FILE, else in-cluster, else
 * $KUBECONFIG, else ~/.kube/config (kubectl's order). `orElse` ends the message when there is
 * none to use (serve adds ", or --offline"). --context picks a context of a
 * kubeconfig, so in a pod it needs one (in-cluster credentials have no
 * contexts).
 */
export function selectCluster(target: KubeTarget, orElse = ""): KubeconfigSelection {
  const { kubeconfig: path, context } = target;
  let label: string;
  let files: string[];
  if (path) {
    label = `--kubeconfig ${path}`;
    files = [path];
  } else if (process.env.KUBERNETES_SERVICE_HOST && context === undefined) {
    return inCluster();
  } else if (process.env.KUBECONFIG && process.env.KUBECONFIG.split(delimiter).some(Boolean)) {
    label = `$KUBECONFIG ${process.env.KUBECONFIG}`;
    files = process.env.KUBECONFIG.split(delimiter).filter(Boolean);
  } else if (existsSync(join(homedir(), ".kube", "config"))) {
    const file = join(homedir(), ".kube", "config");
    label = `~/.kube/config (${file})`;
    files = [file];
  } else if (context !== undefined) {
    throw new InputError(`--context ${context}: no kubeconfig to take it from: pass --kubeconfig FILE (or set KUBECONFIG, or write ~/.kube/config)`);
  } else {
    throw new InputError(`no cluster to watch: pass --kubeconfig FILE (or set KUBECONFIG, or write ~/.kube/config)${orElse}`);
  }
  const merged: KubeconfigEntries = { clusters: [], users: [], contexts: [], currentContext: "" };
  for (const file of files) {
    // kubectl skips a $KUBECONFIG entry that does not exist; a named --kubeconfig must.
    if (!path && files.length > 1 && !existsSync(file)) continue;
    const fileLabel = path ? label : files.length > 1 ? `$KUBECONFIG ${file}` : label;
    mergeInto(merged, readEntries(file, fileLabel));
  }
  if (context !== undefined) {
    const names = merged.contexts.map((c) => c.name);
    if (!names.includes(context)) throw new InputError(`--context ${context}: ${label} has no such context (it has ${names.length > 0 ? names.join(", ") : "none"})`);
    merged.currentContext = context;
  }
  return { label, inCluster: false, entries: merged, credentials: credentialsOf(merged, label) };
}

export function kubeApiFor(target: KubeTarget, orElse = "", opts: KubeApiOptions = {}): KubeApi {
  const selection = selectCluster(target, orElse);
  return new KubeApi(selection.credentials, opts, selection.entries);
}

export const defaultNamespace = (): string => process.env.POD_NAMESPACE ?? "agentgate-system";
export const defaultServiceAccount = (): string => serviceAccountUser(defaultNamespace(), process.env.POD_SERVICE_ACCOUNT ?? "agentgate");
