// The bound on admission reviews in flight, and the answer a review over it
// gets: refused at once, unevaluated, rather than queued.
//
// Why a bound in a single-threaded server: evaluation is CPU work, so a
// gateway offered more than it can evaluate falls behind, and without a
// bound what it has not reached waits in socket buffers until after the API
// server gave up on it (webhook timeoutSeconds, 5 s in the chart). Every
// review is then answered too late, each one evaluated for nothing: the
// gateway answers nothing in time while load lasts, and stays behind after.
// With the bound, reviews over it cost only the refusal (no parse, no
// policy), so the rest are answered within the timeout and the gateway is
// caught up the moment load drops. It also bounds memory: at most `max`
// bodies (each up to MAX_BODY_BYTES) are held while they wait their turn.
// A place is taken once a review's body is in (server.ts), so a caller slow
// to send one holds none.
//
// Why a denial and not an HTTP error (429/503): an HTTP error is a failed
// webhook call, which the API server turns into an allow under
// failurePolicy: Ignore (the chart's emergency exit); a denial refuses the
// write whatever the failure policy, as the gateway's other refusals
// (request-size, evaluation errors) do. Its status carries code 429
// (TooManyRequests), which the API server passes to the client as the
// write's status, and no retryAfterSeconds: that would make the API server
// send Retry-After, and client-go would retry up to 10 times on its own,
// multiplying the load the gateway is shedding.
import type { Logger } from "../log.ts";
import type { AdmissionReview } from "../types/admission.ts";

/** What `serve` allows in flight unless told otherwise (README "Performance", bench/overload.ts). */
export const DEFAULT_MAX_IN_FLIGHT = 64;

export class InFlightLimit {
  private current = 0;
  readonly max: number;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`in-flight limit must be a whole number of at least 1, got ${String(max)}`);
    this.max = max;
  }

  /** Takes a place, or says there is none; a place taken is given back with leave(). */
  tryEnter(): boolean {
    if (this.current >= this.max) return false;
    this.current++;
    return true;
  }

  leave(): void {
    this.current--;
  }

  get inFlight(): number {
    return this.current;
  }
}

/**
 * Resolves once every connection with data waiting has been read. A review
 * is counted in flight as soon as its request arrives; were it evaluated
 * there and then (the evaluation is synchronous once its body is read), the
 * count would never pass 1 and the bound would never hold, while what the
 * gateway has not reached waits uncounted in socket buffers. Waiting for the
 * loop's check phase lets the poll phase read (and count, or refuse) every
 * request that has arrived before any of them is evaluated.
 */
export const afterArrivals = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// kube-apiserver writes AdmissionReview as Go encodes the struct: kind,
// apiVersion, then request with uid first. Anchored at the top level, so a
// "uid" inside the object cannot be taken for the review's.
const LEADING_UID = /^\s*\{(?:\s*"(?:kind|apiVersion)"\s*:\s*"[^"\\]*"\s*,)*\s*"request"\s*:\s*\{\s*"uid"\s*:\s*"([\w.:-]{1,128})"\s*[,}]/;

/**
 * The review's request uid, read cheaply: refusing must cost far less than
 * evaluating, or shedding load would not relieve the gateway. Other key
 * orders are parsed in full. Undefined when the body holds no review uid.
 */
export function reviewUid(body: Buffer): string | undefined {
  const head = LEADING_UID.exec(body.toString("latin1", 0, Math.min(body.length, 512)));
  if (head?.[1] !== undefined) return head[1];
  try {
    const uid = (JSON.parse(body.toString("utf8")) as { request?: { uid?: unknown } } | null)?.request?.uid;
    return typeof uid === "string" && uid !== "" ? uid : undefined;
  } catch {
    return undefined;
  }
}

export function overloadMessage(max: number): string {
  return `[gateway-overloaded] agentgate already has ${String(max)} admission reviews in flight, its limit, and refused this one without evaluating it (fail closed); retry in a moment, and if it persists tell the platform team: the gateway needs more replicas or CPU (Helm gateway.maxInFlight)`;
}

export function overloadedReview(uid: string, max: number): AdmissionReview {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid, allowed: false, status: { code: 429, reason: "TooManyRequests", message: overloadMessage(max), status: "Failure" } },
  };
}

/**
 * Refusals in the log without a line each: under overload a line per review
 * would add to the work being shed. The first refusal is logged at once,
 * then one line per interval with how many followed (the metric counts each).
 */
export class OverloadLog {
  private refused = 0;
  private last = Number.NEGATIVE_INFINITY;
  private readonly log: Logger;
  private readonly max: number;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(log: Logger, max: number, intervalMs = 10_000, now: () => number = Date.now) {
    this.log = log;
    this.max = max;
    this.intervalMs = intervalMs;
    this.now = now;
  }

  refusal(): void {
    this.refused++;
    const at = this.now();
    if (at - this.last < this.intervalMs) return;
    this.log.warn("admission reviews refused: the in-flight limit was reached (fail closed)", { refused: this.refused, maxInFlight: this.max, sinceMs: Number.isFinite(this.last) ? at - this.last : 0 });
    this.refused = 0;
    this.last = at;
  }
}
