import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_REDACTIONS, redact } from "./decision-log.ts";

test("goals, prompts and last-applied copies are erased and listed as OPA's erased pointers; everything else is kept", () => {
  const input = {
    request: {
      uid: "u",
      object: {
        metadata: { name: "r", annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{...goal...}", keep: "me" } },
        spec: { goal: "secret plan", tokenBudget: 5, context: { hints: ["h"] } },
      },
    },
    context: { agentConfig: { spec: { systemPrompt: "p", tokenBudget: 9 } } },
  };
  const { value, erased } = redact(input, DEFAULT_REDACTIONS);
  assert.deepEqual(value, {
    request: { uid: "u", object: { metadata: { name: "r", annotations: { keep: "me" } }, spec: { tokenBudget: 5, context: {} } } },
    context: { agentConfig: { spec: { tokenBudget: 9 } } },
  });
  assert.deepEqual(erased, [
    "/input/request/object/spec/goal",
    "/input/request/object/spec/context/hints",
    "/input/request/object/metadata/annotations/kubectl.kubernetes.io%2Flast-applied-configuration",
    "/input/context/agentConfig/spec/systemPrompt",
  ]);
  assert.equal(input.request.object.spec.goal, "secret plan", "the input itself is not changed");
});

test("absent paths are left alone and not listed", () => {
  assert.deepEqual(redact({ request: { object: null } }, DEFAULT_REDACTIONS), { value: { request: { object: null } }, erased: [] });
});
