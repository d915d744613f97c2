// The transport every counted API client is built on: one connection pool
// (src/kube/pooled-config.ts) and a listener told of each request as the API
// server's audit log would name it, so a process's cost in API calls is a
// metric rather than a guess.
import * as k8s from "@kubernetes/client-node";
import { PooledKubeConfig } from "./pooled-config.ts";
import { classifyRequest, type RequestListener } from "./request-class.ts";

export { classifyRequest, type RequestListener };

function headerValue(headers: Record<string, string>, name: string): string {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? "" : headers[key] ?? "";
}

/**
 * A client configuration for kc's current cluster, as KubeConfig.makeApiClient
 * builds it, with the counting transport and one connection pool:
 * client-node otherwise makes an undici Agent, and a TLS connection, for
 * every request. A run sends ~50, so 10 runs at once took the controller
 * from 195 to 363 MiB of RSS and each run's time to Acting grew with the
 * number in flight (bench/controller-run.ts --runs).
 */
export function countingConfiguration(kc: k8s.KubeConfig, userAgent: string, onRequest: RequestListener): k8s.Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster: set current-context to a context whose cluster exists");
  const inner = k8s.createConfiguration().httpApi;
  const counting: k8s.HttpLibrary = {
    send: (request) => {
      const { verb, resource } = classifyRequest(request.getHttpMethod(), request.getUrl(), headerValue(request.getHeaders(), "content-type"));
      onRequest(verb, resource);
      return inner.send(request);
    },
  };
  return k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: new PooledKubeConfig(kc) },
    httpApi: counting,
    middleware: [k8s.setHeaderMiddleware("User-Agent", userAgent)],
  });
}
