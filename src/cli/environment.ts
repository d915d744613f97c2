// Where a command runs: its cluster (--kubeconfig, in-cluster, $KUBECONFIG,
// ~/.kube/config),
// the address it listens on, and who it is (the pod's namespace and
// ServiceAccount, as the chart's Downward API sets them). Shared by every
// subcommand that talks to a cluster or serves HTTP.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { serviceAccountUser } from "../guardrails/identity.ts";
import { describeFileError } from "../file-errors.ts";
import { InputError } from "../errors.ts";

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
 * The cluster a command talks to: --kubeconfig FILE, else in-cluster, else
 * $KUBECONFIG, else ~/.kube/config (kubectl's order; the last
 * is where every kubectl user's cluster is, so it is read as kubectl does). A file that cannot be read, is not YAML or names no current
 * cluster is refused here, in one line naming it, before anything reaches
 * for the cluster. `orElse` ends the message when there is none to use
 * (serve adds ", or --offline"). --context picks a context of a kubeconfig,
 * so in a pod it needs one (in-cluster credentials have no contexts).
 */
export function loadKubeConfig(target: KubeTarget, orElse = ""): k8s.KubeConfig {
  const { kubeconfig: path, context } = target;
  const kc = new k8s.KubeConfig();
  let label: string;
  if (path) {
    label = `--kubeconfig ${path}`;
    checkKubeConfigFile(path, label);
    loadOrExplain(label, () => kc.loadFromFile(path));
  } else if (process.env.KUBERNETES_SERVICE_HOST && context === undefined) {
    kc.loadFromCluster();
    return kc;
  } else if (process.env.KUBECONFIG) {
    label = `$KUBECONFIG ${process.env.KUBECONFIG}`;
    for (const file of process.env.KUBECONFIG.split(delimiter).filter(Boolean)) checkKubeConfigFile(file, `$KUBECONFIG ${file}`);
    loadOrExplain(label, () => kc.loadFromDefault());
  } else if (existsSync(join(homedir(), ".kube", "config"))) {
    const file = join(homedir(), ".kube", "config");
    label = `~/.kube/config (${file})`;
    checkKubeConfigFile(file, label);
    loadOrExplain(label, () => kc.loadFromFile(file));
  } else if (context !== undefined) {
    throw new InputError(`--context ${context}: no kubeconfig to take it from: pass --kubeconfig FILE (or set KUBECONFIG, or write ~/.kube/config)`);
  } else {
    throw new InputError(`no cluster to watch: pass --kubeconfig FILE (or set KUBECONFIG, or write ~/.kube/config)${orElse}`);
  }
  if (context !== undefined) {
    const contexts = kc.getContexts().map((c) => c.name);
    if (!contexts.includes(context)) throw new InputError(`--context ${context}: ${label} has no such context (it has ${contexts.length > 0 ? contexts.join(", ") : "none"})`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new InputError(`${label}: ${whyNoCluster(kc)}`);
  return kc;
}

function checkKubeConfigFile(file: string, label: string): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new InputError(`${label}: cannot read: ${describeFileError(err)}`);
  }
  if (bytes.includes(0)) throw new InputError(`${label}: binary data, not a kubeconfig (YAML)`);
  if (bytes.toString("utf8").trim() === "") throw new InputError(`${label}: is empty, not a kubeconfig`);
}

/** The client's YAML parser reports "reason (line:column)" and a multi-line excerpt: kept to the reason and where. */
function loadOrExplain(label: string, load: () => void): void {
  try {
    load();
  } catch (err) {
    const yaml = err as { reason?: unknown; mark?: { line?: unknown; column?: unknown } };
    if (typeof yaml.reason === "string" && typeof yaml.mark?.line === "number" && typeof yaml.mark.column === "number") {
      throw new InputError(`${label}: not valid YAML: ${yaml.reason} at line ${String(yaml.mark.line + 1)}, column ${String(yaml.mark.column + 1)}`);
    }
    throw new InputError(`${label}: not a usable kubeconfig: ${(err instanceof Error ? err.message : String(err)).split("\n")[0] ?? ""}`);
  }
}

function whyNoCluster(kc: k8s.KubeConfig): string {
  const contexts = kc.getContexts().map((c) => c.name);
  if (contexts.length === 0) return "defines no contexts; is it a kubeconfig (kind: Config, with clusters, users and contexts)?";
  const current = kc.getCurrentContext();
  if (!current) return `sets no current-context; set it to one of ${contexts.join(", ")}`;
  const context = kc.getContextObject(current);
  if (!context) return `current-context "${current}" is not one of its contexts (${contexts.join(", ")})`;
  return `context "${current}" names cluster "${context.cluster}", which it does not define`;
}

export const defaultNamespace = (): string => process.env.POD_NAMESPACE ?? "agentgate-system";
export const defaultServiceAccount = (): string => serviceAccountUser(defaultNamespace(), process.env.POD_SERVICE_ACCOUNT ?? "agentgate");
