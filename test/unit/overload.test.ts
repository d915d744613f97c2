// The in-flight bound (src/server/overload.ts) on the real HTTPS server:
// with N places and N+k reviews at once, exactly k are denied
// [gateway-overloaded] without waiting for the others, the N are judged, and
// once load drops every review is judged again. Two kinds of slow gateway:
// one whose evaluation is CPU work (the loop is busy; what arrives meanwhile
// waits in socket buffers) and one whose evaluation waits on I/O (a lookup
// that does not answer).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Server } from "node:https";
import { connect, type TLSSocket } from "node:tls";
import type { ContextKind, ObjectLookup } from "../../src/context/lookup.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { logger, type Logger } from "../../src/log.ts";
import { loadEngine } from "../../src/policy/load.ts";
import { GatewayMetrics } from "../../src/server/metrics.ts";
import { OverloadLog, reviewUid } from "../../src/server/overload.ts";
import { createGatewayServer } from "../../src/server/server.ts";
import { ephemeralKeyring } from "../../src/signing/keyring.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";
import type { AdmissionReview } from "../../src/types/admission.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import { until } from "../support/until.ts";
import { agentConfigReview } from "../support/admission-review.ts";

const N = 4;
const K = 3;

/** How the gateway's context lookups behave: at once, as CPU work, or not until release(). */
let mode: "fast" | "busy" | "held" = "fast";
let gate = Promise.withResolvers<undefined>();
let lookupsStarted = 0;

/** Evaluation as CPU work: the event loop does nothing else meanwhile (no figure is asserted on it). */
function busy(iterations: number): void {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + i * 31) % 1_000_003;
  if (x < 0) throw new Error("unreachable");
}

const lookup: ObjectLookup = {
  get(_kind: ContextKind, _namespace: string, _name: string): Promise<KubeObject | null> {
    lookupsStarted++;
    if (mode === "held") return gate.promise.then(() => null);
    if (mode === "busy") busy(2_000_000);
    return Promise.resolve(null);
  },
};

const metrics = new GatewayMetrics();
let server: Server;
let port = 0;
let connections = 0;

before(async () => {
  logger.level = "error";
  const engine = await loadEngine([]);
  server = createGatewayServer({
    tls: generateServingCertificate(["127.0.0.1"]),
    deps: { engine: () => engine, lookup, identity: makeIdentity([]), exemptNamespaces: new Set(["kube-system"]), keyring: ephemeralKeyring() },
    metrics,
    log: logger,
    notReady: () => undefined,
    maxInFlight: N,
  });
  server.on("secureConnection", () => { connections++; });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  port = typeof address === "object" && address ? address.port : 0;
});

after(() => new Promise<void>((r) => { server.close(() => { r(); }); server.closeAllConnections(); }));

const review = (uid: string): string => agentConfigReview(uid, { tokenBudget: 1000 });

interface Answer {
  uid: string;
  status: number;
  allowed: boolean | undefined;
  message: string;
  code: number | undefined;
  responseUid: string | undefined;
}

const overloaded = (a: Answer): boolean => a.message.startsWith("[gateway-overloaded]");

/** An open TLS connection to the gateway, its handshake done on both sides. */
async function open(count: number): Promise<TLSSocket[]> {
  const before = connections;
  const sockets = await Promise.all(Array.from({ length: count }, () => new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => { resolve(s); });
    s.once("error", reject);
  })));
  // The server's side too: what is written next reaches it as a request, not a handshake's tail.
  await until("the gateway's side of the handshakes", () => connections >= before + count, { intervalMs: 1 });
  return sockets;
}

/** Writes one review on the socket (one write: the bytes reach the gateway together) and resolves with the answer. */
function send(socket: TLSSocket, uid: string, onAnswer?: (a: Answer) => void): Promise<Answer> {
  const body = Buffer.from(review(uid));
  const answer = new Promise<Answer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("error", reject);
    socket.once("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const status = Number(text.slice(9, 12));
      const parsed = JSON.parse(text.slice(split + 4)) as AdmissionReview;
      const a: Answer = { uid, status, allowed: parsed.response?.allowed, message: parsed.response?.status?.message ?? "", code: parsed.response?.status?.code, responseUid: parsed.response?.uid };
      onAnswer?.(a);
      resolve(a);
      socket.destroy();
    });
  });
  socket.write(Buffer.concat([Buffer.from(`POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\nConnection: close\r\n\r\n`), body]));
  return answer;
}

/** N+k reviews written in one go, on connections opened beforehand. */
async function burst(prefix: string, count: number, onAnswer?: (a: Answer) => void): Promise<Answer[]> {
  const sockets = await open(count);
  return Promise.all(sockets.map((s, i) => send(s, `${prefix}-${String(i)}`, onAnswer)));
}

async function refusedSoFar(): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString("agentgate_admission_overload_total");
  return text.split("\n").filter((l) => l.startsWith('agentgate_admission_overload_total{webhook="validate"}')).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

function checkRefusal(a: Answer): void {
  assert.equal(a.status, 200, "a refusal is an AdmissionReview, not an HTTP error (it stays a refusal under failurePolicy: Ignore)");
  assert.equal(a.allowed, false);
  assert.equal(a.responseUid, a.uid, "answered for the review's own uid, not the object's");
  assert.equal(a.code, 429);
  assert.match(a.message, /^\[gateway-overloaded\] agentgate already has 4 admission reviews in flight, its limit, and refused this one without evaluating it \(fail closed\); retry in a moment, and if it persists tell the platform team: the gateway needs more replicas or CPU \(Helm gateway\.maxInFlight\)$/);
}

function checkJudged(a: Answer): void {
  assert.equal(a.status, 200);
  assert.equal(a.responseUid, a.uid);
  assert.equal(overloaded(a), false, `${a.uid} was judged: ${a.message}`);
}

test("CPU-bound: of N+k reviews arriving while the loop is busy, exactly k are denied [gateway-overloaded] and N are judged", async () => {
  mode = "busy";
  const refusedBefore = await refusedSoFar();
  const answers = await burst("cpu", N + K);
  const refused = answers.filter(overloaded);
  assert.equal(refused.length, K, answers.map((a) => `${a.uid}: ${a.message.slice(0, 40)}`).join("\n"));
  for (const a of refused) checkRefusal(a);
  for (const a of answers.filter((x) => !overloaded(x))) checkJudged(a);
  assert.equal(await refusedSoFar(), refusedBefore + K, "each refusal counted in agentgate_admission_overload_total");
});

test("waiting on I/O: the k over the limit are denied while the N still wait, without waiting for them", async () => {
  mode = "held";
  gate = Promise.withResolvers<undefined>();
  lookupsStarted = 0;
  const refusedBefore = await refusedSoFar();
  const order: string[] = [];
  const all = burst("io", N + K, (a) => order.push(overloaded(a) ? "refused" : "judged"));
  // The N hold their places until the lookup answers; the k are answered meanwhile.
  await until("k answers, and N reviews waiting on their lookup", () => order.length >= K && lookupsStarted >= N, { intervalMs: 1 });
  assert.deepEqual(order, Array<string>(K).fill("refused"), "the k refusals came back while the N were still waiting");
  assert.equal(lookupsStarted, N, "exactly N were being evaluated");
  gate.resolve(undefined);
  const answers = await all;
  assert.deepEqual(order, [...Array<string>(K).fill("refused"), ...Array<string>(N).fill("judged")]);
  for (const a of answers.filter(overloaded)) checkRefusal(a);
  for (const a of answers.filter((x) => !overloaded(x))) checkJudged(a);
  assert.equal(await refusedSoFar(), refusedBefore + K);
});

test("once load drops every review is judged again, and places are given back whatever the outcome", async () => {
  mode = "fast";
  // Errors give their place back too: malformed bodies and unknown resources, 2N at once (N of them refused).
  const odd = await open(2 * N);
  const statuses = await Promise.all(odd.map((s, i) => new Promise<number>((resolve) => {
    const body = i % 2 === 0 ? "{not json" : JSON.stringify({ kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1", request: { uid: `odd-${String(i)}`, kind: { group: "", version: "v1", kind: "Pod" }, resource: { group: "", version: "v1", resource: "pods" }, operation: "CREATE", userInfo: {} } });
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.once("end", () => { s.destroy(); resolve(Number(Buffer.concat(chunks).toString("latin1").slice(9, 12))); });
    s.write(`POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\nConnection: close\r\n\r\n${body}`);
  })));
  assert.equal(statuses.filter((c) => c === 400).length, N, `the N with a place were answered 400 (${statuses.join(", ")})`);
  const refusedBefore = await refusedSoFar();
  // N+k again, but never more than N at a time: all judged.
  for (let i = 0; i < N + K; i += N) {
    const answers = await burst(`calm-${String(i)}`, Math.min(N, N + K - i));
    for (const a of answers) checkJudged(a);
  }
  // N at once, held: all N get a place, so none was lost above.
  mode = "held";
  gate = Promise.withResolvers<undefined>();
  lookupsStarted = 0;
  const held = burst("whole", N);
  await until("all N waiting on their lookup, none refused", () => lookupsStarted >= N, { intervalMs: 1, timeoutMs: 10_000 });
  gate.resolve(undefined);
  for (const a of await held) checkJudged(a);
  assert.equal(await refusedSoFar(), refusedBefore, "nothing refused once load is within the limit");
});

test("a caller slow to send its body holds no place: N reviews still get in beside it", async () => {
  mode = "held";
  gate = Promise.withResolvers<undefined>();
  lookupsStarted = 0;
  const refusedBefore = await refusedSoFar();
  // Half a review sent: its headers are in, its body is not.
  const [slow] = await open(1);
  assert.ok(slow);
  const body = Buffer.from(review("slow"));
  const slowAnswer = new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    slow.on("data", (c: Buffer) => chunks.push(c));
    slow.once("end", () => { resolve(Buffer.concat(chunks).toString("utf8")); slow.destroy(); });
  });
  slow.write(Buffer.concat([Buffer.from(`POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${String(body.length)}\r\nConnection: close\r\n\r\n`), body.subarray(0, 100)]));
  const held = burst("beside-slow", N);
  await until("N reviews waiting on their lookup beside the slow one", () => lookupsStarted >= N, { intervalMs: 1, timeoutMs: 10_000 });
  assert.equal(await refusedSoFar(), refusedBefore, "none of the N was refused");
  gate.resolve(undefined);
  for (const a of await held) checkJudged(a);
  slow.write(body.subarray(100));
  assert.match(await slowAnswer, /"uid":"slow"/, "and the slow one is judged once its body is in");
});

test("reviewUid: the review's uid from the API server's key order without parsing, any other order by parsing", () => {
  assert.equal(reviewUid(Buffer.from(review("5f0c-ab"))), "5f0c-ab");
  const reordered = JSON.stringify({ request: { object: { request: { uid: "inner" } }, uid: "outer" }, kind: "AdmissionReview" });
  assert.equal(reviewUid(Buffer.from(reordered)), "outer", "a uid nested in the object is not the review's");
  assert.equal(reviewUid(Buffer.from("{not json")), undefined);
  assert.equal(reviewUid(Buffer.from(JSON.stringify({ request: { uid: "" } }))), undefined);
  assert.equal(reviewUid(Buffer.from('{"kind":"AdmissionReview","request":{"uid":"a\\"b"}}')), 'a"b', "an escaped uid goes the parsing way");
});

test("OverloadLog: the first refusal is logged at once, then one line per interval with how many followed", () => {
  const lines: Record<string, unknown>[] = [];
  const log = { warn: (_message: string, meta: Record<string, unknown>) => { lines.push(meta); } } as unknown as Logger;
  let now = 1_000;
  const overload = new OverloadLog(log, 64, 10_000, () => now);
  overload.refusal();
  for (let i = 0; i < 99; i++) overload.refusal();
  assert.deepEqual(lines, [{ refused: 1, maxInFlight: 64, sinceMs: 0 }]);
  now += 10_000;
  overload.refusal();
  assert.deepEqual(lines[1], { refused: 100, maxInFlight: 64, sinceMs: 10_000 });
});
