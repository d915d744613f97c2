// serve's self-managed certificate flags: durations parsed here, and what
// src/certs/self-managed.ts refuses by config field worded by flag.
import { test } from "node:test";
import assert from "node:assert/strict";
import { planSelfManagedFlags } from "./cert-flags.ts";
import { CertConfigError, planSelfManaged } from "../certs/self-managed.ts";

const flags = { certSecret: "agentgate-system/agentgate-tls", namespace: "agentgate-system" };

test("the flags make the plan: hosts of the Service, validities in ms", () => {
  const plan = planSelfManagedFlags({ ...flags, certHost: ["gw.example"], webhookConfig: ["mutating/agentgate"], certValidity: "20s" });
  assert.deepEqual(plan.secret, { namespace: "agentgate-system", name: "agentgate-tls" });
  assert.ok(plan.policy.hosts.includes("agentgate.agentgate-system.svc") && plan.policy.hosts.includes("gw.example"));
  assert.equal(plan.policy.servingValidityMs, 20_000);
  assert.equal(plan.policy.caValidityMs, 87_600 * 3_600_000);
  assert.deepEqual(plan.webhookConfigs, [{ kinds: ["mutating"], name: "agentgate" }]);
});

test("each mistake is one line naming the flag as given", () => {
  const bad: [Parameters<typeof planSelfManagedFlags>[0], string][] = [
    [{ ...flags, certValidity: "soon" }, '--cert-validity "soon": expected a duration such as 8760h, 30m or 20s'],
    [{ ...flags, caValidity: "5s" }, '--ca-validity "5s": must be at least 10s'],
    [{ ...flags, certSecret: "just-a-name" }, '--cert-secret "just-a-name": expected NAMESPACE/NAME, e.g. agentgate-system/agentgate-tls'],
    [{ ...flags, certHost: ["bad host"] }, '--cert-host "bad host": not a DNS name or IP address'],
    [{ ...flags, certService: "bad_svc!" }, '--cert-service "bad_svc!": not a DNS name or IP address'],
    [{ ...flags, webhookConfig: ["Bad_Name"] }, '--webhook-config "Bad_Name": expected NAME, validating/NAME or mutating/NAME (a DNS subdomain name)'],
  ];
  for (const [given, message] of bad) assert.throws(() => planSelfManagedFlags(given), { name: "UsageError", kind: "usage", message });
});

test("the domain names the config field, not a flag", () => {
  const config = { secret: "ns/name", service: "agentgate", extraHosts: [], webhookConfigs: [], servingValidityMs: 5000, caValidityMs: 3_600_000, namespace: "ns" };
  assert.throws(() => planSelfManaged(config), (err: unknown) => err instanceof CertConfigError && err.field === "servingValidityMs" && err.message === 'servingValidityMs "5000": must be at least 10s');
});
