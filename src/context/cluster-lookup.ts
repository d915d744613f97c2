// Context from the cluster: informer watch caches of the kinds policies
// refer to, with every cache miss confirmed by a direct read, so that
// `kubectl apply -f dir/` (ModelConfig, then the AgentConfig using it, a few
// milliseconds apart) is never refused because the cache lagged; and while a
// kind's watch is broken its hits are read again too, so an object deleted
// meanwhile (after an API server restart) is never admitted from the cache.
//
// "Synced" means the kind's initial list succeeded and its watch connected:
// ListWatch.start() (src/kube/list-watch.ts) resolves only then, and rejects
// on a failed list (403, connection refused) or watch. So each start is an
// attempt whose errors are collected, and a failed attempt is retried with
// backoff until one succeeds; /readyz names the kinds still failing and why.
// A watch that fails once established stops its cache, which is started
// again the same way. A kind whose API is not served (404: kagent not
// installed) counts as synced and empty: its references resolve to null,
// which is the truth, and the list is retried now and then so the cache
// fills once the CRDs appear.
//
// Services are cached only once referenced (per namespace, on the first
// lookup there): most clusters have many and tool servers name few. Until
// that cache has listed, reads go to the API server; it never holds up
// readiness.
import type { KubeObject } from "../types/kube.ts";
import type { Logger } from "../log.ts";
import type { ContextKind, ObjectLookup } from "./lookup.ts";
import type { KubeApi } from "../kube/api.ts";
import { describeError, statusCode } from "../kube/errors.ts";
import { ListWatch, type ListResult } from "../kube/list-watch.ts";
import { gvrOf, listPath, RESOURCES, type KubeResource } from "../kube/resources.ts";

interface WatchedKind {
  kind: Exclude<ContextKind, "Service" | "ServiceAccount">;
  group: string;
  version: string;
  plural: string;
  /** the cache's watch path, over all namespaces */
  path: string;
  /** the path of one object of the kind */
  objectPath: (namespace: string, name: string) => string;
}

/** Names no object can have. */
const UNNAMEABLE = new Set(["", ".", ".."]);

/** The URL path of one object; a cluster-scoped kind ignores the namespace. */
const objectPath = (r: KubeResource, namespace: string, name: string): string => `${listPath(r, encodeURIComponent(namespace))}/${encodeURIComponent(name)}`;

const watched = (r: (typeof RESOURCES)[WatchedName]): WatchedKind => ({ kind: r.kind, ...gvrOf(r), path: listPath(r), objectPath: (namespace, name) => objectPath(r, namespace, name) });
type WatchedName = "agentConfigs" | "modelConfigs" | "remoteMcpServers" | "mcpServers" | "namespaces" | "customRuns" | "pipelineRuns" | "agents";

export const WATCHED_KINDS: readonly WatchedKind[] = [RESOURCES.agentConfigs, RESOURCES.modelConfigs, RESOURCES.remoteMcpServers, RESOURCES.mcpServers, RESOURCES.namespaces].map(watched);

/**
 * Kinds read directly, never cached: looked up only for the rare requests
 * that need them (a run made from a CustomRun, a pod or token request that
 * names a run's ServiceAccount, a change to one of kagent's objects), far
 * fewer than the objects a watch would hold.
 */
export const DIRECT_KINDS: readonly WatchedKind[] = [RESOURCES.customRuns, RESOURCES.pipelineRuns, RESOURCES.agents].map(watched);

export interface ClusterLookupOptions {
  /** first retry delay after a failed list or watch; doubles up to retryMaxMs */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** how often a kind whose API is not served is listed again */
  absentRecheckMs?: number;
  /** `limit` of each page of a cache's list (default 500) */
  pageSize?: number;
}

/** One page of a list, as the API server sends it. */
interface ListPage {
  items?: KubeObject[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** One watch cache and what is known of it. */
interface CacheState {
  /** what /readyz and the logs call it: "ModelConfig", "Service in tools" */
  label: string;
  /** e.g. "modelconfigs.kagent.dev" */
  resource: string;
  informer: ListWatch;
  /** counts for readiness (Services do not) */
  gatesReadiness: boolean;
  synced: boolean;
  /**
   * Its watch is connected. A cache whose watch broke misses every change
   * until it watches again (after an API server restart, backing off up to
   * retryMaxMs): its hits are stale, so they are confirmed by reads too.
   */
  watching: boolean;
  /** the API is not served (404) */
  absent: boolean;
  failures: number;
  lastError?: string;
  /** errors fired while start() runs belong to that attempt */
  attempting: boolean;
  attemptError?: unknown;
  timer?: NodeJS.Timeout;
}

export class ClusterLookup implements ObjectLookup {
  private readonly kinds = new Map<ContextKind, CacheState>();
  /** Service caches, by namespace, started on first reference */
  private readonly services = new Map<string, CacheState>();
  private readonly api: KubeApi;
  private readonly log: Logger;
  private readonly onSync: (kind: string, synced: boolean) => void;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly absentRecheckMs: number;
  private readonly pageSize: number;
  private stopped = false;
  /** direct reads made to confirm a cache miss (for the closing figures and metrics) */
  confirmations = 0;

  constructor(api: KubeApi, log: Logger, onSync: (kind: string, synced: boolean) => void = () => undefined, opts: ClusterLookupOptions = {}) {
    this.api = api;
    this.log = log;
    this.onSync = onSync;
    this.retryBaseMs = opts.retryBaseMs ?? 1000;
    this.retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.absentRecheckMs = opts.absentRecheckMs ?? 30_000;
    this.pageSize = opts.pageSize ?? 500;
  }

  /**
   * Starts every informer; resolves once each has made its first attempt
   * (synced, found absent, or failed and retrying in the background).
   * notSynced() says which are not there yet.
   */
  async start(): Promise<void> {
    await Promise.all(
      WATCHED_KINDS.map((w) => {
        const state = this.makeState(w.kind, `${w.plural}${w.group ? `.${w.group}` : ""}`, w.path, this.listFn(w.path), true);
        this.kinds.set(w.kind, state);
        this.onSync(w.kind, false);
        return this.attempt(state);
      }),
    );
  }

  /** What is not synced yet and why, or undefined when everything is. */
  notSynced(): string | undefined {
    const pending = WATCHED_KINDS.map((w) => this.kinds.get(w.kind) ?? w.kind)
      .filter((s) => typeof s === "string" || !s.synced)
      .map((s) => (typeof s === "string" ? `${s} (not started)` : `${s.label} (${s.lastError ?? "listing"})`));
    return pending.length === 0 ? undefined : `watch caches not synced: ${pending.join("; ")}`;
  }

  /**
   * A page at a time: one response holding every object of a kind was held
   * as text and parsed beside the cache it filled, so a start at 50,000
   * objects peaked far above what the caches then kept (bench/audit-scale.ts,
   * bench/watch-cache-scale.ts). The pages of one list are one snapshot: the
   * last page's resourceVersion is where the watch starts.
   */
  private listFn(path: string): () => Promise<ListResult> {
    const limit = this.pageSize;
    return async () => {
      const items: KubeObject[] = [];
      for (let cont: string | undefined; ; ) {
        const list = await this.api.get<ListPage>(path, { limit, continue: cont });
        for (const item of list.items ?? []) items.push(item);
        const next = list.metadata?.continue;
        if (!next) return { items, ...(list.metadata ? { metadata: list.metadata } : {}) };
        cont = next;
      }
    };
  }

  private makeState(label: string, resource: string, path: string, list: () => Promise<ListResult>, gatesReadiness: boolean): CacheState {
    const informer = new ListWatch(this.api, path, list);
    const state: CacheState = { label, resource, informer, gatesReadiness, synced: false, watching: false, absent: false, failures: 0, attempting: false };
    informer.on("error", (err: unknown) => this.onError(state, err));
    return state;
  }

  private isStopped(): boolean {
    return this.stopped;
  }

  private backoff(failures: number): number {
    return Math.min(this.retryBaseMs * 2 ** Math.max(0, failures - 1), this.retryMaxMs);
  }

  private schedule(state: CacheState, ms: number): void {
    if (this.stopped) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => void this.attempt(state), ms);
    state.timer.unref();
  }

  private markSynced(state: CacheState): void {
    if (state.synced) return;
    state.synced = true;
    if (state.gatesReadiness) this.onSync(state.label, true);
  }

  /** One list-and-watch; what its errors mean decides what happens next. */
  private async attempt(state: CacheState): Promise<void> {
    if (this.stopped) return;
    state.attempting = true;
    state.attemptError = undefined;
    try {
      await state.informer.start();
    } catch (err) {
      state.attemptError ??= err;
    }
    state.attempting = false;
    // stop() may have run while start() was awaited
    if (this.isStopped()) return;
    const err = state.attemptError;
    if (err === undefined) {
      if (state.absent) this.log.info("API served now; caching it", { kind: state.label, resource: state.resource });
      else if (state.failures > 0) this.log.info("watch cache recovered", { kind: state.label, afterFailures: state.failures });
      state.absent = false;
      state.failures = 0;
      state.watching = true;
      delete state.lastError;
      this.markSynced(state);
      return;
    }
    if (statusCode(err) === 404) {
      if (!state.absent) this.log.info("API not served; its references resolve to null until it is", { kind: state.label, resource: state.resource });
      state.absent = true;
      delete state.lastError;
      this.markSynced(state);
      this.schedule(state, this.absentRecheckMs);
      return;
    }
    this.failed(state, `cannot list ${state.resource}: ${describeError(err)}`);
  }

  private failed(state: CacheState, why: string): void {
    state.failures++;
    const retryInMs = this.backoff(state.failures);
    // Loud once per distinct problem, quiet while it persists.
    const level = why === state.lastError ? "debug" : "warn";
    state.lastError = why;
    this.log.log(level, "watch cache failing; retrying", { kind: state.label, error: why, retryInMs, synced: state.synced });
    this.schedule(state, retryInMs);
  }

  private onError(state: CacheState, err: unknown): void {
    if (this.stopped) return;
    state.watching = false;
    if (state.attempting) {
      state.attemptError ??= err;
      return;
    }
    // An established watch ended badly: the cache keeps what it has (and
    // stays synced; until it watches again every lookup reads) and watches again.
    if (statusCode(err) === 404) {
      this.schedule(state, this.absentRecheckMs);
      return;
    }
    this.failed(state, `watch of ${state.resource} failed: ${describeError(err)}`);
  }

  private serviceCache(namespace: string): CacheState {
    let state = this.services.get(namespace);
    if (!state) {
      const path = listPath(RESOURCES.services, encodeURIComponent(namespace));
      state = this.makeState(`Service in ${namespace}`, `services in namespace ${namespace}`, path, async () => {
        const list = await this.api.get<ListPage>(path);
        return { items: list.items ?? [], ...(list.metadata ? { metadata: list.metadata } : {}) };
      }, false);
      this.services.set(namespace, state);
      if (!this.stopped) void this.attempt(state);
    }
    return state;
  }

  async get(kind: ContextKind, namespace: string, name: string): Promise<KubeObject | null> {
    const state = kind === "Service" ? this.serviceCache(namespace) : this.kinds.get(kind);
    // A hit is trusted only while a watch is connected: between one watch and the next (a dead connection taken for one, a restart) changes may be missed.
    const cached = state?.watching && state.informer.live ? state.informer.get(name, kind === "Namespace" ? undefined : namespace) : undefined;
    if (cached) return cached;
    return this.read(kind, namespace, name);
  }

  private async read(kind: ContextKind, namespace: string, name: string): Promise<KubeObject | null> {
    // No object is named "", "." or ".." (the API server refuses such names),
    // and as path segments they would read the collection or another scope.
    if (UNNAMEABLE.has(name) || (kind !== "Namespace" && UNNAMEABLE.has(namespace))) return null;
    this.confirmations++;
    let found: KubeObject;
    try {
      if (kind === "Service") found = await this.api.get<KubeObject>(objectPath(RESOURCES.services, namespace, name));
      else if (kind === "ServiceAccount") found = await this.api.get<KubeObject>(objectPath(RESOURCES.serviceAccounts, namespace, name));
      else {
        const w = WATCHED_KINDS.find((k) => k.kind === kind) ?? DIRECT_KINDS.find((k) => k.kind === kind);
        if (!w) return null;
        found = await this.api.get<KubeObject>(w.objectPath(namespace, name));
      }
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw new Error(`cannot read ${kind} ${namespace}/${name}: ${describeError(err)}`, { cause: err });
    }
    // What came back must be what was asked for, or the lookup fails (closed) rather than judge another object.
    if (found.kind !== kind || found.metadata?.name !== name) throw new Error(`cannot read ${kind} ${namespace}/${name}: the API server answered with ${found.kind ?? "an object without a kind"} ${JSON.stringify(found.metadata?.name ?? "")}`);
    return found;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.kinds.values(), ...this.services.values()];
    for (const s of all) clearTimeout(s.timer);
    await Promise.all(all.map((s) => s.informer.stop()));
  }
}
