import assert from "node:assert/strict";
import test from "node:test";
import { parseRoute } from "./server.ts";

test("routes: a run's MCP server and its model API", () => {
  assert.deepEqual(parseRoute("/v1/runs/ci/fix-1/mcp/tools/fs"), { kind: "mcp", namespace: "ci", run: "fix-1", server: "tools/fs" });
  assert.deepEqual(parseRoute("/v1/runs/ci/fix-1/model/chat/completions?x=1"), { kind: "model", namespace: "ci", run: "fix-1", path: "chat/completions" });
  assert.deepEqual(parseRoute("/v1/runs/ci/fix-1/model/v1/messages"), { kind: "model", namespace: "ci", run: "fix-1", path: "v1/messages" });
});

test("anything else is no route: traversal, upper case, missing parts", () => {
  for (const bad of ["/", "/v1/runs/ci/fix-1", "/v1/runs/ci/fix-1/mcp/tools", "/v1/runs/CI/r/model/x", "/v1/runs/ci/r/model/../../admin", "/v1/runs/ci/r/model/a/./b", "/v1/runs/ci/r/mcp/tools/fs/extra"]) {
    assert.equal(parseRoute(bad), undefined, bad);
  }
});
