// driver.cancel with the run's goal message, against the stand-in kagent
// (test/support/a2a-server.ts): a task on an Agent shared within a
// PipelineRun is cancelled only once its history opens with that message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import winston from "winston";
import { startFakeKagent } from "../support/a2a-server.ts";
import { A2AClient, userMessage } from "../../src/controller/a2a/client.ts";
import { ForeignTaskError } from "../../src/controller/a2a/run.ts";
import { A2ADriver } from "../../src/controller/a2a-driver.ts";

const quiet = winston.createLogger({ silent: true });
const AGENT = { namespace: "qe", name: "share-0123456789abcdef0123-agent" };

test("driver.cancel with a goal message: another goal's task is refused (ForeignTaskError) and runs on; the run's own is cancelled", async () => {
  const kagent = await startFakeKagent({ runtime: "go", defaultScript: { llmCalls: 50, stepDelayMs: 100 } });
  try {
    const client = new A2AClient(kagent.agentUrl(AGENT.namespace, AGENT.name));
    const goal = `u1-attempt-1-${randomUUID()}`;
    let taskId = "";
    for await (const ev of client.send(userMessage("go", { messageId: goal }), { stream: true })) {
      if (ev.kind === "task") taskId = ev.id;
      break;
    }
    assert.notEqual(taskId, "");
    const driver = new A2ADriver(kagent.url, quiet);
    await assert.rejects(driver.cancel(AGENT, taskId, "u2-attempt-1"), (err: unknown) => err instanceof ForeignTaskError && err.taskId === taskId);
    assert.notEqual(kagent.task(taskId)?.status.state, "canceled", "another run's goal: left alone");
    await driver.cancel(AGENT, taskId, goal);
    assert.equal(kagent.task(taskId)?.status.state, "canceled");
  } finally {
    await kagent.close();
  }
});
