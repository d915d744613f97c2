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

test("RegistrationGuard: blocked until read; a 404, an unreadable configuration, or one failing open blocks; a good read unblocks", async () => {
  const { RegistrationGuard } = await import("./registration-guard.ts");
  const { logger } = await import("../log.ts");
  let answer: (kind: "validating" | "mutating") => Promise<{ webhooks: { name: string; failurePolicy: string }[] } | null> = (kind) => Promise.resolve(of(kind));
  const guard = new RegistrationGuard((kind) => answer(kind), "agentgate", logger);
  assert.match(guard.blocked() ?? "", /have not been read yet/);
  await guard.check();
  assert.equal(guard.blocked(), undefined);
  answer = (kind) => Promise.resolve(kind === "validating" ? null : of(kind));
  await guard.check();
  assert.equal(guard.blocked(), 'agentgate signs nothing while its webhooks do not guard every write: ValidatingWebhookConfiguration "agentgate" does not exist');
  answer = () => Promise.reject(new Error("connect ECONNREFUSED 10.0.0.1:443\n  at somewhere"));
  await guard.check();
  assert.equal(guard.blocked(), 'agentgate signs nothing while its webhooks do not guard every write: cannot read webhook configuration "agentgate": connect ECONNREFUSED 10.0.0.1:443');
  answer = (kind) => Promise.resolve(of(kind, (n) => (n === "mutate.agent.tekton.dev" ? "Ignore" : undefined)));
  await guard.check();
  assert.match(guard.blocked() ?? "", /webhook mutate\.agent\.tekton\.dev of MutatingWebhookConfiguration "agentgate" fails open/);
  answer = (kind) => Promise.resolve(of(kind));
  await guard.check();
  assert.equal(guard.blocked(), undefined);
});
