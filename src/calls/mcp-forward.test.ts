import assert from "node:assert/strict";
import test from "node:test";
import { answerTo, asMessage, messagesOf, narrowToolList, whyNotForwarded } from "./mcp-forward.ts";

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

test("only lifecycle, tools and notifications are forwarded; resources, prompts and the unknown are not", () => {
  const m = (method: string) => asMessage({ jsonrpc: "2.0", id: 1, method }) ?? assert.fail(method);
  for (const ok of ["initialize", "ping", "tools/list", "tools/call", "notifications/initialized", "notifications/cancelled"]) assert.equal(whyNotForwarded(m(ok)), undefined, ok);
  for (const no of ["resources/read", "prompts/get", "Tools/Call", "tools/call ", "sampling/createMessage", "completion/complete"]) assert.match(whyNotForwarded(m(no)) ?? "", /is not forwarded/, no);
  assert.equal(whyNotForwarded(asMessage({ jsonrpc: "2.0", id: 4, result: {} }) ?? assert.fail()), undefined, "an answer to the server's own request passes");
});

test("what is no JSON-RPC 2.0 message is not read as one", () => {
  for (const bad of [null, 7, "x", {}, { jsonrpc: "1.0", method: "ping" }, { jsonrpc: "2.0", method: 5 }, { jsonrpc: "2.0", method: "tools/call", params: [] }, { jsonrpc: "2.0", id: 1 }]) assert.equal(asMessage(bad), undefined, JSON.stringify(bad));
});
