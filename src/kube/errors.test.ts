import { test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { describeError, statusCode, withRetry } from "./errors.ts";

const apiError = (code: number, headers: Record<string, string> = {}): k8s.ApiException<string> => new k8s.ApiException(code, "refused", JSON.stringify({ message: `status ${String(code)}` }), headers);

/** A call that fails with `codes` in turn, then answers "ok"; waits are recorded, not slept. */
function scripted(codes: number[], headers: Record<string, string> = {}) {
  const waits: number[] = [];
  let calls = 0;
  const fn = (): Promise<string> => {
    const code = codes[calls++];
    return code === undefined ? Promise.resolve("ok") : Promise.reject(apiError(code, headers));
  };
  const sleep = (ms: number): Promise<void> => {
    waits.push(ms);
    return Promise.resolve();
  };
  return { fn, sleep, waits, calls: () => calls };
}

test("withRetry: a 429 is retried after the wait the server asks (Retry-After), capped at 10 s", async () => {
  const s = scripted([429, 429], { "retry-after": "3" });
  assert.equal(await withRetry(s.fn, { sleep: s.sleep }), "ok");
  assert.deepEqual(s.waits, [3000, 3000]);
  const long = scripted([429], { "retry-after": "120" });
  await withRetry(long.fn, { sleep: long.sleep });
  assert.deepEqual(long.waits, [10_000]);
});

test("withRetry: a read's 5xx is retried with growing waits, and thrown once the tries are spent", async () => {
  const s = scripted([503, 504, 500]);
  assert.equal(await withRetry(s.fn, { read: true, sleep: s.sleep }), "ok");
  assert.deepEqual(s.waits, [250, 500, 1000]);
  const proxied = scripted([502]);
  assert.equal(await withRetry(proxied.fn, { read: true, sleep: proxied.sleep }), "ok", "a proxy's 502 before the API server too");
  const down = scripted([503, 503, 503, 503, 503]);
  await assert.rejects(withRetry(down.fn, { read: true, sleep: down.sleep }), (err: unknown) => statusCode(err) === 503);
  assert.equal(down.calls(), 4, "four tries in all");
});

test("withRetry: a write's 5xx is not repeated: it may have landed, and a generateName create would be made twice", async () => {
  for (const code of [500, 502, 503, 504]) {
    const s = scripted([code]);
    await assert.rejects(withRetry(s.fn, { sleep: s.sleep }), (err: unknown) => statusCode(err) === code);
    assert.equal(s.calls(), 1, `${String(code)} tried once`);
  }
});

test("withRetry: what retrying cannot change (403, 404, 409, 422, a network error) is thrown at once", async () => {
  for (const code of [400, 403, 404, 409, 422]) {
    const s = scripted([code]);
    await assert.rejects(withRetry(s.fn, { sleep: s.sleep }), (err: unknown) => statusCode(err) === code);
    assert.equal(s.calls(), 1, `${String(code)} tried once`);
  }
  let calls = 0;
  const unreachable = (): Promise<string> => {
    calls++;
    return Promise.reject(new Error("fetch failed", { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) }));
  };
  await assert.rejects(withRetry(unreachable, { sleep: () => Promise.resolve() }), /fetch failed/);
  assert.equal(calls, 1);
});

test("describeError: the status and the API server's message, in one line", () => {
  assert.equal(describeError(apiError(403)), "HTTP 403: status 403");
  assert.equal(describeError(new Error("fetch failed", { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) })), "fetch failed (ECONNREFUSED)");
});
