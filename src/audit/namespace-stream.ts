// Lists read a page at a time and walked namespace by namespace, so that a
// scan holds one namespace's objects and findings at a time rather than the
// whole cluster's: at 50,000 objects in 500 namespaces, holding every
// finding until the reports were written took audit's peak RSS past the
// chart's memory limit (bench/audit-scale.ts).
//
// It relies on the order the API server lists in: by storage key,
// `<namespace>/<name>`, which is what its continue tokens resume from (etcd
// ranges and the watch cache's sorted snapshots alike). The key's "/" sorts
// before "-" and ".", so namespace "a" comes after "a-b": compare with
// namespaceKey(), never the bare names. A lister that breaks the order is
// caught, not trusted: an object of a namespace already passed is reported
// through onDisorder, and the scanner judges that namespace again from its
// own lists.
import type { KubeObject } from "../types/kube.ts";
import { describeError, statusCode } from "../kube/errors.ts";
import type { Gvr } from "../kube/resources.ts";
import type { AuditApi } from "./kube.ts";

/** Where a namespace's objects sit in a list: its storage key prefix (compare with < and >, code unit by code unit). */
export const namespaceKey = (namespace: string): string => `${namespace}/`;

export interface StreamOptions {
  limit: number;
  labelSelector?: string;
  cluster?: boolean;
  /** list in this namespace only */
  namespace?: string;
}

/** One list, read a page at a time: peek() at the next object, take() it. */
export class PagedList {
  private page: KubeObject[] = [];
  private at = 0;
  private cont: string | undefined;
  private started = false;
  private finished = false;
  private restarts = 0;
  /** the API is not served (404 on the first page) */
  absent = false;
  /**
   * Set by the walker: after a restart (an expired continue token, 410) the
   * list is read again from its start, and what sorts at or before this key
   * was judged already.
   */
  doneThrough: string | undefined;
  private skipThrough: string | undefined;
  private readonly api: AuditApi;
  private readonly gvr: Gvr;
  private readonly opts: StreamOptions;

  constructor(api: AuditApi, gvr: Gvr, opts: StreamOptions) {
    this.api = api;
    this.gvr = gvr;
    this.opts = opts;
  }

  /** The next object, fetching the next page when this one is used up; undefined at the end. */
  async peek(): Promise<KubeObject | undefined> {
    for (;;) {
      const item = this.page[this.at];
      if (item !== undefined) {
        if (this.skipThrough !== undefined && namespaceKey(item.metadata?.namespace ?? "") <= this.skipThrough) {
          this.at++;
          continue;
        }
        return item;
      }
      if (this.finished) return undefined;
      await this.fetch();
    }
  }

  take(): void {
    this.at++;
  }

  private async fetch(): Promise<void> {
    if (this.started && this.cont === undefined) {
      this.finished = true;
      return;
    }
    this.started = true;
    // The page just used is dropped before the next one arrives: at most one page per list is held.
    this.page = [];
    this.at = 0;
    try {
      const page = await this.api.listPage(this.gvr, { ...this.opts, ...(this.cont !== undefined ? { continue: this.cont } : {}) });
      this.page = page.items;
      this.cont = page.continue;
    } catch (err) {
      const code = statusCode(err);
      if (code === 404 && this.cont === undefined) {
        this.absent = true;
        this.finished = true;
        return;
      }
      if (code === 410 && this.restarts < 3) {
        this.restarts++;
        this.cont = undefined;
        this.started = false;
        this.skipThrough = this.doneThrough;
        return;
      }
      throw new Error(`cannot list ${this.gvr.plural}.${this.gvr.group}: ${describeError(err)}`, { cause: err });
    }
  }
}

export interface NamespaceWalk {
  /** every object of one namespace from every list, in list order */
  onNamespace(namespace: string, objects: { list: number; object: KubeObject }[]): Promise<void>;
  /** an object of a namespace the walk had passed already: its namespace must be judged again from its own lists */
  onDisorder(namespace: string): void;
}

/**
 * Walks several lists together, namespace by namespace in key order: each
 * namespace's objects from every list are handed over at once, then dropped.
 */
export async function walkByNamespace(lists: readonly PagedList[], walk: NamespaceWalk): Promise<void> {
  let passed: string | undefined;
  for (;;) {
    const heads = await Promise.all(lists.map((l) => l.peek()));
    let next: string | undefined;
    for (const h of heads) {
      if (h === undefined) continue;
      const key = namespaceKey(h.metadata?.namespace ?? "");
      if (next === undefined || key < next) next = key;
    }
    if (next === undefined) return;
    const namespace = next.slice(0, -1);
    if (passed !== undefined && next <= passed) {
      // Out of order: this namespace was walked already without this object.
      walk.onDisorder(namespace);
      for (let i = 0; i < lists.length; i++) {
        const list = lists[i] as PagedList;
        for (let h = heads[i]; h !== undefined && namespaceKey(h.metadata?.namespace ?? "") === next; h = await list.peek()) list.take();
      }
      continue;
    }
    const objects: { list: number; object: KubeObject }[] = [];
    for (let i = 0; i < lists.length; i++) {
      const list = lists[i] as PagedList;
      for (let h = heads[i]; h !== undefined && namespaceKey(h.metadata?.namespace ?? "") === next; h = await list.peek()) {
        objects.push({ list: i, object: h });
        list.take();
      }
    }
    passed = next;
    for (const l of lists) l.doneThrough = passed;
    await walk.onNamespace(namespace, objects);
  }
}

/** Runs at most `limit` tasks at once; run() waits for a free slot, drain() for every task. */
export class Slots {
  private readonly running = new Set<Promise<void>>();
  private readonly limit: number;
  /** the first task's failure, thrown by drain(): held, since nothing may be awaiting the task when it fails */
  private failure: { error: unknown } | undefined;
  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
  }
}
