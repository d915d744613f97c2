// TEP-0164's Gate 1 example rule, logic unchanged, through kubectl and a
// real kube-apiserver: built as a platform team builds a goal-only bundle
// (no -e; Rego v0 with --v0-compatible), loaded beside the default bundle,
// judged on every AgentRun created (docs/policy-contract.md, "The goal
// input (Gate 1)").
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { buildBundle } from "../../src/cli/bundle.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { webhookConfigurations } from "../../src/gateway/webhooks.ts";
import { logger } from "../../src/log.ts";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { tektonCrdDir } from "../support/tekton.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const GW_NS = "agentgate-system";
const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

let cp: ControlPlane;
let dir = "";

const config = (name: string, requireApproval: string[], ns: string) => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name, namespace: ns },
  spec: { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_apply_manifest", "k8s_get_resources"], requireApproval }] },
});
const run = (name: string, configName: string, ns: string) => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name, namespace: ns }, spec: { configRef: { name: configName }, goal: "write tests for refund()" } });

before(async () => {
  logger.level = "error";
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds"), join(ROOT, "test/support/crds")], serverSideCrds: [tektonCrdDir()] });
  dir = await mkdtemp(join(tmpdir(), "agentgate-gate1-"));
  // The default bundle judges the configs; this tuning lets write tools through it, so Gate 1 is what decides.
  await writeFile(join(dir, "policy-config.yaml"), stringify({ tools: { servers: [{ kind: "RemoteMCPServer", namespace: "kagent", name: "kagent-tool-server", url: "http://kagent-tools.kagent:8084/mcp", tools: ["k8s_*"] }], requireApproval: [] } }));
  await cp.applyYaml(
    yaml(
      ...["qe", "prod", "kagent"].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
      { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", description: "kagent tools", allowedNamespaces: { from: "All" } } },
      ...["qe", "prod"].map((ns) => ({ apiVersion: "kagent.dev/v1alpha2", kind: "ModelConfig", metadata: { name: "claude", namespace: ns }, spec: { provider: "Anthropic", model: "claude-3-5-sonnet", apiKeySecret: "k", apiKeySecretKey: "k" } })),
    ),
  );
});

after(async () => {
  await cp?.stop();
});

for (const [style, source, v0] of [["Rego v1", "v1", false], ["the TEP's own v0 style", "v0", true]] as const) {
  describe(`TEP-0164's Gate 1 rule in ${style}, through kubectl`, () => {
    let gateway: RunningGateway;
    const suffix = source;

    before(async () => {
      const built = join(dir, `gate1-${source}.tar.gz`);
      await buildBundle(join(ROOT, "examples/tep-gate1", source), { output: built, entrypoint: [], ...(v0 ? { v0Compatible: true } : {}) });
      gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [join(ROOT, "policies/bundle.tar.gz"), built], policyConfig: join(dir, "policy-config.yaml"), kubeconfig: cp.kubeconfigPath, offline: false, namespace: GW_NS, serviceAccount: `system:serviceaccount:${GW_NS}:agentgate`, trustedUser: [], drainSeconds: 0 });
      const hooks = webhookConfigurations({ name: "agentgate", target: { url: `https://127.0.0.1:${gateway.port}`, caBundle: gateway.caCert ?? "" }, exemptNamespaces: ["kube-system", GW_NS], timeoutSeconds: 5 });
      await cp.applyYaml(yaml(hooks.validating, hooks.mutating));
      // Registered webhooks take a moment to be called: wait until a config is judged by this gateway.
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
        const r = await cp.kubectl(["apply", "-f", "-"], { stdin: yaml(config(`careful-${suffix}`, ["k8s_apply_manifest"], "qe"), config(`reckless-${suffix}`, [], "qe"), config(`careful-${suffix}`, ["k8s_apply_manifest"], "prod")), allowFail: true });
        if (r.code === 0) break;
      }
    });

    after(async () => {
      await gateway?.close();
    });

    test("a write tool with requireApproval: the run is admitted", async () => {
      const r = await cp.kubectl(["apply", "-f", "-"], { stdin: yaml(run(`ok-${suffix}`, `careful-${suffix}`, "qe")), allowFail: true });
      assert.equal(r.code, 0, r.stderr);
    });

    test("a write tool without it: denied with the TEP's own message", async () => {
      const r = await cp.kubectl(["apply", "-f", "-"], { stdin: yaml(run(`no-${suffix}`, `reckless-${suffix}`, "qe")), allowFail: true });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /admission webhook "[^"]+" denied the request: \[goal-policy\] spec\.goal: write tool k8s_apply_manifest must have requireApproval set/);
    });

    test("a namespace the rule does not list: not allowed, naming the bundle", async () => {
      const r = await cp.kubectl(["apply", "-f", "-"], { stdin: yaml(run(`prod-${suffix}`, `careful-${suffix}`, "prod")), allowFail: true });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`\\[goal-policy\\] spec\\.goal: the goal is not allowed by bundle "gate1-${source}"`));
    });
  });
}
