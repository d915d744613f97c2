import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_REDACTIONS, redact } from "./decision-log.ts";

test("goals, prompts and last-applied copies are redacted; everything else is kept", () => {
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
  const out = redact(input, DEFAULT_REDACTIONS) as typeof input;
  assert.equal(out.request.object.spec.goal, "[redacted]");
  assert.deepEqual(out.request.object.spec.context.hints, "[redacted]");
  assert.equal(out.request.object.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"], "[redacted]");
  assert.equal(out.request.object.metadata.annotations.keep, "me");
  assert.equal(out.request.object.spec.tokenBudget, 5);
  assert.equal(out.context.agentConfig.spec.systemPrompt, "[redacted]");
  assert.equal(input.request.object.spec.goal, "secret plan", "the input itself is not changed");
});

test("absent paths are left alone", () => {
  assert.deepEqual(redact({ request: { object: null } }, DEFAULT_REDACTIONS), { request: { object: null } });
});
