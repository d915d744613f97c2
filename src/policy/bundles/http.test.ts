// The HTTP bundle source against a real node:http bundle service: ETags and
// 304, a changed bundle delivered once, errors reported and recovered from,
// and the retry schedule's backoff and jitter.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { bundleAtRevision } from "../../testing/bundle-revision.ts";
import { HttpBundleSource, bundleNameOfUrl, pollDelay } from "./http.ts";
import type { SourceVersion } from "./source.ts";
import { until } from "../../testing/until.ts";

let v1: Buffer;
let v2: Buffer;
let server: Server;
let base = "";
/** what the service answers now: a bundle, or an HTTP error status */
let serving: Buffer | number = 0;
const seen: { ifNoneMatch: string | undefined; status: number }[] = [];

before(async () => {
  v1 = await bundleAtRevision("v1");
  v2 = await bundleAtRevision("v2");
  server = createServer((req, res) => {
    const ifNoneMatch = req.headers["if-none-match"];
    if (typeof serving === "number") {
      seen.push({ ifNoneMatch, status: serving });
      res.writeHead(serving).end("unavailable");
      return;
    }
    const etag = `"${createHash("sha256").update(serving).digest("hex").slice(0, 16)}"`;
    const status = ifNoneMatch === etag ? 304 : 200;
    seen.push({ ifNoneMatch, status });
    if (status === 304) res.writeHead(304, { etag }).end();
    else res.writeHead(200, { etag, "content-type": "application/gzip" }).end(serving);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  base = `http://127.0.0.1:${String(typeof address === "object" && address ? address.port : 0)}`;
});

after(() => new Promise<void>((r) => { server.close(() => { r(); }); server.closeAllConnections(); }));

const revisionOf = (v: SourceVersion): string => (JSON.parse((v.files.get(".manifest") as Buffer).toString("utf8")) as { revision: string }).revision;

test("polls with If-None-Match: 304 delivers nothing, a new ETag delivers the new version once", async () => {
  serving = v1;
  seen.length = 0;
  const delivered: string[] = [];
  const errors: string[] = [];
  const source = new HttpBundleSource(`${base}/bundles/team.tar.gz?x=1`, { pollIntervalMs: 30 });
  await source.start((v) => { delivered.push(`${revisionOf(v)}:${v.etag ?? ""}`); return Promise.resolve(); }, (e) => { errors.push(e.message); });
  try {
    assert.equal(delivered.length, 1);
    await until("three 304s", () => seen.filter((s) => s.status === 304).length >= 3);
    assert.equal(delivered.length, 1);
    assert.ok(seen.slice(1).every((s) => s.ifNoneMatch === seen[0]?.ifNoneMatch || s.ifNoneMatch !== undefined));
    serving = v2;
    await until("v2 delivered", () => delivered.length === 2);
    await until("304s for v2", () => seen.filter((s) => s.status === 304).length >= 5);
    assert.deepEqual(delivered.map((d) => d.split(":")[0]), ["v1", "v2"]);
    assert.deepEqual(errors, []);
  } finally {
    source.stop();
  }
});

test("service errors are reported with the status, then it recovers; a refused version is not downloaded again", async () => {
  serving = 503;
  seen.length = 0;
  const delivered: string[] = [];
  const errors: string[] = [];
  let refuse = true;
  const source = new HttpBundleSource(`${base}/b.tar.gz`, { pollIntervalMs: 30, minRetryMs: 10 });
  await source.start((v) => {
    delivered.push(revisionOf(v));
    return refuse ? Promise.reject(new Error("refused by the store")) : Promise.resolve();
  }, (e) => { errors.push(e.message); });
  try {
    await until("two errors", () => errors.length >= 2);
    assert.match(errors[0] ?? "", /^bundle http:\/\/127\.0\.0\.1:\d+\/b\.tar\.gz: GET answered HTTP 503 Service Unavailable \(attempt 1; retrying\)$/);
    assert.match(errors[1] ?? "", /\(attempt 2; retrying\)$/);
    serving = v1;
    await until("delivery after recovery", () => delivered.length === 1);
    // Refused: the same ETag is asked for again, answered 304, never re-delivered.
    await until("304s after the refusal", () => seen.filter((s) => s.status === 304).length >= 3);
    assert.equal(delivered.length, 1);
    refuse = false;
    serving = v2;
    await until("v2", () => delivered.length === 2);
    assert.deepEqual(delivered, ["v1", "v2"]);
  } finally {
    source.stop();
  }
});

test("an unreachable service and a non-bundle body are reported in one line", async () => {
  const errors: string[] = [];
  const spare = createServer();
  await new Promise<void>((r) => spare.listen(0, "127.0.0.1", r));
  const address = spare.address();
  const port = String(typeof address === "object" && address ? address.port : 0);
  await new Promise((r) => spare.close(r));
  const closed = new HttpBundleSource(`http://127.0.0.1:${port}/x.tar.gz`, { pollIntervalMs: 60_000 });
  await closed.start(() => Promise.resolve(), (e) => { errors.push(e.message); });
  closed.stop();
  assert.match(errors[0] ?? "", /^bundle http:\/\/127\.0\.0\.1:\d+\/x\.tar\.gz: GET failed: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(attempt 1; retrying\)$/);

  // Not a bundle: reported without a fast retry.
  serving = Buffer.from("<html>login page</html>");
  const junk = new HttpBundleSource(`${base}/junk.tar.gz`, { pollIntervalMs: 60_000 });
  await junk.start(() => Promise.resolve(), (e) => { errors.push(e.message); });
  junk.stop();
  assert.match(errors[1] ?? "", /^bundle "junk": http:\/\/127\.0\.0\.1:\d+\/junk\.tar\.gz: the download holds no files; expected a \.tar\.gz built by opa build$/);
  assert.ok(errors.every((e) => !e.includes("\n")));
  assert.throws(() => new HttpBundleSource("ftp://x/b.tar.gz", { pollIntervalMs: 1000 }), /only http and https URLs/);
});

test("retry schedule: interval ±10 % when healthy; after errors doubling from the minimum, capped at four intervals, never below half", () => {
  assert.equal(pollDelay(0, 30_000, 1000, () => 0), 27_000);
  assert.equal(pollDelay(0, 30_000, 1000, () => 0.999999), 33_000);
  const high = (n: number) => pollDelay(n, 30_000, 1000, () => 1);
  const low = (n: number) => pollDelay(n, 30_000, 1000, () => 0);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map(high), [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000]);
  assert.deepEqual([1, 2, 8].map(low), [500, 1000, 60_000]);
  assert.equal(bundleNameOfUrl("https://bundles.example.com/v1/team-a.tar.gz?token=x"), "team-a");
});
