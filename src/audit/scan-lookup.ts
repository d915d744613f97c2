// The lookups of one scan, memoized: many objects refer to the same
// AgentConfig or ServiceAccount, and each is resolved (and a miss confirmed)
// once per scan, not once per object.
import type { ObjectLookup } from "../context/lookup.ts";
import type { KubeObject } from "../types/kube.ts";

/** Memoizes lookups for one scan: a reference shared by many objects is resolved (and a miss confirmed) once. */
export class ScanLookup implements ObjectLookup {
  private readonly memo = new Map<string, Promise<KubeObject | null>>();
  private readonly inner: ObjectLookup;
  constructor(inner: ObjectLookup) {
    this.inner = inner;
  }
  get(kind: Parameters<ObjectLookup["get"]>[0], namespace: string, name: string): Promise<KubeObject | null> {
    const key = `${kind}\0${namespace}\0${name}`;
    let hit = this.memo.get(key);
    if (!hit) {
      hit = this.inner.get(kind, namespace, name);
      this.memo.set(key, hit);
    }
    return hit;
  }
}
