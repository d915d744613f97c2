// A lean client (src/kube/api.ts) for a client-node KubeConfig the
// controller, the audit or a test already holds, so the modules shared with
// the gateway take one client type while those processes keep client-node
// for their own informers and typed APIs. Only the type of client-node is
// imported: building the client loads nothing.
import type * as k8s from "@kubernetes/client-node";
import { KubeApi, type KubeApiOptions } from "./api.ts";
import { credentialsOf, type KubeconfigEntries } from "./kubeconfig.ts";

const clients = new WeakMap<k8s.KubeConfig, KubeApi>();

/** In-cluster credentials: client-node keeps the ServiceAccount token as a "tokenFile" auth provider. */
function tokenFileOf(user: k8s.User): string | undefined {
  const provider = user.authProvider as { name?: unknown; config?: { tokenFile?: unknown } } | undefined;
  return provider?.name === "tokenFile" && typeof provider.config?.tokenFile === "string" ? provider.config.tokenFile : undefined;
}

export function entriesOfKubeConfig(kc: k8s.KubeConfig): KubeconfigEntries {
  return {
    clusters: kc.clusters.map((c) => ({ name: c.name, server: c.server.replace(/\/+$/, ""), ...(c.caData ? { caData: c.caData } : {}), ...(c.caFile ? { caFile: c.caFile } : {}), skipTLSVerify: c.skipTLSVerify, ...(c.tlsServerName ? { tlsServerName: c.tlsServerName } : {}) })),
    users: kc.users.map((u) => {
      const tokenFile = tokenFileOf(u);
      return {
        name: u.name,
        ...(u.certData ? { certData: u.certData } : {}),
        ...(u.certFile ? { certFile: u.certFile } : {}),
        ...(u.keyData ? { keyData: u.keyData } : {}),
        ...(u.keyFile ? { keyFile: u.keyFile } : {}),
        ...(u.token ? { token: u.token } : {}),
        ...(tokenFile ? { tokenFile } : u.authProvider ? { authProvider: u.authProvider as unknown } : {}),
        ...(u.exec ? { exec: u.exec as unknown } : {}),
        ...(u.username ? { username: u.username } : {}),
        ...(u.password ? { password: u.password } : {}),
        ...(u.impersonateUser ? { impersonateUser: u.impersonateUser } : {}),
      };
    }),
    contexts: kc.contexts.map((c) => ({ name: c.name, cluster: c.cluster, user: c.user, ...(c.namespace ? { namespace: c.namespace } : {}) })),
    currentContext: kc.currentContext,
  };
}

/**
 * The lean client for kc's current context, one per KubeConfig (one
 * connection pool), unless opts ask for a client of their own (another
 * User-Agent or request listener).
 */
export function kubeApiOf(kc: k8s.KubeConfig, opts?: KubeApiOptions): KubeApi {
  if (opts === undefined) {
    const known = clients.get(kc);
    if (known) return known;
  }
  const entries = entriesOfKubeConfig(kc);
  const api = new KubeApi(credentialsOf(entries, "kubeconfig"), opts ?? {}, entries);
  if (opts === undefined) clients.set(kc, api);
  return api;
}
