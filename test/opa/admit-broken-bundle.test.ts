// admit() with a team bundle whose wasm aborts: the gateway fails closed on
// the mutating webhook too. Beside src/gateway/admit.test.ts's cases, here
// because the failing bundle is built from Rego by the real opa.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { StaticLookup } from "../../src/context/static-lookup.ts";
import { admit, type GatewayDeps } from "../../src/gateway/admit.ts";
import { exemptNamespaces } from "../../src/gateway/exemptions.ts";
import { makeIdentity } from "../../src/guardrails/identity.ts";
import { readBundle } from "../../src/policy/bundle.ts";
import { PolicyEngine } from "../../src/policy/engine.ts";
import { ephemeralKeyring } from "../../src/signing/keyring.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import { requestFromManifest } from "../../src/wire/from-manifest.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

let deps: GatewayDeps;
before(async () => {
  // Two complete-rule values for the same object: a conflict the wasm aborts on.
  const rego = `package agentgate
violations contains v if { v := {"policy": "p", "field": "", "message": "m", "action": "deny"}; input.request.object.spec.x == "never" }
defaults := {"spec": {"a": 1}} if input.request.object.spec.x == "boom"
defaults := {"spec": {"a": 2}} if input.request.object.spec.x == "boom"
`;
  const broken = await PolicyEngine.load([await readBundle(await buildTestBundle({ "p.rego": rego }, { name: "broken", entrypoints: ["agentgate/violations", "agentgate/defaults"] }))]);
  const qe: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "qe", labels: {} } };
  deps = { engine: () => broken, lookup: new StaticLookup([qe]), identity: makeIdentity(["system:serviceaccount:agentgate-system:agentgate"]), exemptNamespaces: exemptNamespaces("agentgate-system"), keyring: ephemeralKeyring() };
});

const agentConfig = (x: string): KubeObject => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name: "writer", namespace: "qe" },
  spec: { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }], x },
});
const create = (object: KubeObject) => requestFromManifest(object, { operation: "CREATE", user: { username: "alice", groups: ["developers", "system:authenticated"] } });

test("mutate: a defaults error is a policy-evaluation denial, not a silent pass", async () => {
  const decision = await admit(create(agentConfig("boom")), deps, "mutate");
  assert.equal(decision.allowed, false);
  assert.deepEqual(decision.violations.map((v) => `${v.policy} ${v.field}`), ['policy-evaluation bundle "broken"']);
  assert.equal(decision.failures.length, 1);
  assert.deepEqual(decision.patch, []);
  const fine = await admit(create(agentConfig("fine")), deps, "mutate");
  assert.equal(fine.allowed, true, JSON.stringify(fine.violations));
});
