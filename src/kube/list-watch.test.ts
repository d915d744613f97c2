// ListWatch against the watch protocol's edges a real kube-apiserver will
// not produce on demand: a 410 mid-watch (history compacted), a watch ended
// the moment it starts (a proxy, an API server shutting down), a stop()
// while a re-list is in flight, and a connection that goes silent. The
// happy path runs against a real API server in test/e2e/kube-api.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import { KubeApi, WatchIdleError } from "./api.ts";
import { ListWatch, type ListResult } from "./list-watch.ts";

/** An HTTP server speaking the list and watch of one path, as handler decides. */
async function apiServer(handler: (watch: boolean, url: URL, res: ServerResponse) => void): Promise<{ api: KubeApi; open: Set<ServerResponse>; close: () => void }> {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    open.add(res);
    res.on("close", () => open.delete(res));
    const url = new URL(req.url ?? "/", "http://x");
    handler(url.searchParams.get("watch") === "true", url, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  const api = new KubeApi({ server: `http://127.0.0.1:${String(port)}`, skipTLSVerify: false, delegated: false });
  return {
    api,
    open,
    close: () => {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      server.close();
      api.close();
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cm = (name: string, rv: string) => ({ metadata: { name, namespace: "n", resourceVersion: rv } });
const line = (type: string, object: unknown): string => `${JSON.stringify({ type, object })}\n`;
const watching = (res: ServerResponse): void => {
  res.writeHead(200, { "content-type": "application/json" });
  res.flushHeaders();
};

/** A handler that answers every list with items at resourceVersion 1 (none by default), and each watch as onWatch does. */
const listThen = (onWatch: (res: ServerResponse) => void, items: unknown[] = []) => (watch: boolean, _url: URL, res: ServerResponse): void => {
  if (!watch) res.end(JSON.stringify({ items, metadata: { resourceVersion: "1" } }));
  else onWatch(res);
};

test("a 410 mid-watch lists again: objects deleted meanwhile leave the cache, new ones enter, and the watch resumes from the new list", async () => {
  let lists = 0;
  const watchedFrom: string[] = [];
  const s = await apiServer((watch, url, res) => {
    if (!watch) {
      lists++;
      const items = lists === 1 ? [cm("old", "1")] : [cm("new", "7")];
      res.end(JSON.stringify({ items, metadata: { resourceVersion: lists === 1 ? "1" : "7" } }));
      return;
    }
    watchedFrom.push(url.searchParams.get("resourceVersion") ?? "");
    watching(res);
    if (watchedFrom.length === 1) res.write(line("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" }));
  });
  const deleted: string[] = [];
  const errors: unknown[] = [];
  const lw = new ListWatch(s.api, "/api/v1/configmaps", () => s.api.get<ListResult>("/api/v1/configmaps"));
  lw.on("delete", (o) => deleted.push(o.metadata?.name ?? ""));
  lw.on("error", (e) => errors.push(e));
  await lw.start();
  for (let i = 0; i < 50 && watchedFrom.length < 2; i++) await sleep(20);
  assert.deepEqual(watchedFrom, ["1", "7"]);
  assert.equal(lw.get("old", "n"), undefined);
  assert.ok(lw.get("new", "n"));
  assert.deepEqual(deleted, ["old"]);
  assert.deepEqual(errors, []);
  await lw.stop();
  s.close();
});

test("stop() while the re-list after a 410 is in flight: no watch is made after it, and the late list changes nothing", async () => {
  let lists = 0;
  let watchesAfterStop = 0;
  let stopped = false;
  const s = await apiServer((watch, _url, res) => {
    if (!watch) {
      lists++;
      const body = JSON.stringify({ items: lists === 1 ? [] : [cm("late", "2")], metadata: { resourceVersion: String(lists) } });
      setTimeout(() => res.end(body), lists === 1 ? 0 : 300);
      return;
    }
    if (stopped) watchesAfterStop++;
    watching(res);
    if (!stopped) setTimeout(() => res.write(line("ERROR", { kind: "Status", code: 410, message: "too old" })), 50);
  });
  const lw = new ListWatch(s.api, "/api/v1/configmaps", () => s.api.get<ListResult>("/api/v1/configmaps"));
  await lw.start();
  await sleep(150);
  await lw.stop();
  stopped = true;
  await sleep(500);
  const open = s.open.size;
  s.close();
  assert.equal(watchesAfterStop, 0);
  assert.equal(open, 0, "connections left open after stop()");
  assert.equal(lw.get("late", "n"), undefined);
});

test("a watch the server ends at once, having sent nothing, is watched again after a backoff, not in a hot loop", async () => {
  let watches = 0;
  const s = await apiServer(listThen((res) => {
    watches++;
    watching(res);
    res.end();
  }));
  const lw = new ListWatch(s.api, "/api/v1/configmaps", () => s.api.get<ListResult>("/api/v1/configmaps"));
  await lw.start();
  await sleep(1500);
  await lw.stop();
  s.close();
  // at once, then after 1 s: two or three, where a hot loop made thousands
  assert.ok(watches >= 2 && watches <= 3, `${String(watches)} watch requests in 1.5 s`);
});

test("a watch that receives nothing for idleMs fails with a WatchIdleError naming how long", async () => {
  let watches = 0;
  const s = await apiServer(listThen((res) => {
    watches++;
    // answered, then never ends and never sends: a half-open connection looks like this
    watching(res);
  }));
  const silent = s.api.watch("/api/v1/configmaps", {}, () => undefined, { idleMs: 200 });
  await assert.rejects(silent, (err: unknown) => err instanceof WatchIdleError && err.message === "watch /api/v1/configmaps: nothing received for 200 ms");
  assert.equal(watches, 1);
  s.close();
});

test("a ListWatch whose connection goes silent watches again from where it was, without an error and without listing again", async () => {
  const watchedFrom: string[] = [];
  let lists = 0;
  const s = await apiServer((watch, url, res) => {
    if (!watch) {
      lists++;
      res.end(JSON.stringify({ items: [], metadata: { resourceVersion: "5" } }));
      return;
    }
    watchedFrom.push(url.searchParams.get("resourceVersion") ?? "");
    watching(res);
    if (watchedFrom.length === 1) res.write(line("ADDED", cm("seen", "6")));
    // then silence, as a connection a load balancer dropped
  });
  const errors: unknown[] = [];
  const lw = new ListWatch(s.api, "/api/v1/configmaps", () => s.api.get<ListResult>("/api/v1/configmaps"), { idleMs: 200 });
  lw.on("error", (e) => errors.push(e));
  await lw.start();
  for (let i = 0; i < 50 && watchedFrom.length < 2; i++) await sleep(20);
  await lw.stop();
  s.close();
  assert.deepEqual(watchedFrom.slice(0, 2), ["5", "6"]);
  assert.equal(lists, 1);
  assert.deepEqual(errors, []);
  assert.ok(lw.get("seen", "n"));
});

test("live: true while a watch is connected; false from when it goes silent while the next watch goes unanswered, so the owner confirms hits", async () => {
  let watches = 0;
  const s = await apiServer(listThen((res) => {
    watches++;
    // the first watch is answered, then goes silent; every later one is never answered (a dead pooled connection)
    if (watches === 1) watching(res);
  }, [cm("a", "1")]));
  const errors: unknown[] = [];
  const lw = new ListWatch(s.api, "/api/v1/configmaps", () => s.api.get<ListResult>("/api/v1/configmaps"), { idleMs: 200 });
  lw.on("error", (e) => errors.push(e));
  await lw.start();
  assert.equal(lw.live, true);
  await sleep(300);
  assert.equal(lw.live, false, "not live once the watch went silent");
  // a watch that ended having delivered nothing is made again after a 1 s backoff; that one is never answered
  for (let i = 0; i < 100 && watches < 2; i++) await sleep(20);
  assert.equal(watches, 2);
  assert.equal(lw.live, false, "not live while the next watch goes unanswered");
  await sleep(300);
  assert.equal(s.open.size, 0, "the unanswered watch was given up after idleMs");
  assert.equal(lw.live, false);
  assert.ok(lw.get("a", "n"), "what it had is kept");
  assert.deepEqual(errors, []);
  await lw.stop();
  s.close();
});

test("an ERROR event other than 410 after start is one error event, and the cache stops watching until started again", async () => {
  let watches = 0;
  const s = await apiServer(listThen((res) => {
    watches++;
    watching(res);
    if (watches === 1) setTimeout(() => res.write(line("ERROR", { kind: "Status", code: 500, message: "etcd went away" })), 50);
  }, [cm("a", "1")]));
  const errors: string[] = [];
  const lw = new ListWatch(s.api, "/api/v1/configmaps", () => s.api.get<ListResult>("/api/v1/configmaps"));
  lw.on("error", (e) => errors.push(e instanceof Error ? e.message : String(e)));
  await lw.start();
  await sleep(300);
  assert.deepEqual(errors, ["GET /api/v1/configmaps: HTTP 500: etcd went away"]);
  assert.equal(watches, 1);
  assert.ok(lw.get("a", "n"), "what it had stays cached");
  await lw.start();
  assert.equal(watches, 2);
  await lw.stop();
  s.close();
});
