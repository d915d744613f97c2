// A watch cache of one list path over the lean client (src/kube/api.ts):
// list, then watch from the list's resourceVersion, keeping the objects by
// namespace and name. It behaves as client-node's informer does for the
// code that owns it: start() lists (and rejects if the list fails) and
// resolves once the watch is accepted; a watch the API server ends is
// started again from the last resourceVersion seen; a resourceVersion too
// old (410) lists again; any other failure is an "error" event and the
// cache stops watching until start() is called again, so its owner decides
// how to back off and whether its contents may still be trusted.
import type { KubeObject } from "../types/kube.ts";
import { WatchIdleError, type KubeApi, type Query, type WatchEvent } from "./api.ts";
import { statusCode } from "./errors.ts";

/** A list's answer: its items and the resourceVersion the watch starts from. */
export interface ListResult {
  items: KubeObject[];
  metadata?: { resourceVersion?: string };
}

type Listener = (object: KubeObject) => void;
type ErrorListener = (err: unknown) => void;

/** How long the API server keeps one watch open, spread so caches do not all re-watch at once (as client-go). */
const WATCH_TIMEOUT_S = [300, 600] as const;

/**
 * Silence after which a watch's connection is taken for dead and the watch
 * made again from where it was. A connection that died without closing
 * (a load balancer dropping it during an outage) otherwise looks connected,
 * and the cache trusted, until TCP keepalive gives up, about 11 minutes; a
 * quiet resource costs one watch request per interval instead. client-node's
 * watch had the same 30 s.
 */
const WATCH_IDLE_MS = 30_000;
/** A watch that ends sooner than this having delivered nothing is backed off from, 1 s doubling to 30 s. */
const QUICK_END_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ""}/${name}`;

export class ListWatch {
  private readonly objects = new Map<string, KubeObject>();
  private readonly listeners = { add: [] as Listener[], update: [] as Listener[], delete: [] as Listener[], error: [] as ErrorListener[] };
  private resourceVersion = "";
  private watchLive = false;
  private abort: AbortController | undefined;
  /** bumped by every start() and stop(), so a loop of an earlier start ends quietly */
  private generation = 0;

  private readonly api: KubeApi;
  private readonly path: string;
  private readonly list: () => Promise<ListResult>;
  private readonly labelSelector: string | undefined;
  private readonly watchSeconds: readonly [number, number];
  private readonly idleMs: number;

  /** watchSeconds: how long each watch is asked to last, at least and at most; idleMs: silence taken for a dead connection (tests shorten both) */
  constructor(api: KubeApi, path: string, list: () => Promise<ListResult>, opts: { labelSelector?: string; watchSeconds?: readonly [number, number]; idleMs?: number } = {}) {
    this.api = api;
    this.path = path;
    this.list = list;
    this.labelSelector = opts.labelSelector;
    this.watchSeconds = opts.watchSeconds ?? WATCH_TIMEOUT_S;
    this.idleMs = opts.idleMs ?? WATCH_IDLE_MS;
  }

  on(event: "add" | "update" | "delete", listener: Listener): void;
  on(event: "error", listener: ErrorListener): void;
  on(event: "add" | "update" | "delete" | "error", listener: Listener | ErrorListener): void {
    (this.listeners[event] as (Listener | ErrorListener)[]).push(listener);
  }

  /** Lists, fills the cache, and resolves once the watch from that list is accepted. */
  async start(): Promise<void> {
    const generation = ++this.generation;
    this.abort?.abort();
    await this.relist(generation);
    if (generation !== this.generation) return;
    await new Promise<void>((connected, failed) => {
      void this.watchLoop(generation, connected, failed);
    });
  }

  async stop(): Promise<void> {
    this.generation++;
    this.watchLive = false;
    this.abort?.abort();
    this.abort = undefined;
    await Promise.resolve();
  }

  /**
   * A watch is connected now. False from the moment one ends, fails or goes
   * silent until the next is accepted: the cache may then miss changes, and
   * its owner should confirm what it finds.
   */
  get live(): boolean {
    return this.watchLive;
  }

  get(name: string, namespace?: string): KubeObject | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  /** Every cached object, or one namespace's. */
  listCached(namespace?: string): KubeObject[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** generation: of the start() it serves; a list that returns after a stop() changes nothing */
  private async relist(generation = this.generation): Promise<void> {
    const result = await this.list();
    if (generation !== this.generation) return;
    const seen = new Set<string>();
    for (const item of result.items) {
      const name = item.metadata?.name;
      if (name === undefined) continue;
      const key = keyOf(item.metadata?.namespace, name);
      seen.add(key);
      const had = this.objects.get(key);
      this.objects.set(key, item);
      if (!had) this.emit("add", item);
      else if (had.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.emit("update", item);
    }
    for (const [key, gone] of this.objects) {
      if (!seen.has(key)) {
        this.objects.delete(key);
        this.emit("delete", gone);
      }
    }
    this.resourceVersion = result.metadata?.resourceVersion ?? "";
  }

  private apply(event: WatchEvent): void {
    const object = event.object as KubeObject;
    const rv = object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === "BOOKMARK") return;
    const name = object.metadata?.name;
    if (name === undefined) return;
    const key = keyOf(object.metadata?.namespace, name);
    if (event.type === "DELETED") {
      this.objects.delete(key);
      this.emit("delete", object);
      return;
    }
    const had = this.objects.has(key);
    this.objects.set(key, object);
    this.emit(had ? "update" : "add", object);
  }

  /**
   * Watches until stopped; the first connection (or failure to connect)
   * settles start(). A watch the server ends quickly having sent nothing (a
   * proxy or an API server shutting down may accept a watch and close it at
   * once) is watched again only after a backoff, as client-go does, rather
   * than thousands of times a second.
   */
  private async watchLoop(generation: number, connected: () => void, failed: (err: unknown) => void): Promise<void> {
    // set from callbacks, so kept in an object the compiler does not narrow
    const state = { settled: false };
    const settle = (err?: unknown): void => {
      if (state.settled) return;
      state.settled = true;
      if (err === undefined) connected();
      else failed(err);
    };
    let quickEnds = 0;
    while (generation === this.generation) {
      const abort = new AbortController();
      this.abort = abort;
      const [low, high] = this.watchSeconds;
      const seconds = low + Math.floor(Math.random() * (high - low));
      const query: Query = { resourceVersion: this.resourceVersion || undefined, allowWatchBookmarks: true, timeoutSeconds: seconds, labelSelector: this.labelSelector };
      const began = Date.now();
      const seen: { received: boolean } = { received: false };
      try {
        await this.api.watch(this.path, query, (e) => {
          if (generation !== this.generation) return;
          seen.received = true;
          this.apply(e);
        }, {
          signal: abort.signal,
          onConnected: () => {
            if (generation === this.generation) this.watchLive = true;
            settle();
          },
          idleMs: this.idleMs,
        });
      } catch (err) {
        if (generation !== this.generation) break;
        this.watchLive = false;
        if (!(err instanceof WatchIdleError)) {
          if (statusCode(err) !== 410) {
            if (!state.settled) settle(err);
            else for (const l of this.listeners.error) l(err);
            return;
          }
          // Too old to resume: list again, then watch from the new list.
          try {
            await this.relist(generation);
          } catch (listErr) {
            if (generation !== this.generation) break;
            if (!state.settled) settle(listErr);
            else for (const l of this.listeners.error) l(listErr);
            return;
          }
          continue;
        }
      }
      this.watchLive = false;
      // The watch ended (the server's timeout, or silence taken for a dead connection): watch again from where it left off.
      quickEnds = !seen.received && Date.now() - began < QUICK_END_MS ? quickEnds + 1 : 0;
      if (quickEnds > 0) await sleep(Math.min(QUICK_END_MS * 2 ** (quickEnds - 1), MAX_BACKOFF_MS));
    }
    // stopped
    settle();
  }

  private emit(event: "add" | "update" | "delete", object: KubeObject): void {
    for (const l of this.listeners[event]) l(object);
  }
}
