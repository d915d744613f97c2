// A kubeconfig read the way kubectl reads it (files merged, the first to
// name a thing wins; relative paths from the file), and the credentials of
// its current context; or the pod's own ServiceAccount. Which files a
// command reads is the CLI's choice (src/cli/environment.ts). Read here
// with the `yaml` parser the process already holds, rather than with
// @kubernetes/client-node, whose KubeConfig loads every generated API and
// model with it (~54 MB of RSS the gateway would carry for nothing; see
// the README, "Through kube-apiserver"). Every problem is one line naming the file.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse, YAMLParseError } from "yaml";
import { InputError } from "../errors.ts";
import { describeFileError } from "../file-errors.ts";

/** A kubeconfig's entries, in kubectl's shape (names as client-node's loadFromOptions takes them). */
export interface KubeconfigEntries {
  clusters: { name: string; server: string; caData?: string; caFile?: string; skipTLSVerify: boolean; tlsServerName?: string }[];
  users: { name: string; certData?: string; certFile?: string; keyData?: string; keyFile?: string; token?: string; tokenFile?: string; exec?: unknown; authProvider?: unknown; username?: string; password?: string; impersonateUser?: string }[];
  contexts: { name: string; cluster: string; user: string; namespace?: string }[];
  currentContext: string;
}

/** What a client needs to reach the API server as someone. */
export interface ClusterCredentials {
  /** https://host:port, without a trailing slash */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** a fixed bearer token */
  token?: string;
  /** a file holding the bearer token, read again as it rotates (a projected ServiceAccount token) */
  tokenFile?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  /** where ca, cert and key were read from, read again as they rotate (a pod's ca.crt) */
  files?: { ca?: string; cert?: string; key?: string };
  /** the kubeconfig user's `as`: sent as Impersonate-User */
  impersonate?: string;
  /**
   * The user authenticates through an exec plugin, an auth provider or
   * basic auth: only @kubernetes/client-node speaks those, so a client for
   * these credentials loads it (src/kube/api.ts).
   */
  delegated: boolean;
}

/** Where the credentials came from, and the entries to build a client-node KubeConfig from. */
export interface KubeconfigSelection {
  /** where it was read: "--kubeconfig FILE", "$KUBECONFIG a:b", "in-cluster" */
  label: string;
  inCluster: boolean;
  entries: KubeconfigEntries;
  credentials: ClusterCredentials;
}

const IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The pod's own ServiceAccount, as the kubelet mounts it. */
export function inCluster(): KubeconfigSelection {
  const host = process.env.KUBERNETES_SERVICE_HOST ?? "";
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const caFile = join(IN_CLUSTER_DIR, "ca.crt");
  const tokenFile = join(IN_CLUSTER_DIR, "token");
  const entries: KubeconfigEntries = {
    clusters: [{ name: "inCluster", server, caFile, skipTLSVerify: false }],
    users: [{ name: "inClusterUser", tokenFile }],
    contexts: [{ name: "inClusterContext", cluster: "inCluster", user: "inClusterUser" }],
    currentContext: "inClusterContext",
  };
  return { label: "in-cluster", inCluster: true, entries, credentials: credentialsOf(entries, "in-cluster") };
}

/** One kubeconfig file's entries; label names it in every message. */
export function readEntries(file: string, label: string): KubeconfigEntries {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new InputError(`${label}: cannot read: ${describeFileError(err)}`);
  }
  if (bytes.includes(0)) throw new InputError(`${label}: binary data, not a kubeconfig (YAML)`);
  const text = bytes.toString("utf8");
  if (text.trim() === "") throw new InputError(`${label}: is empty, not a kubeconfig`);
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: false });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos?.[0];
      const reason = (err.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
      throw new InputError(`${label}: not valid YAML: ${reason}${where ? ` at line ${String(where.line)}, column ${String(where.col)}` : ""}`);
    }
    throw new InputError(`${label}: not a usable kubeconfig: ${(err instanceof Error ? err.message : String(err)).split("\n")[0] ?? ""}`);
  }
  return entriesOf(doc, file, label);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** A relative path in a kubeconfig is relative to the file, as kubectl reads it. */
function resolvePath(p: string | undefined, file: string): string | undefined {
  return p === undefined ? undefined : isAbsolute(p) ? p : join(dirname(file), p);
}

function named(doc: Record<string, unknown>, key: string, label: string): { name: string; body: Record<string, unknown> }[] {
  const list = doc[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new InputError(`${label}: not a usable kubeconfig: ${key} is not a list`);
  const inner = key.slice(0, -1);
  return list.flatMap((entry: unknown, i) => {
    if (!isRecord(entry) || typeof entry.name !== "string") throw new InputError(`${label}: not a usable kubeconfig: ${key}[${i}] has no name`);
    const body = entry[inner];
    return [{ name: entry.name, body: isRecord(body) ? body : {} }];
  });
}

function entriesOf(doc: unknown, file: string, label: string): KubeconfigEntries {
  if (!isRecord(doc)) return { clusters: [], users: [], contexts: [], currentContext: "" };
  return {
    clusters: named(doc, "clusters", label).map(({ name, body }) => ({
      name,
      server: (str(body.server) ?? "").replace(/\/+$/, ""),
      ...optional("caData", str(body["certificate-authority-data"])),
      ...optional("caFile", resolvePath(str(body["certificate-authority"]), file)),
      skipTLSVerify: body["insecure-skip-tls-verify"] === true,
      ...optional("tlsServerName", str(body["tls-server-name"])),
    })),
    users: named(doc, "users", label).map(({ name, body }) => ({
      name,
      ...optional("certData", str(body["client-certificate-data"])),
      ...optional("certFile", resolvePath(str(body["client-certificate"]), file)),
      ...optional("keyData", str(body["client-key-data"])),
      ...optional("keyFile", resolvePath(str(body["client-key"]), file)),
      ...optional("token", str(body.token)),
      ...optional("tokenFile", resolvePath(str(body.tokenFile), file)),
      ...(isRecord(body.exec) ? { exec: body.exec } : {}),
      ...(isRecord(body["auth-provider"]) ? { authProvider: body["auth-provider"] } : {}),
      ...optional("username", str(body.username)),
      ...optional("password", str(body.password)),
      ...optional("impersonateUser", str(body.as)),
    })),
    contexts: named(doc, "contexts", label).map(({ name, body }) => ({
      name,
      cluster: str(body.cluster) ?? "",
      user: str(body.user) ?? "",
      ...optional("namespace", str(body.namespace)),
    })),
    currentContext: str(doc["current-context"]) ?? "",
  };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/** kubectl's merge: the first file to name a cluster, user or context, or to set current-context, wins. */
export function mergeInto(into: KubeconfigEntries, from: KubeconfigEntries): void {
  for (const key of ["clusters", "users", "contexts"] as const) {
    const have = new Set(into[key].map((e) => e.name));
    for (const e of from[key]) if (!have.has(e.name)) (into[key] as { name: string }[]).push(e);
  }
  if (!into.currentContext) into.currentContext = from.currentContext;
}

function readOrExplain(file: string, what: string, label: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InputError(`${label}: ${what} ${file}: cannot read: ${describeFileError(err)}`);
  }
}

/** The credentials of entries' current context; label names where they came from in every message. */
export function credentialsOf(entries: KubeconfigEntries, label: string): ClusterCredentials {
  const names = entries.contexts.map((c) => c.name);
  if (names.length === 0) throw new InputError(`${label}: defines no contexts; is it a kubeconfig (kind: Config, with clusters, users and contexts)?`);
  const current = entries.currentContext;
  if (!current) throw new InputError(`${label}: sets no current-context; set it to one of ${names.join(", ")}`);
  const context = entries.contexts.find((c) => c.name === current);
  if (!context) throw new InputError(`${label}: current-context "${current}" is not one of its contexts (${names.join(", ")})`);
  const cluster = entries.clusters.find((c) => c.name === context.cluster);
  if (!cluster) throw new InputError(`${label}: context "${current}" names cluster "${context.cluster}", which it does not define`);
  if (!/^https?:\/\/./.test(cluster.server)) throw new InputError(`${label}: cluster "${cluster.name}" has no server URL (https://HOST:PORT)`);
  const user = entries.users.find((u) => u.name === context.user) ?? { name: context.user };
  const inClusterCa = cluster.caFile !== undefined && cluster.caFile === join(IN_CLUSTER_DIR, "ca.crt") && !existsSync(cluster.caFile);
  const ca = cluster.caData !== undefined ? Buffer.from(cluster.caData, "base64") : cluster.caFile !== undefined && !inClusterCa ? readOrExplain(cluster.caFile, "certificate-authority", label) : undefined;
  const cert = user.certData !== undefined ? Buffer.from(user.certData, "base64") : user.certFile !== undefined ? readOrExplain(user.certFile, "client-certificate", label) : undefined;
  const key = user.keyData !== undefined ? Buffer.from(user.keyData, "base64") : user.keyFile !== undefined ? readOrExplain(user.keyFile, "client-key", label) : undefined;
  return {
    server: cluster.server,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(user.token !== undefined ? { token: user.token } : {}),
    ...(user.tokenFile !== undefined ? { tokenFile: user.tokenFile } : {}),
    skipTLSVerify: cluster.skipTLSVerify,
    ...(cluster.tlsServerName !== undefined ? { tlsServerName: cluster.tlsServerName } : {}),
    ...(user.impersonateUser !== undefined ? { impersonate: user.impersonateUser } : {}),
    files: {
      ...(cluster.caData === undefined && cluster.caFile !== undefined ? { ca: cluster.caFile } : {}),
      ...(user.certData === undefined && user.certFile !== undefined ? { cert: user.certFile } : {}),
      ...(user.keyData === undefined && user.keyFile !== undefined ? { key: user.keyFile } : {}),
    },
    delegated: user.exec !== undefined || user.authProvider !== undefined || user.username !== undefined,
  };
}
