// The transport every counted API client is built on: one connection pool
// (src/kube/pooled-config.ts) and a listener told of each request as the API
// server's audit log would name it, so a process's cost in API calls is a
// metric rather than a guess.
import * as k8s from "@kubernetes/client-node";
import { PooledKubeConfig } from "./pooled-config.ts";

/**
 * The verb and resource of one API request, named as the API server's audit
 * log names them ("get", "list", "watch", "create", "update", "patch",
 * "delete", "deletecollection"), except that a server-side apply is "apply"
 * rather than "patch": it is the controller's main write and worth telling
 * apart. The resource is the plural, with the subresource after a slash
 * ("agentruns/status").
 */
export function classifyRequest(method: string, url: string, contentType = ""): { verb: string; resource: string } {
  const parsed = new URL(url, "https://api.invalid");
  const parts = parsed.pathname.split("/").filter((p) => p !== "");
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : parts;
  // namespaces/<ns>/<resource>/..., but namespaces/<ns>/status and /finalize are the Namespace's own subresources.
  if (rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) rest = rest.slice(2);
  // An API group's resource list, which KubernetesObjectApi reads once per
  // apiVersion to learn whether a kind is namespaced.
  if (rest.length === 0) return { verb: "get", resource: "discovery" };
  const [plural = "", name, subresource] = rest;
  const resource = subresource ? `${plural}/${subresource}` : plural;
  const m = method.toUpperCase();
  let verb: string;
  if (m === "GET") verb = name !== undefined ? "get" : parsed.searchParams.get("watch") === "true" || parsed.searchParams.get("watch") === "1" ? "watch" : "list";
  else if (m === "POST") verb = "create";
  else if (m === "PUT") verb = "update";
  else if (m === "PATCH") verb = contentType.startsWith("application/apply-patch") ? "apply" : "patch";
  else if (m === "DELETE") verb = name !== undefined ? "delete" : "deletecollection";
  else verb = m.toLowerCase();
  return { verb, resource };
}

/** Told of every API request sent, as it is sent. */
export type RequestListener = (verb: string, resource: string) => void;

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
