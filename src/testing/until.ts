// Waiting in a test for what happens asynchronously (a watch event reaching
// a cache, a reconcile, a file swap, a process exiting): poll, and fail
// naming what never happened. The limit is no timing assertion; it only ends
// a test that would otherwise hang, so it is generous for a loaded machine.
// Here, not in test/support/, so that tests beside the code may use it too
// (src/testing/ is left out of the build; README "Tests").
import assert from "node:assert/strict";

export interface UntilOptions {
  /** default 60 s */
  timeoutMs?: number;
  /** default 100 ms */
  intervalMs?: number;
}

/**
 * Resolves with the probe's first value that is neither undefined nor false.
 * A probe that throws counts as "not yet" (a 404 before an object exists);
 * the last error is named if the wait runs out.
 */
export async function until<T>(what: string, probe: () => T | Promise<T>, opts: UntilOptions = {}): Promise<Exclude<T, undefined | false>> {
  const { timeoutMs = 60_000, intervalMs = 100 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lastError: unknown;
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
      assert.fail(`gave up after ${String(timeoutMs / 1000)} s waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
