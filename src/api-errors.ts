// The HTTP status of a failed Kubernetes API call, however the client
// library reports it: an ApiException, an error carrying `code`, or the
// watch's `statusCode`. One place, for every process that talks to the API.
import * as k8s from "@kubernetes/client-node";

export function statusCode(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  if (typeof err === "object" && err !== null) {
    if ("code" in err && typeof err.code === "number") return err.code;
    if ("statusCode" in err && typeof err.statusCode === "number") return err.statusCode;
  }
  return undefined;
}
