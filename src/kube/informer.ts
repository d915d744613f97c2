// A watch cache of one resource of the registry (src/kube/resources.ts),
// listed through a counted client, so the informer's lists are counted with
// the process's other API requests, and started again when its watch fails.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import { errorMessage } from "../errors.ts";
import { listPath, type KubeResource } from "./resources.ts";

export type ObjectInformer = k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;

export interface InformerOptions {
  /** one namespace's objects; all namespaces when absent */
  namespace?: string;
  labelSelector?: string;
  /** told of every object added or changed */
  onChange: (object: k8s.KubernetesObject) => void;
}

/**
 * list: the same list as the watch path, through the process's counted
 * client (client-node's informer would list through a client of its own).
 */
export function makeResourceInformer(kc: k8s.KubeConfig, resource: KubeResource, list: () => Promise<unknown>, opts: InformerOptions): ObjectInformer {
  const informer = k8s.makeInformer(kc, listPath(resource, opts.namespace), async () => (await list()) as k8s.KubernetesListObject<k8s.KubernetesObject>, opts.labelSelector);
  informer.on("add", opts.onChange);
  informer.on("update", opts.onChange);
  return informer;
}

/**
 * A watch that fails is started again after retryMs (which may depend on
 * the error: a resource not served yet is looked for less often), unless
 * the process is stopping.
 */
export function restartOnError(informer: ObjectInformer, what: string, stopping: () => boolean, log: Logger | undefined, retryMs: (err: unknown) => number = () => 2000): void {
  informer.on("error", (err: unknown) => {
    if (stopping()) return;
    log?.warn(`${what} watch failed; restarting`, { error: errorMessage(err) });
    setTimeout(() => { if (!stopping()) void informer.start().catch(() => undefined); }, retryMs(err)).unref();
  });
}
