// A client-node KubeConfig for the processes that still use client-node's
// typed APIs and informers (the controller, the audit, `logs`): read by the
// same code as the gateway's lean client (src/kube/kubeconfig.ts), so every
// command finds its cluster in the same order and refuses a bad kubeconfig
// with the same one-line message. The gateway never loads this file.
import * as k8s from "@kubernetes/client-node";
import { selectCluster, type KubeTarget } from "./environment.ts";

export function loadKubeConfig(target: KubeTarget, orElse = ""): k8s.KubeConfig {
  const selection = selectCluster(target, orElse);
  const kc = new k8s.KubeConfig();
  if (selection.inCluster) kc.loadFromCluster();
  else {
    // client-node reads a user's tokenFile only as its "tokenFile" auth provider, as it keeps an in-cluster token.
    const users = selection.entries.users.map(({ tokenFile, ...u }) => (tokenFile !== undefined && u.token === undefined && u.authProvider === undefined ? { ...u, authProvider: { name: "tokenFile", config: { tokenFile } } } : u));
    kc.loadFromOptions({ ...selection.entries, users });
  }
  return kc;
}
