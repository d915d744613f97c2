// A Kubernetes Event on an existing object whose update was denied, so
// `kubectl describe` shows why someone's change did not land.
//
// The review that asks for it may not come from the API server: /validate
// answers whoever reaches the Service (unless --client-ca-file is set), and a
// forged UPDATE names any namespace, object and text. So an Event is written
// only for an object the API server confirms exists with the uid the review
// claims, and writes are bounded: one per object and message a minute (a
// controller retrying a denied update), a token bucket for the whole gateway
// and another per namespace, taken before the confirming read so that a flood
// of forged reviews costs a bounded number of reads as well. A flood can use
// the budget up, and real denials then go without an Event for a while; the
// denial itself still reaches whoever applied the change.
import type * as k8s from "@kubernetes/client-node";
import { Counter, type Registry } from "prom-client";
import type { KubeApi } from "../kube/api.ts";
import { statusCode } from "../kube/errors.ts";
import { resourceByKind } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import type { KubeObject } from "../types/kube.ts";

export interface EventLimits {
  /** one Event per object and message within this window */
  dedupeWindowMs: number;
  globalBurst: number;
  globalPerSecond: number;
  namespaceBurst: number;
  namespacePerSecond: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  dedupeWindowMs: 60_000,
  globalBurst: 20,
  globalPerSecond: 1,
  namespaceBurst: 5,
  namespacePerSecond: 0.1,
};

interface Bucket {
  tokens: number;
  at: number;
}

/** Refills a bucket to `now` (pure: returns the new state). */
export function refill(bucket: Bucket, now: number, burst: number, perSecond: number): Bucket {
  const tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
  return { tokens, at: now };
}

export type Admittance = "ok" | "duplicate" | "rate-limited";

/**
 * Decides whether an Event may be attempted now. State only in memory, time
 * passed in: the decisions are a pure function of the calls made.
 */
export class EventLimiter {
  private readonly limits: EventLimits;
  private global: Bucket;
  private readonly namespaces = new Map<string, Bucket>();
  private readonly recent = new Map<string, number>();

  constructor(limits: EventLimits, now: number) {
    this.limits = limits;
    this.global = { tokens: limits.globalBurst, at: now };
  }

  /** Takes a token from both buckets and marks the key as seen, or says why not. */
  take(now: number, namespace: string, key: string): Admittance {
    const l = this.limits;
    const seen = this.recent.get(key);
    if (seen !== undefined && seen > now - l.dedupeWindowMs) return "duplicate";
    const global = refill(this.global, now, l.globalBurst, l.globalPerSecond);
    const ns = refill(this.namespaces.get(namespace) ?? { tokens: l.namespaceBurst, at: now }, now, l.namespaceBurst, l.namespacePerSecond);
    this.global = global;
    if (global.tokens < 1 || ns.tokens < 1) return "rate-limited";
    this.global = { tokens: global.tokens - 1, at: now };
    this.namespaces.set(namespace, { tokens: ns.tokens - 1, at: now });
    this.recent.set(key, now);
    this.prune(now);
    return "ok";
  }

  /** An attempt that did not lead to an Event: a real one for the same key is not a duplicate of it. */
  forget(key: string): void {
    this.recent.delete(key);
  }

  /** Namespaces and keys tracked (bounded: entries are only made with a global token). */
  get size(): { namespaces: number; keys: number } {
    return { namespaces: this.namespaces.size, keys: this.recent.size };
  }

  private prune(now: number): void {
    const l = this.limits;
    for (const [key, at] of this.recent) if (at <= now - l.dedupeWindowMs) this.recent.delete(key);
    // A bucket that has refilled says no more than a missing one.
    const refillMs = (l.namespaceBurst / l.namespacePerSecond) * 1000;
    for (const [ns, b] of this.namespaces) if (b.at <= now - refillMs) this.namespaces.delete(ns);
  }
}

/** The object an Event would be about, as the review states it. */
export interface EventTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  /** the uid of the stored object the review claims (oldObject.metadata.uid) */
  uid: string;
}

/** The target of an Event for this review, or why there is none. */
export function eventTarget(request: AdmissionRequest): EventTarget | { none: string } {
  const { group, version, kind } = request.kind;
  const namespace = request.namespace;
  const name = request.name;
  const uid = request.oldObject?.metadata?.uid;
  if (namespace === undefined || namespace === "") return { none: "the review names no namespace" };
  if (name === undefined || name === "") return { none: "the review names no object" };
  if (typeof uid !== "string" || uid === "") return { none: "the review's oldObject has no uid" };
  return { apiVersion: group === "" ? version : `${group}/${version}`, kind, namespace, name, uid };
}

export type Confirmation = { confirmed: true } | { confirmed: false; outcome: "not-found" | "uid-mismatch" };

/** Whether what the API server holds is the object the review claims. */
export function confirm(target: EventTarget, stored: KubeObject | undefined): Confirmation {
  if (stored === undefined) return { confirmed: false, outcome: "not-found" };
  // The object read must be the one named, not only carry its uid.
  if (stored.metadata?.uid !== target.uid || stored.kind !== target.kind || stored.metadata.name !== target.name || (stored.metadata.namespace ?? "") !== target.namespace) return { confirmed: false, outcome: "uid-mismatch" };
  return { confirmed: true };
}

export function eventBody(target: EventTarget, request: AdmissionRequest, message: string, now: Date): k8s.CoreV1Event {
  const time = now.toISOString();
  return {
    metadata: { generateName: `${target.name}.`, namespace: target.namespace },
    involvedObject: { apiVersion: target.apiVersion, kind: target.kind, name: target.name, namespace: target.namespace, uid: target.uid },
    type: "Warning",
    reason: "UpdateDenied",
    message: `update by ${request.userInfo.username ?? "unknown"} denied by agentgate: ${message}`.slice(0, 1024),
    source: { component: "agentgate" },
    reportingComponent: "agentgate",
    // client-node's type says Date; the API server takes RFC 3339 strings.
    firstTimestamp: time as unknown as Date,
    lastTimestamp: time as unknown as Date,
    count: 1,
  };
}

export type EventOutcome = "written" | "duplicate" | "rate-limited" | "no-target" | "not-found" | "uid-mismatch" | "error";

/** Where Events are confirmed and written: the API server in serve, memory in tests. */
export interface EventSink {
  /** the stored object, or undefined when there is none */
  read(target: EventTarget): Promise<KubeObject | undefined>;
  write(event: k8s.CoreV1Event): Promise<void>;
}

export interface DenialRecorderOptions {
  sink: EventSink;
  log: Logger;
  limits?: EventLimits;
  now?: () => number;
  onOutcome?: (outcome: EventOutcome) => void;
}

/** The recorder the server calls on each denied UPDATE; resolves with what it did. */
export function createDenialRecorder(opts: DenialRecorderOptions): (request: AdmissionRequest, message: string) => Promise<EventOutcome> {
  const now = opts.now ?? Date.now;
  const limiter = new EventLimiter(opts.limits ?? DEFAULT_EVENT_LIMITS, now());
  const done = (outcome: EventOutcome): EventOutcome => {
    opts.onOutcome?.(outcome);
    return outcome;
  };
  return async (request, message) => {
    const target = eventTarget(request);
    if ("none" in target) return done("no-target");
    const key = `${target.uid}\0${message}`;
    const admitted = limiter.take(now(), target.namespace, key);
    if (admitted !== "ok") return done(admitted);
    try {
      const confirmation = confirm(target, await opts.sink.read(target));
      if (!confirmation.confirmed) {
        limiter.forget(key);
        return done(confirmation.outcome);
      }
      await opts.sink.write(eventBody(target, request, message, new Date(now())));
      return done("written");
    } catch (err) {
      limiter.forget(key);
      opts.log.warn("cannot record denial event", { kind: target.kind, namespace: target.namespace, name: target.name, error: err instanceof Error ? err.message : String(err) });
      return done("error");
    }
  };
}

/**
 * The URL path of the object an Event would be about, at the version the
 * review names. Only kinds of the resource table (src/kube/resources.ts):
 * the webhooks intercept no others, and a review naming another is not one
 * the API server sent.
 */
export function targetPath(target: EventTarget): string {
  const slash = target.apiVersion.indexOf("/");
  const group = slash < 0 ? "" : target.apiVersion.slice(0, slash);
  const version = target.apiVersion.slice(slash + 1);
  const resource = resourceByKind(group, target.kind);
  // The version is the review's, and anyone who reaches /validate writes the
  // review: only a version the table lists for the kind becomes a path, so
  // "v1alpha2/../../api/v1/secrets/x#" cannot turn the confirming read into
  // a read of anything else.
  if (!resource?.versions.includes(version)) throw new Error(`Unrecognized API version and kind: ${target.apiVersion} ${target.kind}`);
  const base = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
  return `${base}${resource.namespaced ? `/namespaces/${encodeURIComponent(target.namespace)}` : ""}/${resource.plural}/${encodeURIComponent(target.name)}`;
}

/** The API server as the sink: a GET of the object, then a create of the Event. */
export function apiServerSink(api: KubeApi): EventSink {
  return {
    async read(target) {
      const path = targetPath(target);
      try {
        return await api.get<KubeObject>(path);
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) return undefined;
        throw code !== undefined ? new Error(`GET ${target.apiVersion} ${target.kind} ${target.namespace}/${target.name}: HTTP ${code}`) : err;
      }
    },
    async write(event) {
      await api.create(`/api/v1/namespaces/${encodeURIComponent(event.metadata.namespace ?? "")}/events`, event);
    },
  };
}

/** serve's recorder: Events through the API server, each outcome counted in agentgate_denial_events_total. */
export function createDenialEvents(api: KubeApi, log: Logger, registry?: Registry, limits: EventLimits = DEFAULT_EVENT_LIMITS): (request: AdmissionRequest, message: string) => void {
  const counter = registry
    ? new Counter({
        name: "agentgate_denial_events_total",
        help: "Denied updates by what became of their Event: written, duplicate, rate-limited, no-target, not-found or uid-mismatch (the review named no object the API server holds), error.",
        labelNames: ["outcome"] as const,
        registers: [registry],
      })
    : undefined;
  const record = createDenialRecorder({ sink: apiServerSink(api), log, limits, onOutcome: (outcome) => counter?.inc({ outcome }) });
  return (request, message) => void record(request, message);
}
