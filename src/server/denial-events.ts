// A Kubernetes Event on an existing object whose update was denied, so
// `kubectl describe` shows why someone's change did not land. Deduplicated
// per object and message for a minute: a controller retrying a denied
// update must not flood the namespace.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import type { AdmissionRequest } from "../types/admission.ts";

export function createDenialEvents(kc: k8s.KubeConfig, log: Logger, windowMs = 60_000): (request: AdmissionRequest, message: string) => void {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const recent = new Map<string, number>();
  return (request, message) => {
    const old = request.oldObject;
    const namespace = request.namespace ?? old?.metadata?.namespace;
    if (!old || !namespace) return;
    const key = `${old.metadata?.uid ?? request.name ?? ""}\0${message}`;
    const now = Date.now();
    if ((recent.get(key) ?? 0) > now - windowMs) return;
    recent.set(key, now);
    if (recent.size > 10_000) for (const [k, t] of recent) if (t < now - windowMs) recent.delete(k);
    const time = new Date(now).toISOString();
    core
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${request.name ?? "object"}.`, namespace },
          involvedObject: { apiVersion: old.apiVersion, kind: old.kind, name: request.name, namespace, uid: old.metadata?.uid },
          type: "Warning",
          reason: "UpdateDenied",
          message: `update by ${request.userInfo.username ?? "unknown"} denied by agentgate: ${message}`.slice(0, 1024),
          source: { component: "agentgate" },
          reportingComponent: "agentgate",
          firstTimestamp: time as unknown as Date,
          lastTimestamp: time as unknown as Date,
          count: 1,
        },
      })
      .catch((err: unknown) => log.warn("cannot record denial event", { error: err instanceof Error ? err.message : String(err) }));
  };
}
