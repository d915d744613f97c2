// A failed Kubernetes API call, however it is reported (client-node's
// ApiException, the lean client's KubeApiError, an error carrying `code`,
// the watch's `statusCode`), read the same way by every process: its
// status, a one-line description, and the retry of what the API server asks
// to be retried. Both API errors are recognised by their shape, not their
// class, so this file loads neither client.

/** An API server's answer other than 2xx: client-node's ApiException and src/kube/api.ts's KubeApiError both have this shape. */
interface ApiAnswerError extends Error {
  code: number;
  body: unknown;
  headers: Record<string, string | undefined>;
}

function isApiAnswer(err: unknown): err is ApiAnswerError {
  return err instanceof Error && "code" in err && typeof err.code === "number" && "body" in err && "headers" in err && typeof err.headers === "object" && err.headers !== null;
}

export function statusCode(err: unknown): number | undefined {
  if (isApiAnswer(err)) return err.code;
  if (typeof err === "object" && err !== null) {
    if ("code" in err && typeof err.code === "number") return err.code;
    if ("statusCode" in err && typeof err.statusCode === "number") return err.statusCode;
  }
  return undefined;
}

/**
 * "HTTP 403: <the API server's message>", or an error's message with the
 * network cause (ECONNREFUSED) that fetch hides in `cause`.
 */
export function describeError(err: unknown): string {
  if (isApiAnswer(err)) {
    const body: unknown = typeof err.body === "string" ? parseOrText(err.body) : err.body;
    const message = typeof body === "object" && body !== null && "message" in body && typeof body.message === "string" ? body.message : undefined;
    return `HTTP ${err.code}${message ? `: ${message}` : ""}`;
  }
  if (err instanceof Error) {
    const cause: unknown = err.cause;
    const detail = cause instanceof Error ? (("code" in cause && typeof cause.code === "string" ? cause.code : undefined) ?? cause.message) : undefined;
    const code = statusCode(err);
    return `${code !== undefined ? `HTTP ${code}: ` : ""}${err.message}${detail && !err.message.includes(detail) ? ` (${detail})` : ""}`;
  }
  return String(err);
}

/** A body that is not JSON (a proxy's HTML page) is still worth its first line. */
function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 300) };
  }
}

/** Seconds the server asked to wait (Retry-After), else 1; at most 10. */
function retryAfterMs(err: unknown): number {
  const header = isApiAnswer(err) ? err.headers["retry-after"] : undefined;
  const seconds = Number(header ?? 1);
  return Math.min(10, Number.isFinite(seconds) && seconds > 0 ? seconds : 1) * 1000;
}

/** HTTP statuses of an API server (or the proxy before it) that is briefly unavailable. */
const TRANSIENT = new Set([500, 502, 503, 504]);

export interface RetryOptions {
  /** tries in all for a 429, each after the wait the server asks (default 8) */
  attempts?: number;
  /**
   * Also retry a 5xx (etcd timing out, an apiserver restarting behind a load
   * balancer), backing off 250 ms, 500 ms, 1 s: for reads only. A write that
   * failed with a 5xx may have landed, and repeating it is not harmless: a
   * create with generateName (an Event, a token Secret) or a TokenRequest
   * would be made twice.
   */
  read?: boolean;
  /** how to wait; tests pass one that records instead of sleeping */
  sleep?: (ms: number) => Promise<void>;
}

/** Tries in all for a read's 5xx. */
const TRANSIENT_TRIES = 4;

const sleepFor = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Retries what the API server refuses with 429 (API Priority and Fairness
 * throttling, or a resource whose storage is still initializing right after
 * its CRD was established), waiting as it asks: a 429 was refused before it
 * did anything, so any call may repeat it. A read is also retried a few
 * times on a 5xx (opts.read).
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const { attempts = 8, read = false, sleep = sleepFor } = opts;
  let throttled = 0;
  let transient = 0;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const code = statusCode(err);
      if (code === 429 && ++throttled < attempts) await sleep(retryAfterMs(err));
      else if (read && code !== undefined && TRANSIENT.has(code) && ++transient < TRANSIENT_TRIES) await sleep(Math.min(5000, 250 * 2 ** (transient - 1)));
      else throw err;
    }
  }
}
