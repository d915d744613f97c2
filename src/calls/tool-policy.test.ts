import assert from "node:assert/strict";
import test from "node:test";
import type { ViolationsOutcome } from "../policy/engine.ts";
import type { Guardrails } from "../types/agent.ts";
import type { ToolCallJudge } from "./call-context.ts";
import type { TraceEntry } from "./ledger.ts";
import type { ActingRun } from "./run-record.ts";
import { CALLS_IN_INPUT, judgeToolCall, stampedServer, toolCallInput } from "./tool-policy.ts";

const guardrails: Guardrails = { tokenBudget: 100, timeout: "10m", maxIterations: 5, networkPolicy: "strict", egress: [], rbac: [], approval: { required: false, approverGroups: [] }, tools: [{ server: "tools/fs", kind: "RemoteMCPServer", allowedTools: ["read_file", "write_file"], requireApproval: ["write_file"] }] };
const run: ActingRun = { namespace: "ci", name: "r1", uid: "u1", config: "writer", guardrails, snapshot: { config: { name: "writer", spec: {} }, modelConfig: null, toolServers: {} }, policyRevision: "default@1" };
const server = guardrails.tools[0] ?? assert.fail();

/** A judge answering a fixed outcome, remembering what it was asked. */
function judge(outcome: ViolationsOutcome): ToolCallJudge & { inputs: unknown[] } {
  const inputs: unknown[] = [];
  return { inputs, toolCall: (input) => (inputs.push(input), outcome) };
}
const clean: ViolationsOutcome = { violations: [], failures: [] };

test("only the servers the decision names are stamped servers", () => {
  assert.equal(stampedServer(guardrails, "tools/fs"), server);
  assert.equal(stampedServer(guardrails, "tools/other"), undefined);
});

test("a tool outside the allowlist is refused before policy is asked", () => {
  const j = judge(clean);
  const v = judgeToolCall(j, run, server, "delete_repo", {}, []);
  assert.deepEqual(v, { allowed: false, reason: 'tool "delete_repo" of tools/fs is not in this run\'s allowlist (allowed: read_file, write_file); it was not called' });
  assert.equal(j.inputs.length, 0);
});

test("an allowlisted tool is allowed when no bundle objects, refused with every reason when one does", () => {
  assert.deepEqual(judgeToolCall(judge(clean), run, server, "read_file", { path: "a" }, []), { allowed: true });
  const v = judgeToolCall(judge({ violations: [{ policy: "tool-call", field: "tools/call", message: "no /etc", action: "deny" }, { policy: "tool-call", field: "tools/call", message: "no root", action: "deny" }], failures: [] }), run, server, "write_file", { path: "/etc/x" }, []);
  assert.deepEqual(v, { allowed: false, reason: 'policy refused this call of "write_file": no /etc; no root' });
});

test("a bundle that cannot answer refuses the call, without its error text", () => {
  const v = judgeToolCall(judge({ violations: [], failures: [{ bundle: "team", revision: "r1", error: "eval_conflict_error at secret.rego:3" }] }), run, server, "read_file", {}, []);
  assert.equal(v.allowed, false);
  assert.match(v.allowed ? "" : v.reason, /bundle "team" failed/);
  assert.doesNotMatch(v.allowed ? "" : v.reason, /secret\.rego/);
});

test("the policy input: the run, the server, the tool, its arguments and the latest tool calls only", () => {
  const call = (seq: number, kind: "tool" | "model"): TraceEntry => ({ seq, at: "t", kind, server: "tools/fs", tool: "read_file", inputSha256: `d${seq}`, verdict: "allowed", ms: 1 });
  const calls = [...Array.from({ length: CALLS_IN_INPUT + 5 }, (_, i) => call(i + 1, "tool")), call(999, "model")];
  const input = toolCallInput(run, server, "write_file", { path: "x" }, calls) as { run: Record<string, unknown>; server: Record<string, unknown>; tool: string; arguments: unknown; calls: { seq: number }[] };
  assert.deepEqual(input.run, { namespace: "ci", name: "r1", config: "writer", guardrails, policyRevision: "default@1" });
  assert.deepEqual(input.server, { name: "tools/fs", kind: "RemoteMCPServer", allowedTools: ["read_file", "write_file"], requireApproval: ["write_file"] });
  assert.equal(input.tool, "write_file");
  assert.deepEqual(input.arguments, { path: "x" });
  assert.equal(input.calls.length, CALLS_IN_INPUT);
  assert.deepEqual([input.calls[0]?.seq, input.calls.at(-1)?.seq], [6, CALLS_IN_INPUT + 5], "the newest, model calls left out");
});
