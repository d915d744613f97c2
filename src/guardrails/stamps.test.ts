// The stamps themselves: every annotation and the label, with their exact values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STAMP, type Guardrails } from "../types/agent.ts";
import { computeStamps, parseGuardrails } from "./stamps.ts";

const guardrails: Guardrails = {
  tokenBudget: 1000,
  timeout: "5m",
  maxIterations: 3,
  networkPolicy: "strict",
  egress: [],
  rbac: [],
  approval: { required: false, approverGroups: ["agent-approvers"] },
  tools: [],
};

test("computeStamps: creator, policy revision, guardrails JSON, the snapshot and the config label", () => {
  assert.deepEqual(computeStamps("alice", "default@r1,team-a@7", "writer", guardrails, "{}"), {
    annotations: { [STAMP.createdBy]: "alice", [STAMP.policyRevision]: "default@r1,team-a@7", [STAMP.guardrails]: JSON.stringify(guardrails), [STAMP.snapshot]: "{}" },
    labels: { [STAMP.configLabel]: "writer" },
  });
});

const labelCases: [string, string, string][] = [
  ["a valid name is kept", "writer.v2_a-b", "writer.v2_a-b"],
  ["characters a label value cannot hold become dashes", "team/writer:v2", "team-writer-v2"],
  ["cut to 63 characters", "a".repeat(70), "a".repeat(63)],
  ["no leading or trailing non-alphanumerics", "-_.writer._-", "writer"],
  ["trimmed again after the cut", `${"a".repeat(62)}-b`, "a".repeat(62)],
];
for (const [name, configName, want] of labelCases) {
  test(`computeStamps config label: ${name}`, () => {
    assert.equal(computeStamps("u", "r", configName, guardrails, "{}").labels[STAMP.configLabel], want);
  });
}

test("parseGuardrails: the stamped JSON object, else undefined (missing, not JSON, not an object)", () => {
  assert.deepEqual(parseGuardrails(JSON.stringify(guardrails)), guardrails);
  for (const bad of [undefined, "{oops", "5", "null", '"text"', "{}", "[]"]) assert.equal(parseGuardrails(bad), undefined, String(bad));
  for (const [field, value] of [["tokenBudget", "1000"], ["networkPolicy", "open"], ["rbac", {}], ["approval", null], ["approval", { required: true }], ["tools", undefined]] as const) {
    assert.equal(parseGuardrails(JSON.stringify({ ...guardrails, [field]: value })), undefined, `${field}: ${JSON.stringify(value)}`);
  }
});
