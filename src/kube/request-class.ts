// The verb and resource of an API request as the API server's audit log
// names them: what every process counts its API calls by. Pure, so both the
// client-node transport (src/kube/client.ts) and the lean client
// (src/kube/api.ts) share it without one loading the other.
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
