// Wire in: an HTTP body to a typed AdmissionRequest, or a one-line reason
// why not (the server answers 400 with it).
import type { AdmissionRequest, Operation } from "../types/admission.ts";
import { isRecord } from "../types/kube.ts";

export class WireError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.name = "WireError";
    this.status = status;
  }
}

const OPERATIONS: ReadonlySet<string> = new Set<Operation>(["CREATE", "UPDATE", "DELETE", "CONNECT"]);

function requireString(obj: Record<string, unknown>, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== "string") throw new WireError(`AdmissionReview ${where}.${key} must be a string`);
  return value;
}

function requireGroupVersion(obj: Record<string, unknown>, key: string, fields: string[]): void {
  const value = obj[key];
  if (!isRecord(value)) throw new WireError(`AdmissionReview request.${key} must be an object`);
  for (const field of fields) {
    if (typeof value[field] !== "string") throw new WireError(`AdmissionReview request.${key}.${field} must be a string`);
  }
}

/** Validates the shape agentgate relies on; the rest passes through untouched to policy. */
export function parseAdmissionReview(body: string | Buffer): AdmissionRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    throw new WireError(`request body is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isRecord(parsed)) throw new WireError("request body is not a JSON object");
  const review = parsed;
  if (review.apiVersion !== "admission.k8s.io/v1") {
    throw new WireError(`AdmissionReview apiVersion must be admission.k8s.io/v1, got ${JSON.stringify(review.apiVersion ?? null)}`);
  }
  if (review.kind !== "AdmissionReview") throw new WireError(`kind must be AdmissionReview, got ${JSON.stringify(review.kind ?? null)}`);
  const request: unknown = review.request;
  if (!isRecord(request)) throw new WireError("AdmissionReview has no request");
  const uid = request.uid;
  if (typeof uid !== "string" || uid === "") throw new WireError("AdmissionReview request has no uid");
  requireGroupVersion(request, "kind", ["group", "version", "kind"]);
  requireGroupVersion(request, "resource", ["group", "version", "resource"]);
  const operation = requireString(request, "operation", "request");
  if (!OPERATIONS.has(operation)) throw new WireError(`AdmissionReview request.operation ${JSON.stringify(operation)} is not one of CREATE, UPDATE, DELETE, CONNECT`);
  if (request.userInfo !== undefined && !isRecord(request.userInfo)) throw new WireError("AdmissionReview request.userInfo must be an object");
  for (const key of ["object", "oldObject"] as const) {
    const value = request[key];
    if (value !== undefined && value !== null && !isRecord(value)) throw new WireError(`AdmissionReview request.${key} must be an object or null`);
  }
  // The API server always sends what the operation acts on; a review without
  // it cannot be judged, and answering 400 makes the call fail closed.
  if ((operation === "CREATE" || operation === "UPDATE") && !isRecord(request.object)) {
    throw new WireError(`AdmissionReview request.object is missing: ${operation === "CREATE" ? "a CREATE" : "an UPDATE"} carries the object as it would be stored`);
  }
  if (operation === "UPDATE" && !isRecord(request.oldObject)) throw new WireError("AdmissionReview request.oldObject is missing: an UPDATE carries the stored object it changes");
  if (request.namespace !== undefined && typeof request.namespace !== "string") throw new WireError("AdmissionReview request.namespace must be a string");
  // The parsed object is this call's own: completed in place, not copied (the hot path).
  if (request.userInfo === undefined) request.userInfo = {};
  return request as unknown as AdmissionRequest;
}
