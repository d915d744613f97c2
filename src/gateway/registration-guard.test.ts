import { test } from "node:test";
import assert from "node:assert/strict";
import { registrationProblem } from "./registration-guard.ts";
import { WEBHOOKS } from "./webhooks.ts";

const of = (type: "validating" | "mutating", policy: (name: string) => string | undefined = () => undefined) => ({
  webhooks: WEBHOOKS.filter((w) => w.type === type).map((w) => ({ name: w.name, failurePolicy: policy(w.name) ?? (w.failurePolicy === "Ignore" ? "Ignore" : "Fail") })),
});

test("both configurations with every webhook, failing closed: signing allowed", () => {
  assert.equal(registrationProblem("agentgate", of("validating"), of("mutating")), undefined);
});

test("a configuration removed (the emergency exit): blocked, naming it", () => {
  assert.equal(registrationProblem("agentgate", null, of("mutating")), 'ValidatingWebhookConfiguration "agentgate" does not exist');
  assert.equal(registrationProblem("agentgate", of("validating"), null), 'MutatingWebhookConfiguration "agentgate" does not exist');
});

test("a webhook failing open: blocked, with the fix", () => {
  const got = registrationProblem("agentgate", of("validating", (n) => (n === "validate.agent.tekton.dev" ? "Ignore" : undefined)), of("mutating"));
  assert.equal(got, 'webhook validate.agent.tekton.dev of ValidatingWebhookConfiguration "agentgate" fails open (failurePolicy Ignore); set webhook.failurePolicy back to Fail');
});

test("a webhook missing: blocked", () => {
  const validating = of("validating");
  validating.webhooks = validating.webhooks.filter((w) => w.name !== "creators.agent.tekton.dev");
  assert.equal(registrationProblem("agentgate", validating, of("mutating")), 'ValidatingWebhookConfiguration "agentgate" has no webhook creators.agent.tekton.dev');
});

test("the PipelineRun webhook fails open by design and blocks nothing", () => {
  assert.equal(registrationProblem("agentgate", of("validating"), of("mutating", (n) => (n === "pipelineruns.agent.tekton.dev" ? "Ignore" : undefined))), undefined);
});
