// A policy config that does not match the bundle's data.agentgate.config_schema,
// as a user meets it: `agentgate review` and `bundle check` (the real
// executable) exit 2 with one line saying what is wrong, and `serve` starts
// but is not ready, its /readyz saying the same. The bundle is built from the
// default bundle's schema (policies/agentgate/config_schema/data.json) and a
// config of the target key set written here, with a rule that finds nothing:
// what is tested is the config check, not the Rego.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { startGateway } from "../../src/cli/serve.ts";
import { buildTestBundle } from "../fixtures/bundles.ts";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));
const SCHEMA = fileURLToPath(new URL("../../policies/agentgate/config_schema/data.json", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../examples/agentconfig-allowed.yaml", import.meta.url));

const config = {
  models: { allowed: [{ provider: "Anthropic", model: "claude-*" }], maxTokensPerCall: 8192, requiredBaseUrlPrefix: "" },
  tools: { servers: [{ kind: "RemoteMCPServer", namespace: "kagent", name: "kagent-tool-server", tools: ["k8s_get_*"] }], requireApproval: ["*delete*"] },
  budgets: { defaultTokenBudget: 100000, maxTokenBudget: 500000, defaultTimeout: "15m", maxTimeout: "1h", defaultMaxIterations: 5, maxIterations: 20 },
  rbac: { allowed: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] },
  network: { allowPermissive: false },
  approval: { approverGroups: ["agent-approvers"] },
  kagent: { allowBYO: false },
  profiles: {},
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function agentgate(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => { resolve({ code, stdout, stderr }); });
  });
}

let dir = "";
let bundle = "";
const file = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-cli-config-"));
  // Named default, as the embedded bundle is: its messages name no bundle.
  bundle = await buildTestBundle(
    {
      "p.rego": "package agentgate\n\nviolations := set()\n",
      // Gate 1 (without a goal policy no run is admitted): any goal
      "g.rego": "package agent.goals\n\nallow := true\n",
      "agentgate/config/data.json": JSON.stringify(config),
      "agentgate/config_schema/data.json": await readFile(SCHEMA, "utf8"),
    },
    { entrypoints: ["agentgate/violations", "agent/goals/allow"], name: "default", revision: "r1" },
  );
  await writeFile(file("set-string.yaml"), stringify({ budgets: { maxTokenBudget: "500000" } }));
  await writeFile(file("old-keys.yaml"), stringify({ budget: { maxTimeout: "2h" }, rbac: { forbiddenVerbs: ["*"] }, profiles: { rollout: { enforcement: "warning", namespaces: ["team-a"] } } }));
  await writeFile(file("good.yaml"), stringify({ budgets: { maxTokenBudget: 200000, maxTimeout: "2h" }, profiles: { rollout: { enforcement: "warn", namespaces: ["team-*"] } } }));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(dirname(bundle), { recursive: true, force: true });
});

const SET_STRING = 'agentgate: policy config: budgets.maxTokenBudget is "500000" (a string); expected an integer ≥ 1 — in Helm use --set, not --set-string\n';
const OLD_KEYS =
  "agentgate: policy config: budget is not a known key (did you mean budgets?); known keys: approval, budgets, goals, hooks, kagent, models, network, profiles, rbac, tools; " +
  'profiles.rollout.enforcement is "warning"; expected one of warn, dryrun, deny (did you mean warn?); ' +
  "rbac.forbiddenVerbs is no longer a key: rbac.forbiddenVerbs and rbac.forbiddenResources were replaced by rbac.allowed, an allowlist of {apiGroups, resources, verbs} an agent run may be granted; list what agents may have instead of what they may not, and remove this key\n";

describe("a policy config its schema refuses", () => {
  const cases = [
    { name: "review, a number as a string", args: () => ["review", "--bundle", bundle, "--no-default-bundle", "--policy-config", file("set-string.yaml"), "-f", EXAMPLE], stderr: SET_STRING },
    { name: "review, a misspelt key, a bad enforcement and a removed key", args: () => ["review", "--bundle", bundle, "--no-default-bundle", "--policy-config", file("old-keys.yaml"), "-f", EXAMPLE], stderr: OLD_KEYS },
    { name: "bundle check, a number as a string", args: () => ["bundle", "check", bundle, "--policy-config", file("set-string.yaml")], stderr: SET_STRING },
    { name: "bundle check, a misspelt key, a bad enforcement and a removed key", args: () => ["bundle", "check", bundle, "--policy-config", file("old-keys.yaml")], stderr: OLD_KEYS },
  ];
  for (const c of cases) {
    test(`${c.name}: exit 2, one line`, async () => {
      const r = await agentgate(c.args());
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr, c.stderr);
    });
  }

  test("a valid partial config: review admits, bundle check says the config matches its schema", async () => {
    const review = await agentgate(["review", "--bundle", bundle, "--no-default-bundle", "--policy-config", file("good.yaml"), "-f", EXAMPLE]);
    assert.equal(review.code, 0, review.stderr);
    assert.equal(review.stderr, "");
    const check = await agentgate(["bundle", "check", bundle, "--policy-config", file("good.yaml")]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /; policy config matches data\.agentgate\.config_schema\n$/);
  });

  test("serve starts, not ready, and /readyz says why", async () => {
    const gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [bundle], defaultBundle: false, policyConfig: file("set-string.yaml"), bundleCacheDir: "", offline: true, namespace: "agentgate-system", serviceAccount: "system:serviceaccount:agentgate-system:agentgate", trustedUser: [], drainSeconds: 0 });
    try {
      const ready = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get({ host: "127.0.0.1", port: gateway.port, path: "/readyz", ca: gateway.caCert, agent: false }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (s: string) => (body += s));
          res.on("end", () => { resolve({ status: res.statusCode ?? 0, body }); });
        }).on("error", reject);
      });
      assert.equal(ready.status, 503);
      assert.equal(ready.body, `not ready: no policy bundle in force yet; default (${bundle}): ${SET_STRING.replace(/^agentgate: /, "")}`);
    } finally {
      await gateway.close();
    }
  });
});

test("review refuses a bundle with its own config stacked on the default, naming the flag that replaces the default", async () => {
  const r = await agentgate(["review", "--bundle", bundle, "-f", EXAMPLE]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /the bundle carries its own data\.agentgate\.config while stacked on the default bundle.*give --no-default-bundle \(Helm: policy\.defaultBundle: false\);/);
});
