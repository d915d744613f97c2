// A rolling restart drops no request: on SIGTERM the real `agentgate serve`
// process reports not ready for --drain-seconds while it goes on answering,
// and asks every client to close its connection after the response (so the
// API server's pooled keep-alive connections move to a ready replica). Then
// it stops listening, finishes what it holds within a bound and exits 0,
// even while clients go on sending on kept-alive connections to the end, as
// the API server's do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Agent, createServer as createHttpsServer, request, type Server } from "node:https";
import { createConnection, type Socket } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import { admissionReviews } from "../../bench/fixtures.ts";
import { ServerDrain, finishSeconds } from "../../src/server/drain.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import { freePort } from "../../src/testing/free-port.ts";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));
const DRAIN_SECONDS = 2;
/** The kubelet's terminationGracePeriodSeconds in this test: SIGKILL after it (generous: the machine is shared). */
const GRACE_SECONDS = DRAIN_SECONDS + finishSeconds(DRAIN_SECONDS) + 15;


interface Answer {
  status: number;
  connection: string | undefined;
}

/** Connections whose TLS handshake completed: the server accepted them, and a request on them was sent. */
const accepted = new WeakSet<Socket>();

class CallError extends Error {
  readonly sent: boolean;
  constructor(code: string, sent: boolean) {
    super(`${code}${sent ? "" : " (before the server accepted the connection)"}`);
    this.sent = sent;
  }
}

function call(agent: Agent, port: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let socket: Socket | undefined;
    const req = request({ host: "127.0.0.1", port, path, method, agent, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      res.on("error", reject);
    });
    req.on("socket", (s) => {
      socket = s;
      if (!accepted.has(s)) s.once("secureConnect", () => accepted.add(s));
    });
    req.on("error", (err: NodeJS.ErrnoException) => reject(new CallError(err.code ?? err.message, socket !== undefined && accepted.has(socket))));
    req.end(body);
  });
}

test("SIGTERM under kept-alive load: not ready, Connection: close during the drain, every request answered, exit 0 within the bound", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "serve", "--offline", "--listen", `127.0.0.1:${port}`, "--drain-seconds", String(DRAIN_SECONDS)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  let exitedAt: number | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => { exitedAt = Date.now(); resolve(code); }));
  // Pooled like the API server's webhook client: few connections, reused.
  const agent = new Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false });
  const probeAgent = new Agent({ keepAlive: false, rejectUnauthorized: false });
  let killTimer: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; ; i++) {
      if ((await call(probeAgent, port, "GET", "/readyz").catch(() => ({ status: 0 }))).status === 200) break;
      assert.ok(i < 400, `the gateway never became ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const bodies = admissionReviews().map(({ review }) => JSON.stringify(review));
    let answered = 0;
    const failures: string[] = [];
    /** answers to requests sent after /readyz said not ready */
    const duringDrain: Answer[] = [];
    let notReadySeen = false;
    let sigterm = 0;
    // Four clients that never stop on their own: each sends until the
    // gateway no longer accepts connections (it stopped listening or exited).
    const clients = [0, 1, 2, 3].map(async (c) => {
      for (let i = c; exitedAt === undefined; i += 4) {
        const afterNotReady = notReadySeen;
        try {
          const answer = await call(agent, port, "POST", "/validate", bodies[i % bodies.length]);
          if (answer.status === 200) answered++;
          else failures.push(`HTTP ${answer.status}`);
          if (afterNotReady) duringDrain.push(answer);
        } catch (err) {
          // Once the gateway stops listening, a new connection is refused, or
          // reset if it was still in the listen backlog: the request was never
          // sent (in a cluster, endpoints stopped sending new connections here
          // during the drain). A request sent on an accepted connection must
          // be answered.
          if (err instanceof CallError && !err.sent && sigterm > 0) return;
          failures.push(`${err instanceof Error ? err.message : String(err)} ${sigterm > 0 ? `${Date.now() - sigterm} ms after SIGTERM` : "before SIGTERM"}`);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    sigterm = Date.now();
    child.kill("SIGTERM");
    killTimer = setTimeout(() => child.kill("SIGKILL"), GRACE_SECONDS * 1000);
    while (exitedAt === undefined && !notReadySeen) {
      const probe = await call(probeAgent, port, "GET", "/readyz").catch(() => ({ status: 0 }));
      if (probe.status === 503) notReadySeen = true;
      else await new Promise((r) => setTimeout(r, 20));
    }
    const code = await exited;
    await Promise.all(clients);
    assert.ok(notReadySeen, "/readyz never reported not ready during the drain");
    assert.equal(code, 0, `the gateway did not exit 0 within the ${GRACE_SECONDS} s grace period (killed), stderr: ${stderr.slice(-2000)}`);
    assert.deepEqual(failures, [], `${failures.length} of ${answered + failures.length} requests failed`);
    assert.ok(duringDrain.length > 0, "no admission request was sent during the drain");
    const keptAlive = duringDrain.filter((a) => a.connection?.toLowerCase() !== "close");
    assert.equal(keptAlive.length, 0, `${keptAlive.length} of ${duringDrain.length} answers during the drain did not say Connection: close`);
    // For the record, not an assertion on time.
    process.stdout.write(`# drain: ${answered} requests answered, ${duringDrain.length} during the drain, exit ${((exitedAt ?? 0) - sigterm) / 1000} s after SIGTERM\n`);
  } finally {
    clearTimeout(killTimer);
    agent.destroy();
    probeAgent.destroy();
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

// ServerDrain on its own, on a plain HTTPS server: what happens to each kind
// of connection when the drain ends.
const pair = generateServingCertificate(["127.0.0.1"]);

async function drainable(handler: (path: string, answer: () => void) => void): Promise<{ server: Server; drain: ServerDrain; port: number }> {
  const server = createHttpsServer({ cert: pair.cert, key: pair.key }, (req, res) => handler(req.url ?? "", () => res.end("ok")));
  const drain = new ServerDrain(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  return { server, drain, port: typeof address === "object" && address ? address.port : 0 };
}

/** A raw TLS connection, so the test decides when each request is written. */
async function rawConnection(port: number): Promise<{ socket: TLSSocket; send: (path: string) => Promise<string>; closed: Promise<void> }> {
  const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => { socket.once("secureConnect", resolve); socket.once("error", reject); });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => undefined);
  const send = (path: string) => new Promise<string>((resolve) => {
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString();
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      resolve(head.slice(0, head.indexOf("\r\n\r\n")));
    };
    socket.on("data", onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
  return { socket, send, closed };
}

test("drain: a connection accepted before the drain ended but not used yet still gets its answer, with Connection: close", async () => {
  const { drain, port } = await drainable((_path, answer) => answer());
  const conn = await rawConnection(port);
  const done = drain.shutdown(30_000);
  const head = await conn.send("/late");
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\nconnection: close\r\n/i);
  await conn.closed;
  assert.deepEqual(await done, { cut: 0 });
});

test("drain: a pooled connection idle after an answer is closed when the drain ends", async () => {
  const { drain, port } = await drainable((_path, answer) => answer());
  const conn = await rawConnection(port);
  assert.match(await conn.send("/before"), /\r\nconnection: keep-alive\r\n/i, "kept alive before the drain");
  // A deadline the test would notice: only a connection left open reaches it.
  assert.deepEqual(await drain.shutdown(30_000), { cut: 0 });
  await conn.closed;
});

test("drain: at the deadline a request still unanswered and a connection stuck in its TLS handshake are cut, and shutdown returns", async () => {
  let received = 0;
  const { drain, port } = await drainable(() => { received++; });
  const conn = await rawConnection(port);
  void conn.send("/never");
  // TCP only: the server waits for a ClientHello that never comes.
  const stuck = createConnection({ host: "127.0.0.1", port });
  const stuckClosed = new Promise<void>((resolve) => stuck.once("close", () => resolve()));
  stuck.on("error", () => undefined);
  await new Promise<void>((resolve) => stuck.once("connect", resolve));
  while (received === 0) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(await drain.shutdown(300), { cut: 2 });
  await conn.closed;
  await stuckClosed;
});
