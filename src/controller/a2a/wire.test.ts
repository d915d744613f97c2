import assert from "node:assert/strict";
import { test } from "node:test";
import type { A2AEvent, Message } from "./types.ts";
import { A2ADecodeError, decodeEvent, encodeMessage, sendParams } from "./wire.ts";

const decodeCases: { name: string; wire: unknown; want: A2AEvent }[] = [
  {
    name: "0.3 task",
    wire: { kind: "task", id: "t", contextId: "c", status: { state: "input-required" }, history: [{ kind: "message", messageId: "m", role: "user", parts: [{ kind: "text", text: "hi" }] }] },
    want: { kind: "task", id: "t", contextId: "c", status: { state: "input-required" }, history: [{ kind: "message", messageId: "m", role: "user", parts: [{ kind: "text", text: "hi" }] }] },
  },
  {
    name: "1.0 {task} with ProtoJSON enums and parts",
    wire: {
      task: {
        id: "t",
        contextId: "c",
        status: { state: "TASK_STATE_AUTH_REQUIRED", message: { messageId: "m", role: "ROLE_AGENT", parts: [{ data: { name: "x" }, metadata: { kagent_type: "function_call" } }, { url: "https://f", filename: "a.txt", mediaType: "text/plain" }] } },
        artifacts: [{ artifactId: "a", name: "out", parts: [{ text: "v" }] }],
      },
    },
    want: {
      kind: "task",
      id: "t",
      contextId: "c",
      status: {
        state: "auth-required",
        message: {
          kind: "message",
          messageId: "m",
          role: "agent",
          parts: [
            { kind: "data", data: { name: "x" }, metadata: { kagent_type: "function_call" } },
            { kind: "file", file: { name: "a.txt", mimeType: "text/plain", uri: "https://f" } },
          ],
        },
      },
      artifacts: [{ artifactId: "a", name: "out", parts: [{ kind: "text", text: "v" }] }],
    },
  },
  {
    name: "1.0 statusUpdate: final derived from a terminal state",
    wire: { statusUpdate: { taskId: "t", contextId: "c", status: { state: "TASK_STATE_COMPLETED" }, metadata: { k: 1 } } },
    want: { kind: "status-update", taskId: "t", contextId: "c", status: { state: "completed" }, final: true, metadata: { k: 1 } },
  },
  {
    name: "1.0 statusUpdate: working is not final",
    wire: { statusUpdate: { taskId: "t", contextId: "c", status: { state: "TASK_STATE_WORKING" } } },
    want: { kind: "status-update", taskId: "t", contextId: "c", status: { state: "working" }, final: false },
  },
  {
    name: "1.0 artifactUpdate, non-object data boxed",
    wire: { artifactUpdate: { taskId: "t", contextId: "c", artifact: { artifactId: "a", parts: [{ data: [1, 2] }] }, append: true, lastChunk: false } },
    want: { kind: "artifact-update", taskId: "t", contextId: "c", artifact: { artifactId: "a", parts: [{ kind: "data", data: { value: [1, 2] } }] }, append: true, lastChunk: false },
  },
  {
    name: "1.0 {message}",
    wire: { message: { messageId: "m", role: "ROLE_AGENT", parts: [{ text: "hello" }] } },
    want: { kind: "message", messageId: "m", role: "agent", parts: [{ kind: "text", text: "hello" }] },
  },
  {
    name: "0.3 status-update keeps the server's final flag; cancelled spelling",
    wire: { kind: "status-update", taskId: "t", contextId: "c", status: { state: "cancelled" }, final: false },
    want: { kind: "status-update", taskId: "t", contextId: "c", status: { state: "canceled" }, final: false },
  },
];

for (const c of decodeCases) {
  test(`decode: ${c.name}`, () => {
    assert.deepEqual(decodeEvent(c.wire), c.want);
  });
}

test("decode: garbage is a decode error naming what it saw", () => {
  assert.throws(() => decodeEvent({ foo: 1 }), (err: unknown) => err instanceof A2ADecodeError && /keys foo/.test(err.message));
  assert.throws(() => decodeEvent({ kind: "task", status: {} }), /task has no id/);
  assert.throws(() => decodeEvent("x"), A2ADecodeError);
});

const goal: Message = { kind: "message", messageId: "m", role: "user", parts: [{ kind: "text", text: "go" }, { kind: "data", data: { a: 1 } }], contextId: "c" };

test("encode: 0.3 message with kind discriminators, blocking flag", () => {
  assert.deepEqual(sendParams(goal, "0.3", false), {
    message: { kind: "message", messageId: "m", role: "user", parts: [{ kind: "text", text: "go" }, { kind: "data", data: { a: 1 } }], contextId: "c" },
    configuration: { blocking: false },
  });
});

test("encode: 1.0 message in ProtoJSON, returnImmediately", () => {
  assert.deepEqual(sendParams(goal, "1.0", false), {
    message: { messageId: "m", role: "ROLE_USER", parts: [{ text: "go" }, { data: { a: 1 } }], contextId: "c" },
    configuration: { returnImmediately: true },
  });
  assert.deepEqual(encodeMessage({ kind: "message", messageId: "f", role: "agent", parts: [{ kind: "file", file: { bytes: "QQ==", name: "a", mimeType: "text/plain" } }] }, "1.0"), {
    messageId: "f",
    role: "ROLE_AGENT",
    parts: [{ raw: "QQ==", filename: "a", mediaType: "text/plain" }],
  });
});
