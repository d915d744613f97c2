// Wire in: an HTTP body to a typed AdmissionRequest, or a one-line reason
// why not (the server answers 400 with it).
import type { AdmissionRequest, Operation } from "../types/admission.ts";
import { isRecord } from "../types/kube.ts";
import { scanJson, type JsonScan } from "./json-scan.ts";
import { objectMetaProblem } from "./object-meta.ts";
import { AgentgateError } from "../errors.ts";

export class WireError extends AgentgateError {
  readonly status: number;
  constructor(message: string, status = 400) {
    super("input", message);
    this.name = "WireError";
    this.status = status;
  }
}

/**
 * What one review may cost before it is parsed. The API server caps a body
 * at 3 MiB and nesting at 10,000 levels; within those, a review can hold a
 * million values, which cost the gateway most of a second of CPU and 200 MB
 * of resident memory the policy's wasm heap keeps for good (bench/review-
 * cost.ts). Real objects are far below these: a 20-server AgentConfig with an
 * 11 KB prompt, kubectl's last-applied annotation and managedFields is 3,626
 * values and 13 levels as an UPDATE (object and oldObject together).
 */
export interface ReviewLimits {
  /** JSON values in the whole body (object keys not counted) */
  maxValues: number;
  /** nesting of objects and arrays from the body's top, where request.object is already 3 levels in */
  maxDepth: number;
}

export const DEFAULT_REVIEW_LIMITS: ReviewLimits = { maxValues: 100_000, maxDepth: 100 };

/**
 * A review over the limits whose envelope still says what it is about: the
 * server answers it with a denial rather than an HTTP error, so the API
 * server shows the developer why (and failurePolicy cannot turn it into an
 * allow). `request` holds the envelope only: no object, no oldObject.
 */
export class ReviewTooCostlyError extends WireError {
  readonly request: AdmissionRequest;
  /** one line per limit exceeded, each naming the measured figure, the limit and the fix */
  readonly reasons: string[];
  readonly scan: JsonScan;
  constructor(request: AdmissionRequest, reasons: string[], scan: JsonScan) {
    super(`AdmissionReview over the gateway's limits: ${reasons.join("; ")}`, 413);
    this.name = "ReviewTooCostlyError";
    this.request = request;
    this.reasons = reasons;
    this.scan = scan;
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

/** What is over the limits, one line each, for the developer whose object it is. */
function overLimits(scan: JsonScan, limits: ReviewLimits, operation: string | undefined): string[] {
  const reasons: string[] = [];
  if (scan.values > limits.maxValues) {
    const which = operation === "UPDATE" ? " (the object and the stored object it replaces)" : "";
    reasons.push(`the review holds ${scan.values} JSON values${which}, over the gateway's limit of ${limits.maxValues}; keep bulk data out of the object (in a ConfigMap or an artifact it refers to), or ask the platform team to raise the Helm value gateway.reviewLimits.maxValues`);
  }
  if (scan.depth > limits.maxDepth) {
    reasons.push(`the review nests ${scan.depth} levels deep, over the gateway's limit of ${limits.maxDepth} (the object starts 3 levels in); flatten the object's nested fields, or ask the platform team to raise the Helm value gateway.reviewLimits.maxDepth`);
  }
  return reasons;
}

/**
 * The envelope of a review too costly to parse, checked as parseAdmissionReview
 * checks it; a body that is not an AdmissionReview gets a 413 naming the limit.
 */
function envelopeRequest(scan: JsonScan, reasons: string[]): AdmissionRequest {
  const { envelope: e } = scan;
  const tooLarge = (why: string) => new WireError(`request body over the gateway's limits (${reasons.join("; ")}) and ${why}`, 413);
  if (e.apiVersion !== "admission.k8s.io/v1" || e.kind !== "AdmissionReview") throw tooLarge("not an admission.k8s.io/v1 AdmissionReview");
  if (e.uid === undefined || e.uid === "") throw tooLarge("its request has no uid");
  const { group, version, kind } = e.requestKind;
  const { resource } = e.resource;
  if (group === undefined || version === undefined || kind === undefined) throw tooLarge("its request.kind is not a group, version and kind");
  if (e.resource.group === undefined || e.resource.version === undefined || resource === undefined) throw tooLarge("its request.resource is not a group, version and resource");
  if (e.operation === undefined || !OPERATIONS.has(e.operation)) throw tooLarge("its request.operation is not one of CREATE, UPDATE, DELETE, CONNECT");
  return {
    uid: e.uid,
    kind: { group, version, kind },
    resource: { group: e.resource.group, version: e.resource.version, resource },
    operation: e.operation as Operation,
    userInfo: e.username === undefined ? {} : { username: e.username },
    ...(e.namespace === undefined ? {} : { namespace: e.namespace }),
    ...(e.name === undefined ? {} : { name: e.name }),
  };
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === "string";
const stringList = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === "string");

/**
 * The envelope fields the gateway reads, typed as admission.k8s.io/v1 types
 * them (the API server never sends otherwise): a body that mistypes one is
 * refused here rather than failing inside a guardrail (a `name` of 5, a
 * `groups` of "admins", found by fuzz/admission-review.fuzz.ts).
 */
function checkEnvelopeTypes(request: Record<string, unknown>): void {
  for (const key of ["name", "subResource", "requestSubResource"] as const) {
    if (!optionalString(request[key])) throw new WireError(`AdmissionReview request.${key} must be a string`);
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== "boolean") throw new WireError("AdmissionReview request.dryRun must be a boolean");
  const user = request.userInfo;
  if (!isRecord(user)) return;
  for (const key of ["username", "uid"] as const) {
    if (!optionalString(user[key])) throw new WireError(`AdmissionReview request.userInfo.${key} must be a string`);
  }
  if (user.groups !== undefined && !stringList(user.groups)) throw new WireError("AdmissionReview request.userInfo.groups must be a list of strings");
  const extra = user.extra;
  if (extra !== undefined && (!isRecord(extra) || !Object.values(extra).every(stringList))) {
    throw new WireError("AdmissionReview request.userInfo.extra must map names to lists of strings");
  }
}

/**
 * Validates the shape agentgate relies on; the rest passes through untouched
 * to policy. With limits, a body over them is refused before it is parsed:
 * ReviewTooCostlyError when it is an AdmissionReview, a 413 otherwise.
 */
export function parseAdmissionReview(body: string | Buffer, limits?: ReviewLimits): AdmissionRequest {
  if (limits !== undefined) {
    const scan = scanJson(typeof body === "string" ? Buffer.from(body) : body);
    const reasons = overLimits(scan, limits, scan.envelope.operation);
    if (reasons.length > 0) throw new ReviewTooCostlyError(envelopeRequest(scan, reasons), reasons, scan);
  }
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
  checkEnvelopeTypes(request);
  for (const key of ["object", "oldObject"] as const) {
    const value = request[key];
    if (value !== undefined && value !== null && !isRecord(value)) throw new WireError(`AdmissionReview request.${key} must be an object or null`);
    const problem = isRecord(value) ? objectMetaProblem(value.metadata) : undefined;
    if (problem !== undefined) throw new WireError(`AdmissionReview request.${key}.${problem}`);
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
