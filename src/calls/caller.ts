// Who is calling the run-time gateway (docs/run-time-gateway.md, "Identity"):
// a run's agent presents a token for the run's own ServiceAccount, minted
// for agentgate's audience. The API server says whose token it is
// (TokenReview); the run is read off the ServiceAccount's name, never off
// the URL, so a token of one run cannot act for another.
import { createHash } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { AgentgateError } from "../errors.ts";
import type { KubeApi } from "../kube/api.ts";
import { listPath, RESOURCES } from "../kube/resources.ts";
import { RUN_SERVICE_ACCOUNT_PREFIX } from "../types/agent.ts";

/** The audience a run's call token is minted for; a token for any other audience (the API server's own included) is refused. */
export const CALLS_AUDIENCE = "agentgate.agent.tekton.dev/calls";

export interface CallerRun {
  namespace: string;
  name: string;
}

const SA_USERNAME = /^system:serviceaccount:([a-z0-9.-]+):([a-z0-9.-]+)$/;

/** The run whose ServiceAccount `username` is; undefined for anyone else. */
export function runOfUsername(username: string): CallerRun | undefined {
  const m = SA_USERNAME.exec(username);
  if (!m) return undefined;
  const [, namespace = "", sa = ""] = m;
  if (!sa.startsWith(RUN_SERVICE_ACCOUNT_PREFIX) || sa.length === RUN_SERVICE_ACCOUNT_PREFIX.length) return undefined;
  return { namespace, name: sa.slice(RUN_SERVICE_ACCOUNT_PREFIX.length) };
}

/** The bearer credential of a request: `Authorization: Bearer` (MCP, OpenAI) or `x-api-key` (Anthropic). */
export function bearerOf(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const key = headers["x-api-key"];
  return typeof key === "string" && key.trim() !== "" ? key.trim() : undefined;
}

/** A call the gateway will not take: `status` is the HTTP status, the message is safe to show the caller. */
export class CallRefused extends AgentgateError {
  readonly status: number;

  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(status >= 500 ? "unavailable" : "input", message, options);
    this.name = "CallRefused";
    this.status = status;
  }
}

export type TokenReviewFn = (token: string) => Promise<{ authenticated: boolean; username: string; audiences: string[]; error?: string }>;

/** TokenReview through the API server, asking for agentgate's audience. */
export function clusterTokenReview(api: KubeApi): TokenReviewFn {
  return async (token) => {
    const review = await api.create<k8s.V1TokenReview>("/apis/authentication.k8s.io/v1/tokenreviews", { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [CALLS_AUDIENCE] } });
    const s = review.status ?? {};
    return { authenticated: s.authenticated === true, username: s.user?.username ?? "", audiences: s.audiences ?? [], ...(s.error ? { error: s.error } : {}) };
  };
}

/**
 * TokenReview answers kept for `ttlMs` (by the token's digest, never the
 * token): an agent's burst of calls costs one review. A token revoked
 * (its bound Secret deleted) is still taken for at most that long; a
 * failed review is not kept.
 */
export function cachedTokenReview(review: TokenReviewFn, ttlMs = 10_000, now: () => number = Date.now): TokenReviewFn {
  const cache = new Map<string, { at: number; answer: Awaited<ReturnType<TokenReviewFn>> }>();
  return async (token) => {
    const key = createHash("sha256").update(token).digest("hex");
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.answer;
    const answer = await review(token);
    if (cache.size >= 10_000) cache.clear();
    cache.set(key, { at: now(), answer });
    return answer;
  };
}

/**
 * The run a token speaks for. Refusals never say whose token it was or why
 * the API server refused it beyond "not valid": the caller may be anyone.
 */
export async function authenticate(token: string | undefined, review: TokenReviewFn): Promise<CallerRun> {
  if (token === undefined) throw new CallRefused(401, "no run token: send the run's token as Authorization: Bearer (or x-api-key)");
  let answer;
  try {
    answer = await review(token);
  } catch (err) {
    // The caller is not known yet: the API server's error stays in the log.
    throw new CallRefused(503, "cannot check the run token now (the API server did not answer a TokenReview); retry", { cause: err });
  }
  if (!answer.authenticated || !answer.audiences.includes(CALLS_AUDIENCE)) throw new CallRefused(401, `the run token is not valid for ${CALLS_AUDIENCE}`);
  const run = runOfUsername(answer.username);
  if (!run) throw new CallRefused(403, "the token is not a run's: only an AgentRun's own ServiceAccount may call through agentgate");
  return run;
}

/**
 * Whether a Running pod of the run's own ServiceAccount has this IP: the
 * call comes from the run's agent. A token alone is not enough: kagent keeps
 * it in Secrets of the run's namespace, which that namespace's editors (and
 * an agent whose Role reads Secrets there) can read; the run's pods come
 * only through kagent's chain (run-identity), so a pod with that account
 * and that address is the run's agent.
 */
export type PodCheck = (run: CallerRun, ip: string) => Promise<boolean>;

export function clusterPodCheck(api: KubeApi): PodCheck {
  return async (run, ip) => {
    const fieldSelector = `spec.serviceAccountName=${RUN_SERVICE_ACCOUNT_PREFIX}${run.name},status.podIP=${ip},status.phase=Running`;
    const pods = await api.get<k8s.V1PodList>(listPath(RESOURCES.pods, encodeURIComponent(run.namespace)), { fieldSelector });
    // A pod on the node's network shares the node's address; one being deleted, or not Ready (a lost
    // node's pod stays Running while its address may be given to another), may no longer hold it.
    return pods.items.some((p) => p.spec?.hostNetwork !== true && p.metadata?.deletionTimestamp === undefined && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true);
  };
}

/** Answers kept by run and address: a yes for `ttlMs`, a no for a second (a pod just started may call at once). */
export function cachedPodCheck(check: PodCheck, ttlMs = 10_000, now: () => number = Date.now): PodCheck {
  const cache = new Map<string, { at: number; yes: boolean }>();
  return async (run, ip) => {
    const key = `${run.namespace}/${run.name}/${ip}`;
    const hit = cache.get(key);
    if (hit && now() - hit.at < (hit.yes ? ttlMs : 1000)) return hit.yes;
    const yes = await check(run, ip);
    if (cache.size >= 10_000) cache.clear();
    cache.set(key, { at: now(), yes });
    return yes;
  };
}

/** The caller's address as pods have it (an IPv4 address arrives IPv6-mapped on a dual-stack socket). */
export function callerAddress(remote: string | undefined): string {
  return (remote ?? "").replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
}

export async function fromRunPod(run: CallerRun, remote: string | undefined, check: PodCheck): Promise<void> {
  const ip = callerAddress(remote);
  let yes: boolean;
  try {
    yes = ip !== "" && (await check(run, ip));
  } catch (err) {
    throw new CallRefused(503, "cannot check where the call comes from now (the API server did not answer); retry", { cause: err });
  }
  if (!yes) throw new CallRefused(403, `the call does not come from a pod of AgentRun ${run.namespace}/${run.name}: a run's token is taken only from its own agent's pods`);
}
