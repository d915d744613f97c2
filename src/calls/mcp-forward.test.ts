import assert from "node:assert/strict";
import test from "node:test";
import { answerTo, messagesOf, narrowToolList } from "./mcp-forward.ts";

test("an SSE answer is read for the response to the request's id, past notifications", () => {
  const body = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\nevent: message\ndata: {"jsonrpc":"2.0","id":7,"result":{"tools":[]}}\n\n';
  const messages = messagesOf("text/event-stream", body);
  assert.equal(messages.length, 2);
  assert.deepEqual(answerTo(messages, 7), { jsonrpc: "2.0", id: 7, result: { tools: [] } });
  assert.equal(answerTo(messages, 8), undefined);
  assert.deepEqual(messagesOf("application/json", '{"jsonrpc":"2.0","id":1,"result":{}}'), [{ jsonrpc: "2.0", id: 1, result: {} }]);
  assert.deepEqual(messagesOf("application/json", "not json"), []);
});

test("tools/list is narrowed to the run's allowlist", () => {
  const answer = { jsonrpc: "2.0", id: 1, result: { tools: [{ name: "read_file" }, { name: "delete_repo" }, { name: "write_file" }, { bogus: true }] } };
  assert.deepEqual(narrowToolList(answer, ["read_file", "write_file"]), { jsonrpc: "2.0", id: 1, result: { tools: [{ name: "read_file" }, { name: "write_file" }] } });
});
