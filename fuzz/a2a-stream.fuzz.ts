// The A2A event stream the controller follows a run by: an agent's
// message/stream (or SendStreamingMessage) answer, read through the real
// A2AClient from a fetch that answers with the input as an SSE body.
import { A2AClient, A2AError, userMessage } from "../src/controller/a2a/client.ts";
import type { A2AEvent, TaskState } from "../src/controller/a2a/types.ts";
import { seededRandom } from "../test/support/seeded-random.ts";
import { PropertyViolation, mutateJsonText, type FuzzTarget, type Rng } from "./engine.ts";
import { faultOf } from "./gateway-harness.ts";

const STATES: ReadonlySet<TaskState> = new Set<TaskState>(["submitted", "working", "input-required", "completed", "canceled", "failed", "rejected", "auth-required", "unknown"]);

const isObject = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v);

function checkParts(parts: unknown, where: string): void {
  if (!Array.isArray(parts)) throw new PropertyViolation(`${where}: parts is not a list`);
  // Read as the wire could have left them, not as the types promise.
  for (const p of parts as { kind?: unknown; text?: unknown; data?: unknown; file?: unknown; metadata?: unknown }[]) {
    const ok =
      p.kind === "text" ? typeof p.text === "string"
      : p.kind === "data" ? isObject(p.data)
      : p.kind === "file" ? isObject(p.file) && Object.values(p.file as object).every((v) => typeof v === "string")
      : false;
    if (!ok) throw new PropertyViolation(`${where}: malformed part ${JSON.stringify(p).slice(0, 120)}`);
    if (p.metadata !== undefined && !isObject(p.metadata)) throw new PropertyViolation(`${where}: part metadata is not an object`);
  }
}

function checkMessage(m: unknown, where: string): void {
  if (!isObject(m)) throw new PropertyViolation(`${where}: not an object`);
  const msg = m as { kind?: unknown; messageId?: unknown; role?: unknown; parts?: unknown };
  if (msg.kind !== "message" || typeof msg.messageId !== "string" || (msg.role !== "user" && msg.role !== "agent")) throw new PropertyViolation(`${where}: malformed message`);
  checkParts(msg.parts, where);
}

function checkStatus(status: unknown, where: string): void {
  const s = status as { state?: unknown; message?: unknown; timestamp?: unknown } | undefined;
  if (!s || !STATES.has(s.state as TaskState)) throw new PropertyViolation(`${where}: status without a known state`);
  if (s.message !== undefined) checkMessage(s.message, `${where}.message`);
  if (s.timestamp !== undefined && typeof s.timestamp !== "string") throw new PropertyViolation(`${where}: timestamp is not a string`);
}

/** What the controller relies on in each event: the model's shapes, whatever the wire said. */
function checkEvent(e: A2AEvent): string {
  switch (e.kind) {
    case "task":
      if (typeof e.id !== "string" || typeof e.contextId !== "string") throw new PropertyViolation("task without string id and contextId");
      checkStatus(e.status, "task.status");
      e.history?.forEach((m, i) => { checkMessage(m, `task.history[${i}]`); });
      e.artifacts?.forEach((a, i) => { checkParts(a.parts, `task.artifacts[${i}]`); });
      return `task/${e.status.state}`;
    case "message":
      checkMessage(e, "message");
      return "message";
    case "status-update":
      if (typeof e.taskId !== "string" || typeof e.final !== "boolean") throw new PropertyViolation("status-update without taskId or final");
      checkStatus(e.status, "status-update.status");
      return `status/${e.status.state}${e.final ? "/final" : ""}`;
    case "artifact-update":
      if (typeof e.taskId !== "string" || typeof e.artifact.artifactId !== "string") throw new PropertyViolation("artifact-update without taskId or artifactId");
      checkParts(e.artifact.parts, "artifact-update.artifact");
      return "artifact";
    default:
      throw new PropertyViolation(`an event of no known kind: ${JSON.stringify(e).slice(0, 120)}`);
  }
}

function bodyOf(input: Buffer): ReadableStream<Uint8Array> {
  const rng = seededRandom(faultOf(input) * 104729 + input.length);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= input.length) {
        controller.close();
        return;
      }
      const n = 1 + Math.floor(rng() * rng() * 1024);
      controller.enqueue(new Uint8Array(input.subarray(at, at + n)));
      at += n;
    },
  });
}

export const DICTIONARY = [
  "data: ",
  "\n\n",
  "event: message\n",
  '{"jsonrpc":"2.0","id":"1","result":',
  '{"jsonrpc":"2.0","id":"1","error":{"code":-32603,"message":"boom","data":"x"}}',
  '"kind":"task"',
  '"kind":"message"',
  '"kind":"status-update"',
  '"kind":"artifact-update"',
  '"statusUpdate":',
  '"artifactUpdate":',
  '"task":',
  '"message":',
  '"status":{"state":"working"}',
  '"state":"TASK_STATE_COMPLETED"',
  '"final":true',
  '"parts":[{"kind":"text","text":"hi"}]',
  '"parts":[{"data":1}]',
  '"parts":[{"kind":"file","file":{"bytes":"AA=="}}]',
  '"raw":"AA=="',
  '"url":"http://x"',
  '"messageId":"m1"',
  '"taskId":"t1"',
  '"contextId":"c1"',
  '"id":"t1"',
  '"role":"ROLE_AGENT"',
  '"history":[',
  '"artifacts":[',
  '"metadata":{}',
  '"artifact":{"artifactId":"a","parts":[]}',
  "null",
  "[]",
  "{}",
];

const JSON_WORDS = ["task", "message", "status-update", "artifact-update", "working", "completed", "input-required", "TASK_STATE_FAILED", "text", "data", "file", "kind", "parts", "status", "state", "result", "error", "id", "taskId", "final", ""];

/** One event's JSON changed in its structure: the stream around it stays well framed. */
function mutateEvent(input: Buffer, rng: Rng): Buffer | undefined {
  const events = input.toString("utf8").split("\n\n");
  const candidates = events.map((e, i) => ({ e, i })).filter(({ e }) => e.startsWith("data: "));
  if (candidates.length === 0) return undefined;
  const { e, i } = rng.pick(candidates);
  const mutated = mutateJsonText(e.slice("data: ".length), rng, JSON_WORDS);
  if (mutated === undefined) return undefined;
  events[i] = `data: ${mutated}`;
  return Buffer.from(events.join("\n\n"));
}

export function create(): Promise<FuzzTarget> {
  return Promise.resolve({
    name: "a2a-stream",
    property:
      "reading an agent's event stream yields only events of the model's shapes (a known kind, a known task state, typed parts) or fails with A2AError; never another exception",
    maxLength: 4 * 1024,
    dictionary: DICTIONARY,
    mutate: mutateEvent,
    async run(input: Buffer): Promise<string> {
      const fetchStream = (): Promise<Response> =>
        Promise.resolve(new Response(bodyOf(input), { status: 200, headers: { "content-type": "text/event-stream" } }));
      const client = new A2AClient("http://agent.fuzz.invalid/", { fetch: fetchStream, protocol: faultOf(input) % 2 === 0 ? "0.3" : "1.0", timeoutMs: 60_000 });
      const kinds: string[] = [];
      try {
        for await (const event of client.send(userMessage("go", { messageId: "m0" }), { stream: true })) kinds.push(checkEvent(event));
      } catch (err) {
        if (err instanceof PropertyViolation) throw err;
        if (!(err instanceof A2AError)) throw err;
        // The words of the message, not what it quotes: one label per kind of refusal.
        const words = err.message.replace(/^A2A \S+ \S+: /, "").split(/[^A-Za-z -]/)[0] ?? "";
        return `A2AError ${words.slice(0, 40)} after ${Math.min(kinds.length, 3)}`;
      }
      return [...new Set(kinds)].sort().join(",") || "no events";
    },
  });
}
