// A bounded memo keyed by a text, the least recently used dropped first.
// Exact keys, not digests: two inputs share an outcome only when their texts
// are equal, so nothing rests on a hash being collision-free.

export class TextMemo<V> {
  readonly maxEntries: number;
  readonly maxKeyLength: number;
  private readonly entries = new Map<string, V>();
  private hitCount = 0;
  private missCount = 0;

  /**
   * @param maxEntries kept at most; the oldest read goes first
   * @param maxKeyLength longer keys are never kept, so a memo of `maxEntries`
   *   holds at most maxEntries × maxKeyLength characters of keys
   */
  constructor(maxEntries: number, maxKeyLength: number) {
    this.maxEntries = maxEntries;
    this.maxKeyLength = maxKeyLength;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) {
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    // Read again: now the newest.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    if (key.length > this.maxKeyLength || this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** reads answered from the memo, and reads that were not */
  get stats(): { hits: number; misses: number } {
    return { hits: this.hitCount, misses: this.missCount };
  }
}
