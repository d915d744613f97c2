// Evidence for keeping agentgate's own A2A client (src/controller/a2a/):
// the A2A project's SDK client (@a2a-js/sdk 1.3.0, LegacyJsonRpcTransport for
// the JSON-RPC 0.3 released kagent speaks) can talk to kagent, per-agent route
// and trusted-proxy header included; what it gives back is what these tests
// pin, so a later SDK version that closes the gaps shows up here.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { Role, TaskState } from "@a2a-js/sdk";
import type { Message } from "@a2a-js/sdk";
import { LegacyJsonRpcTransport } from "@a2a-js/sdk/compat/v0_3/client";
import { startFakeKagent, unsignedJwt } from "../support/a2a-server.ts";

const goal = (): Message => ({
  messageId: randomUUID(),
  contextId: "",
  taskId: "",
  role: Role.ROLE_USER,
  parts: [{ content: { $case: "text", value: "fix the pod" }, metadata: undefined, filename: "", mediaType: "" }],
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});

test("the SDK client reaches kagent's per-agent route with the trusted-proxy Bearer header, and reads a refused cancel's code and message", async () => {
  const kagent = await startFakeKagent({ runtime: "python", auth: { mode: "trusted-proxy" }, defaultScript: { llmCalls: 3, stepDelayMs: 100 } });
  try {
    const sdk = new LegacyJsonRpcTransport({ endpoint: kagent.agentUrl("team-a", "r1-agent") });
    const auth = { serviceParameters: { Authorization: `Bearer ${unsignedJwt({ sub: "agentgate" })}` } };
    const message = goal();
    let taskId = "";
    for await (const ev of sdk.sendMessageStream({ tenant: "", message, configuration: undefined, metadata: undefined }, auth)) {
      if (ev.payload?.$case === "task") {
        taskId = ev.payload.value.id;
        break;
      }
    }
    assert.ok(taskId);
    await assert.rejects(sdk.cancelTask({ tenant: "", id: taskId, metadata: undefined }, auth), (err: unknown) => {
      const e = err as Error & { envelopeCode?: number };
      return e.name === "JsonRpcTransportError" && e.envelopeCode === -32603 && e.message === "Cancellation is not supported";
    });
    // what it hands back is the 1.0 proto model (enum states, oneof parts), not the 0.3 JSON our follower and meter read
    const task = await sdk.getTask({ tenant: "", id: taskId, historyLength: undefined }, auth);
    assert.equal(task.status?.state, TaskState.TASK_STATE_WORKING);
    assert.equal(task.history[0]?.messageId, message.messageId);
    assert.deepEqual(kagent.received.map((c) => c.user), ["agentgate", "agentgate", "agentgate"]);
  } finally {
    await kagent.close();
  }
});

test("the SDK client reports kagent's HTTP 401 as a plain Error: the status only in its text", async () => {
  const kagent = await startFakeKagent({ auth: { mode: "trusted-proxy" } });
  try {
    const sdk = new LegacyJsonRpcTransport({ endpoint: kagent.agentUrl("team-a", "r1-agent") });
    await assert.rejects(sdk.getTask({ tenant: "", id: "t", historyLength: undefined }), (err: unknown) => {
      return err instanceof Error && err.constructor === Error && err.message === "HTTP error for tasks/get! Status: 401 Unauthorized. Response: Unauthorized\n";
    });
  } finally {
    await kagent.close();
  }
});

test("the SDK client does not fall back to message/send when an agent cannot stream (agentgate's client does)", async () => {
  const kagent = await startFakeKagent({ defaultScript: { streaming: false } });
  try {
    const sdk = new LegacyJsonRpcTransport({ endpoint: kagent.agentUrl("team-a", "r1-agent") });
    await assert.rejects(async () => {
      for await (const ev of sdk.sendMessageStream({ tenant: "", message: goal(), configuration: undefined, metadata: undefined })) assert.fail(`no event expected, got ${String(ev.payload?.$case)}`);
    }, (err: unknown) => (err as { envelopeCode?: number }).envelopeCode === -32004);
  } finally {
    await kagent.close();
  }
});
