import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { startFakeKagent } from "../support/a2a-server.ts";
import { A2AClient, A2AError, kagentAgentUrl, userMessage } from "../../src/controller/a2a/client.ts";
import type { A2AEvent } from "../../src/controller/a2a/types.ts";

interface Seen {
  rpcMethod: string;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A fetch that answers the n-th request with the n-th responder (the last one repeats). */
function stubFetch(responders: ((seen: Seen, init: RequestInit) => Response | Promise<Response>)[]): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetchImpl = ((_url: string | URL | Request, init?: RequestInit) => {
    const body = JSON.parse(typeof init?.body === "string" ? init.body : "{}") as Record<string, unknown>;
    const s: Seen = { rpcMethod: typeof body.method === "string" ? body.method : "", headers: new Headers(init?.headers), body };
    seen.push(s);
    const responder = responders[Math.min(seen.length - 1, responders.length - 1)];
    if (!responder) throw new Error("no responder");
    return Promise.resolve(responder(s, init ?? {}));
  }) as typeof fetch;
  return { fetch: fetchImpl, seen };
}

const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const rpcError = (code: number, message: string) => (s: Seen) => json({ jsonrpc: "2.0", id: s.body.id, error: { code, message } });
const task = { kind: "task", id: "t-1", contextId: "c-1", status: { state: "submitted" } };
const sendResult = (s: Seen) => json({ jsonrpc: "2.0", id: s.body.id, result: task });

const URL_ = "http://kagent.test/api/a2a/ns/agent/";
const message = userMessage("do it", { messageId: "m-1" });

async function collect(it: AsyncIterable<A2AEvent>): Promise<A2AEvent[]> {
  const out: A2AEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

const refusals: { name: string; refuse: (s: Seen) => Response }[] = [
  { name: "JSON-RPC UnsupportedOperation (-32004)", refuse: rpcError(-32004, "streaming not supported") },
  { name: "HTTP 405", refuse: () => new Response("no", { status: 405 }) },
  { name: "HTTP 415", refuse: () => new Response("no", { status: 415 }) },
  { name: "HTTP 404", refuse: () => new Response("not found", { status: 404 }) },
];

for (const c of refusals) {
  test(`stream falls back to message/send on ${c.name}`, async () => {
    const stub = stubFetch([c.refuse, sendResult]);
    const client = new A2AClient(URL_, { fetch: stub.fetch, protocol: "0.3" });
    const events = await collect(client.send(message, { stream: true }));
    assert.deepEqual(stub.seen.map((s) => s.rpcMethod), ["message/stream", "message/send"]);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, "task");
    assert.equal(client.streamingSupported, false);
    // non-blocking, so the caller learns the task id at once and can cancel it
    assert.deepEqual((stub.seen[1]?.body.params as { configuration: unknown }).configuration, { blocking: false });
  });
}

// The page may come from something in front of kagent after kagent took the
// goal: message/send would then start a second task (test/e2e/faults-kagent.test.ts).
test("a 200 that is neither an event stream nor JSON-RPC is an error naming what came back; the message is not sent again", async () => {
  const stub = stubFetch([() => new Response("<html></html>", { status: 200, headers: { "content-type": "text/html" } }), sendResult]);
  const client = new A2AClient(URL_, { fetch: stub.fetch, protocol: "0.3" });
  await assert.rejects(collect(client.send(message, { stream: true })), (err: unknown) => err instanceof A2AError && err.httpStatus === 200 && /unexpected content type "text\/html": <html><\/html>$/.test(err.message));
  assert.deepEqual(stub.seen.map((s) => s.rpcMethod), ["message/stream"]);
});

test("a stream request answered with a plain JSON-RPC result is not sent again", async () => {
  const stub = stubFetch([sendResult]);
  const events = await collect(new A2AClient(URL_, { fetch: stub.fetch, protocol: "0.3" }).send(message, { stream: true }));
  assert.equal(stub.seen.length, 1);
  assert.equal(events[0]?.kind, "task");
});

test("stream errors that are not about streaming are reported, not retried", async () => {
  const stub = stubFetch([rpcError(-32602, "bad params")]);
  const client = new A2AClient(URL_, { fetch: stub.fetch, protocol: "0.3" });
  await assert.rejects(collect(client.send(message, { stream: true })), (err: unknown) => {
    assert.ok(err instanceof A2AError);
    assert.equal(err.code, -32602);
    assert.equal(err.method, "message/stream");
    assert.equal(err.url, URL_);
    assert.match(err.message, /^A2A message\/stream http:\/\/kagent\.test\/api\/a2a\/ns\/agent\/: JSON-RPC error -32602: bad params$/);
    return true;
  });
  assert.equal(stub.seen.length, 1);
});

test("an error event inside the stream is raised with its code", async () => {
  const sse = 'data: {"jsonrpc":"2.0","id":1,"result":{"kind":"task","id":"t","contextId":"c","status":{"state":"working"}}}\n\ndata: {"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"boom"}}\n\n';
  const stub = stubFetch([() => new Response(sse, { headers: { "content-type": "text/event-stream" } })]);
  const got: A2AEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const ev of new A2AClient(URL_, { fetch: stub.fetch, protocol: "0.3" }).send(message, { stream: true })) got.push(ev);
    })(),
    (err: unknown) => err instanceof A2AError && err.code === -32603 && /boom/.test(err.message),
  );
  assert.equal(got.length, 1);
});

test("HTTP errors carry the status and the body", async () => {
  const stub = stubFetch([() => new Response("upstream agent pod not ready", { status: 503, headers: { "content-type": "text/plain" } })]);
  await assert.rejects(new A2AClient(URL_, { fetch: stub.fetch, protocol: "0.3" }).getTask("t-1"), (err: unknown) => {
    assert.ok(err instanceof A2AError);
    assert.equal(err.httpStatus, 503);
    assert.equal(err.method, "tasks/get");
    assert.match(err.message, /HTTP 503: upstream agent pod not ready/);
    return true;
  });
});

test("a network failure names its cause, not only fetch's \"fetch failed\"", async () => {
  const spare = createServer();
  await new Promise<void>((r) => spare.listen(0, "127.0.0.1", r));
  const { port } = spare.address() as AddressInfo;
  await new Promise((r) => spare.close(r));
  await assert.rejects(new A2AClient(`http://127.0.0.1:${String(port)}/api/a2a/ns/a/`, { protocol: "0.3" }).getTask("t-1"), /^A2AError: A2A tasks\/get http:\/\/127\.0\.0\.1:\d+\/api\/a2a\/ns\/a\/: fetch failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
});

test("a server that never answers times out with context", async () => {
  const hang = (_s: Seen, init: RequestInit): Promise<Response> =>
    new Promise((_resolve, reject) => {
      init.signal?.addEventListener("abort", () => {
        reject(init.signal?.reason as Error);
      });
    });
  const stub = stubFetch([hang]);
  await assert.rejects(new A2AClient(URL_, { fetch: stub.fetch, protocol: "0.3", timeoutMs: 50 }).cancelTask("t-1"), /A2A tasks\/cancel .*no answer within 50 ms/);
});

test("configured headers are sent; 1.0 adds A2A-Version and PascalCase methods", async () => {
  const stub = stubFetch([(s) => json({ jsonrpc: "2.0", id: s.body.id, result: { id: "t-1", contextId: "c", status: { state: "TASK_STATE_WORKING" } } })]);
  const client = new A2AClient(URL_, { fetch: stub.fetch, protocol: "1.0", headers: { authorization: "Bearer x" } });
  const t = await client.getTask("t-1", 5);
  assert.equal(t.status.state, "working");
  const [req] = stub.seen;
  assert.ok(req);
  assert.equal(req.rpcMethod, "GetTask");
  assert.equal(req.headers.get("a2a-version"), "1.0");
  assert.equal(req.headers.get("authorization"), "Bearer x");
  assert.deepEqual(req.body.params, { id: "t-1", historyLength: 5 });
});

test("auto: a kagent that only speaks 1.0 is detected once and then used directly", async () => {
  const fake = await startFakeKagent({ protocol: "1.0", defaultScript: { llmCalls: 1 } });
  try {
    const client = new A2AClient(fake.agentUrl("ns", "a"));
    const events = await collect(client.send(message, { stream: true }));
    assert.equal(client.protocol, "1.0");
    assert.equal(events.at(-1)?.kind, "status-update");
    const first = events[0];
    assert.ok(first?.kind === "task");
    await client.getTask(first.id);
    assert.deepEqual(
      fake.received.map((r) => [r.method, r.a2aVersion, r.refusal]),
      [
        ["message/stream", undefined, 400],
        ["SendStreamingMessage", "1.0", undefined],
        ["GetTask", "1.0", undefined],
      ],
    );
    assert.equal(fake.sendCount(message.messageId), 1);
  } finally {
    await fake.close();
  }
});

test("auto: a 0.3 server is kept at 0.3 without probing", async () => {
  const fake = await startFakeKagent({ protocol: "0.3", defaultScript: { llmCalls: 1 } });
  try {
    const client = new A2AClient(fake.agentUrl("ns", "a"));
    await collect(client.send(message, { stream: true }));
    assert.equal(client.protocol, "0.3");
    assert.deepEqual(fake.received.map((r) => r.method), ["message/stream"]);
  } finally {
    await fake.close();
  }
});

test("auto: a method unknown in both dialects is reported as the 0.3 error", async () => {
  const stub = stubFetch([rpcError(-32601, "Method not found")]);
  const client = new A2AClient(URL_, { fetch: stub.fetch });
  await assert.rejects(client.cancelTask("t"), (err: unknown) => err instanceof A2AError && err.code === -32601 && err.method === "tasks/cancel");
  assert.deepEqual(stub.seen.map((s) => s.rpcMethod), ["tasks/cancel", "CancelTask"]);
  assert.equal(client.protocol, undefined);
});

test("tasks/get on an unknown task: TaskNotFound with code", async () => {
  const fake = await startFakeKagent();
  try {
    await assert.rejects(new A2AClient(fake.agentUrl("ns", "a")).getTask("nope"), (err: unknown) => err instanceof A2AError && err.code === -32001 && /Task not found/.test(err.message));
  } finally {
    await fake.close();
  }
});

test("kagentAgentUrl builds kagent's per-agent endpoint", () => {
  assert.equal(kagentAgentUrl("http://kagent-controller.kagent.svc:8083/", "team-a", "run-1-agent"), "http://kagent-controller.kagent.svc:8083/api/a2a/team-a/run-1-agent/");
});

test("userMessage drops empty texts", () => {
  assert.deepEqual(userMessage(["goal", "", "hint"], { messageId: "m", contextId: "c" }), {
    kind: "message",
    messageId: "m",
    role: "user",
    parts: [
      { kind: "text", text: "goal" },
      { kind: "text", text: "hint" },
    ],
    contextId: "c",
  });
});
