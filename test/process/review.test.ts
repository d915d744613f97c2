// `agentgate review` as a user runs it: the real executable (bin/agentgate.js
// on the project's Node), real files, stdin, stdout bytes and exit status.
// --admission-review is compared byte for byte with what `agentgate serve`
// answers for the same AdmissionReview.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { defaultNamespace, defaultServiceAccount } from "../../src/cli/environment.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { PROFILE_LABEL, STAMP } from "../../src/types/agent.ts";
import type { AdmissionRequest, UserInfo } from "../../src/types/admission.ts";
import type { KubeObject } from "../../src/types/kube.ts";
import { requestFromManifest } from "../../src/wire/from-manifest.ts";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI in a child process (env without POD_NAMESPACE, so the defaults are serve's defaults). */
function agentgate(args: string[], stdin = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.POD_NAMESPACE;
    delete env.POD_SERVICE_ACCOUNT;
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const yaml = (...docs: unknown[]) => docs.map((d) => stringify(d)).join("---\n");

const modelConfig = (name: string, model: string, provider = "Anthropic"): KubeObject => ({
  apiVersion: "kagent.dev/v1alpha2",
  kind: "ModelConfig",
  metadata: { name, namespace: "qe" },
  spec: { provider, model, apiKeySecret: "key", apiKeySecretKey: "key" },
});
const toolServer: KubeObject = { apiVersion: "kagent.dev/v1alpha2", kind: "RemoteMCPServer", metadata: { name: "kagent-tool-server", namespace: "kagent" }, spec: { url: "http://kagent-tools.kagent:8084/mcp", allowedNamespaces: { from: "All" } } };
const agentConfig = (name: string, spec: Record<string, unknown> = {}, ns = "qe"): KubeObject => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentConfig",
  metadata: { name, namespace: ns },
  spec: { modelConfigRef: { name: "claude" }, toolServers: [{ ref: { name: "kagent-tool-server", namespace: "kagent" }, allowedTools: ["k8s_get_resources"] }], ...spec },
});
const namespace = (name: string, profile: string): KubeObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { [PROFILE_LABEL]: profile } } });

const guardrails = JSON.stringify({ tokenBudget: 100000, timeout: "15m", maxIterations: 5, networkPolicy: "strict", egress: [], rbac: [], approval: { required: true, approverGroups: ["agent-approvers"] }, tools: [] });
const storedRun = (annotations: Record<string, string> = {}, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "agent.tekton.dev/v1alpha1",
  kind: "AgentRun",
  metadata: {
    name: "gated-1",
    namespace: "qe",
    annotations: { [STAMP.createdBy]: "alice", [STAMP.policyRevision]: "default@src-0", [STAMP.guardrails]: guardrails, ...annotations },
    labels: { [STAMP.configLabel]: "gated" },
  },
  spec: { configRef: { name: "gated" }, goal: "Write tests", ...spec },
});

let dir: string;
const file = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-review-"));
  await writeFile(file("models.yaml"), yaml(modelConfig("claude", "claude-3-5-sonnet-20241022"), toolServer));
  await writeFile(file("allowed.yaml"), yaml(modelConfig("claude", "claude-3-5-sonnet-20241022"), toolServer, agentConfig("writer", { tokenBudget: 200000 })));
  await writeFile(file("config-first.yaml"), yaml(agentConfig("writer"), modelConfig("claude", "claude-3-5-sonnet-20241022"), toolServer));
  await writeFile(file("config.yaml"), yaml(agentConfig("writer")));
  await writeFile(file("denied.yaml"), yaml(modelConfig("fast", "gpt-3.5-turbo", "OpenAI"), agentConfig("greedy", { modelConfigRef: { name: "fast" }, tokenBudget: 900000 })));
  await writeFile(file("list.json"), JSON.stringify({ apiVersion: "v1", kind: "List", items: [modelConfig("claude", "claude-3-5-sonnet-20241022"), toolServer, agentConfig("writer")] }));
  await writeFile(file("bad.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n");
  await writeFile(file("no-kind.yaml"), "apiVersion: v1\nmetadata: {name: x}\n");
  await writeFile(file("old-run.yaml"), yaml(storedRun()));
  await writeFile(file("approve-bob.yaml"), yaml(storedRun({ [STAMP.approvedBy]: "bob" })));
  await writeFile(file("approve-dave.yaml"), yaml(storedRun({ [STAMP.approvedBy]: "dave" })));
  await writeFile(file("approve-alice.yaml"), yaml(storedRun({ [STAMP.approvedBy]: "alice" })));
  await writeFile(file("new-goal.yaml"), yaml(storedRun({}, { goal: "Delete everything" })));
  await writeFile(file("profiles.yaml"), stringify({ profiles: { rollout: { enforcement: "warn", namespaces: ["rollout"] }, shadow: { enforcement: "dryrun", namespaces: ["shadow"] } } }));
  await writeFile(file("namespaces.yaml"), yaml(namespace("rollout", "rollout"), namespace("shadow", "shadow")));
  await writeFile(file("greedy-rollout.yaml"), yaml(agentConfig("greedy", { tokenBudget: 900000 }, "rollout")));
  await writeFile(file("greedy-shadow.yaml"), yaml(agentConfig("greedy", { tokenBudget: 900000 }, "shadow")));
  await writeFile(file("models-rollout-shadow.yaml"), yaml(...["rollout", "shadow"].map((ns) => ({ ...modelConfig("claude", "claude-3-5-sonnet-20241022"), metadata: { name: "claude", namespace: ns } })), toolServer));
  await writeFile(file("not-json.json"), "{ nope");
  // kubectl apply -f dir/: the files in name order, other files ignored
  await mkdir(file("dir"));
  await writeFile(file("dir/00-models.yaml"), yaml(modelConfig("claude", "claude-3-5-sonnet-20241022"), toolServer));
  await writeFile(file("dir/10-config.json"), JSON.stringify(agentConfig("writer")));
  await writeFile(file("dir/README.md"), "not a manifest\n");
  await mkdir(file("empty"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("-o json: the documented shape, one entry per document", () => {
  test("admitted documents: exact keys, the patch of defaults, exit 0", async () => {
    const r = await agentgate(["review", "-f", file("allowed.yaml"), "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(out.length, 3);
    for (const entry of out) assert.deepEqual(Object.keys(entry), ["kind", "namespace", "name", "allowed", "violations", "warnings", "patch"]);
    assert.deepEqual(out[0], { kind: "ModelConfig", namespace: "qe", name: "claude", allowed: true, violations: [], warnings: [], patch: [] });
    assert.deepEqual(out[1]?.kind, "RemoteMCPServer");
    const config = out[2] as { allowed: boolean; patch: { op: string; path: string; value: unknown }[] };
    assert.equal(config.allowed, true);
    assert.deepEqual(
      config.patch.map((p) => `${p.op} ${p.path} ${JSON.stringify(p.value)}`).sort(),
      ['add /spec/maxIterations 5', 'add /spec/networkPolicy "strict"', 'add /spec/timeout "15m"'],
      "defaults fill what is missing and keep the user's tokenBudget",
    );
  });

  test("a denied document: violations with exactly policy, field, message, action; exit 1", async () => {
    const r = await agentgate(["review", "-f", file("denied.yaml"), "-o", "json"]);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { kind: string; allowed: boolean; violations: Record<string, unknown>[]; warnings: string[] }[];
    assert.deepEqual(out.map((e) => `${e.kind} ${String(e.allowed)}`), ["ModelConfig false", "AgentConfig false"]);
    for (const e of out) {
      assert.ok(e.violations.length > 0);
      for (const v of e.violations) assert.deepEqual(Object.keys(v), ["policy", "field", "message", "action"]);
      assert.deepEqual(e.warnings, []);
    }
    const budget = out[1]?.violations.find((v) => v.policy === "token-budget");
    assert.deepEqual(budget, { policy: "token-budget", field: "spec.tokenBudget", message: "tokenBudget 900000 exceeds the maximum of 500000; set spec.tokenBudget to 500000 or less", action: "deny" });
  });
});

describe("-f DIR: a directory's manifests, as kubectl apply -f dir/ reads them", () => {
  test("its .yaml/.yml/.json files in name order, each admitted one context for the next", async () => {
    const r = await agentgate(["review", "-f", file("dir"), "-o", "json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { kind: string; name: string; allowed: boolean }[];
    assert.deepEqual(out.map((e) => `${e.kind}/${e.name} ${String(e.allowed)}`), ["ModelConfig/claude true", "RemoteMCPServer/kagent-tool-server true", "AgentConfig/writer true"]);
  });
});

describe("-o text: what kubectl apply would print", () => {
  test("denied: kubectl's error line, then one [policy-id] field: message line per finding", async () => {
    const r = await agentgate(["review", "-f", file("denied.yaml")]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "", "denials go to stderr, as kubectl prints them");
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(lines[0] ?? "", new RegExp(`^Error from server \\(Forbidden\\): error when creating "${file("denied.yaml")}": admission webhook "validate\\.agent\\.tekton\\.dev" denied the request: \\[model-allowlist\\] spec\\.model: ModelConfig "fast" uses OpenAI/gpt-3\\.5-turbo`));
    assert.ok(lines.includes("[token-budget] spec.tokenBudget: tokenBudget 900000 exceeds the maximum of 500000; set spec.tokenBudget to 500000 or less"), r.stderr);
  });

  test("admitted: one created line per agent object", async () => {
    const r = await agentgate(["review", "-f", file("allowed.yaml")]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "modelconfig.kagent.dev/claude created (admitted)\nremotemcpserver.kagent.dev/kagent-tool-server created (admitted)\nagentconfig.agent.tekton.dev/writer created (admitted)\n");
  });

  test("an object agentgate does not admit (a ConfigMap) gets one line saying so, exit 0", async () => {
    const r = await agentgate(["review", "-f", "-"], stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "qe" }, data: {} }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "configmap/settings: not an object agentgate admits (it judges AgentConfig, AgentRun, Agent, ModelConfig, RemoteMCPServer, MCPServer, and guards what a run is made of); nothing to review\n");
  });

  test("a warn profile: Warning: lines and exit 0", async () => {
    const r = await agentgate(["review", "-f", file("greedy-rollout.yaml"), "--cluster-objects", file("namespaces.yaml"), "--cluster-objects", file("models-rollout-shadow.yaml"), "--policy-config", file("profiles.yaml")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Warning: \[token-budget\] spec\.tokenBudget: tokenBudget 900000 exceeds the maximum of 500000/m);
    assert.match(r.stdout, /agentconfig\.agent\.tekton\.dev\/greedy created \(admitted\)/);
  });

  test("a dryrun profile: admitted silently, the finding only in -o json's violations", async () => {
    const args = ["review", "-f", file("greedy-shadow.yaml"), "--cluster-objects", file("namespaces.yaml"), "--cluster-objects", file("models-rollout-shadow.yaml"), "--policy-config", file("profiles.yaml")];
    const text = await agentgate(args);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, "agentconfig.agent.tekton.dev/greedy created (admitted)\n");
    const json = await agentgate([...args, "-o", "json"]);
    const [entry] = JSON.parse(json.stdout) as { violations: { policy: string; action: string }[]; warnings: string[] }[];
    assert.deepEqual(entry?.warnings, []);
    assert.deepEqual(entry?.violations.map((v) => `${v.policy} ${v.action}`), ["token-budget dryrun"]);
  });
});

describe("input: files, stdin, context", () => {
  test("context from the input's earlier documents: ModelConfig before AgentConfig is admitted", async () => {
    const r = await agentgate(["review", "-f", file("allowed.yaml")]);
    assert.equal(r.code, 0, r.stdout);
  });

  test("a ModelConfig after the AgentConfig that uses it does not help it, as with kubectl apply", async () => {
    const r = await agentgate(["review", "-f", file("config-first.yaml")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[model-allowlist\] spec\.modelConfigRef: ModelConfig "qe\/claude" does not exist; create it first/);
    assert.match(r.stdout, /modelconfig\.kagent\.dev\/claude created \(admitted\)/);
  });

  test("a denied ModelConfig is not stored, so its AgentConfig cannot find it", async () => {
    const r = await agentgate(["review", "-f", file("denied.yaml")]);
    assert.match(r.stderr, /\[model-allowlist\] spec\.modelConfigRef: ModelConfig "qe\/fast" does not exist; create it first/);
  });

  test("--cluster-objects files are what the cluster already holds", async () => {
    const without = await agentgate(["review", "-f", file("config.yaml")]);
    assert.equal(without.code, 1);
    const r = await agentgate(["review", "-f", file("config.yaml"), "--cluster-objects", file("models.yaml")]);
    assert.equal(r.code, 0, r.stdout);
  });

  test("a JSON List is read item by item", async () => {
    const r = await agentgate(["review", "-f", file("list.json"), "-o", "json"]);
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual((JSON.parse(r.stdout) as { kind: string }[]).map((e) => e.kind), ["ModelConfig", "RemoteMCPServer", "AgentConfig"]);
  });

  test("- reads the manifests from stdin", async () => {
    const r = await agentgate(["review", "-f", "-", "--cluster-objects", file("models.yaml")], yaml(agentConfig("writer"), agentConfig("greedy", { tokenBudget: 900000 })));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^agentconfig\.agent\.tekton\.dev\/writer created \(admitted\)$/m);
    assert.match(r.stderr, /error when creating "-": .*\[token-budget\]/);
  });

  test("--context FILE, the old name of --cluster-objects, still works for a release, with one deprecation line", async () => {
    const r = await agentgate(["review", "-f", file("config.yaml"), "--context", file("models.yaml")]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, `agentgate: --context FILE is deprecated: use --cluster-objects ${file("models.yaml")} (--context will name a kubeconfig context, as in kubectl)\n`);
  });
});

describe("-n/--namespace: the manifests' namespace, as kubectl apply -n", () => {
  const unnamespaced = (name: string, spec: Record<string, unknown> = {}) => { const o = agentConfig(name, spec); delete (o.metadata as { namespace?: string }).namespace; return o; };
  test("a manifest naming no namespace is judged in --namespace", async () => {
    const r = await agentgate(["review", "-f", "-", "-n", "qe", "--cluster-objects", file("models.yaml"), "-o", "json"], yaml(unnamespaced("writer")));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as { namespace: string }[]).map((e) => e.namespace), ["qe"]);
  });
  test("without -n it is judged in default, where the ModelConfig of qe is not", async () => {
    const r = await agentgate(["review", "-f", "-", "--cluster-objects", file("models.yaml")], yaml(unnamespaced("writer")));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /ModelConfig "default\/claude" does not exist/);
  });
  test("a manifest in another namespace is refused, not moved", async () => {
    const r = await agentgate(["review", "-f", file("config.yaml"), "-n", "dev"]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^agentgate: \S+config\.yaml: AgentConfig writer is in namespace qe, not dev \(--namespace\): pass --namespace qe, or leave it out\n$/);
  });
  test("agentgate's own namespace is refused: nothing is judged there", async () => {
    const r = await agentgate(["review", "-f", file("config.yaml"), "-n", "tools", "--agentgate-namespace", "tools"]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^agentgate: --namespace tools: agentgate judges nothing there \(it is exempt\); --namespace is the manifests' namespace, agentgate's own is --agentgate-namespace\n$/);
  });
});

describe("--operation UPDATE --old, --user, --group", () => {
  const base = () => ["review", "--operation", "UPDATE", "--old", file("old-run.yaml")];
  const cases: { name: string; file: string; user: string[]; code: number; out: RegExp }[] = [
    { name: "an approver approves as themselves", file: "approve-bob.yaml", user: ["--user", "bob", "--group", "agent-approvers"], code: 0, out: /^agentrun\.agent\.tekton\.dev\/gated-1 configured \(admitted\)$/m },
    { name: "a user outside the approver groups", file: "approve-dave.yaml", user: ["--user", "dave", "--group", "developers"], code: 1, out: /\[run-approval\] metadata\.annotations\["agent\.tekton\.dev\/approved-by"\]: "dave" is not in an approver group of this run; allowed: agent-approvers/ },
    { name: "approving in someone else's name", file: "approve-bob.yaml", user: ["--user", "dave", "--group", "agent-approvers"], code: 1, out: /names "bob" but the request comes from "dave"/ },
    { name: "the creator approving their own run", file: "approve-alice.yaml", user: ["--user", "alice", "--group", "agent-approvers"], code: 1, out: /"alice" created this run and cannot approve it/ },
    { name: "a changed goal", file: "new-goal.yaml", user: ["--user", "alice"], code: 1, out: /error when applying .*\[run-immutable\] spec\.goal: changed from "Write tests" to "Delete everything"/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await agentgate([...base(), "-f", file(c.file), ...c.user]);
      assert.equal(r.code, c.code, r.stdout + r.stderr);
      assert.match(c.code === 0 ? r.stdout : r.stderr, c.out);
    });
  }
});

describe("exit 2: bad usage and unreadable input, with a one-line error naming the file", () => {
  const cases: { name: string; args: string[]; err: RegExp }[] = [
    { name: "no -f", args: ["review"], err: /^agentgate: review needs -f FILE \(or - for stdin\), or --admission-review FILE$/ },
    { name: "an unknown flag", args: ["review", "-f", "x", "--bogus"], err: /unknown option '--bogus'/ },
    { name: "an operation review does not do", args: ["review", "-f", "x", "--operation", "DELETE"], err: /argument 'DELETE' is invalid/ },
    { name: "a missing file", args: ["review", "-f", "/nonexistent/cfg.yaml"], err: /^agentgate: \/nonexistent\/cfg\.yaml: cannot read: ENOENT \(no such file\)$/ },
    { name: "a directory without manifests", args: ["review", "-f", "EMPTY"], err: /^agentgate: \S+empty: directory holds no \.yaml, \.yml or \.json file$/ },
    { name: "malformed YAML", args: ["review", "-f", "BAD"], err: /^agentgate: \S+bad\.yaml: document 1 \(line \d+\) is not valid YAML or JSON: / },
    { name: "a document without kind", args: ["review", "-f", "NOKIND"], err: /^agentgate: \S+no-kind\.yaml: document 1 \(line 1\) has no kind: not a Kubernetes object$/ },
    { name: "a missing --cluster-objects file", args: ["review", "-f", "CONFIG", "--cluster-objects", "/nonexistent/ctx.yaml"], err: /^agentgate: \/nonexistent\/ctx\.yaml: cannot read: ENOENT \(no such file\)$/ },
    { name: "--old without the object", args: ["review", "-f", "CONFIG", "--operation", "UPDATE", "--old", "OLDRUN"], err: /^agentgate: \S+config\.yaml: no object in --old matches AgentConfig writer$/ },
    { name: "an AdmissionReview that is not JSON", args: ["review", "--admission-review", "NOTJSON"], err: /^agentgate: \S+not-json\.json: request body is not JSON: / },
    { name: "stdin twice", args: ["review", "-f", "-", "--cluster-objects", "-"], err: /^agentgate: - \(stdin\) can be given once/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const args = c.args.map((a) => ({ EMPTY: file("empty"), BAD: file("bad.yaml"), NOKIND: file("no-kind.yaml"), CONFIG: file("config.yaml"), OLDRUN: file("old-run.yaml"), NOTJSON: file("not-json.json") })[a] ?? a);
      const r = await agentgate(args);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stdout, "");
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0] ?? "", c.err);
    });
  }
});

describe("--admission-review answers byte for byte as agentgate serve does", () => {
  let gateway: RunningGateway;
  before(async () => {
    // serve's own flags and defaults: the namespace and identity review must match.
    gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], offline: true, namespace: defaultNamespace(), serviceAccount: defaultServiceAccount(), trustedUser: [], drainSeconds: 0 });
  });
  after(async () => {
    await gateway.close();
  });

  function post(path: string, body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: "127.0.0.1", port: gateway.port, path, method: "POST", ca: gateway.caCert, agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (s: string) => (text += s));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  const alice: UserInfo = { username: "alice", groups: ["system:authenticated"] };
  const review = (request: AdmissionRequest) => JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { ...request, uid: "4b0c7d2e-1111-2222-3333-444455556666" } });
  const run = (ns: string): KubeObject => ({ apiVersion: "agent.tekton.dev/v1alpha1", kind: "AgentRun", metadata: { name: "r", namespace: ns }, spec: { configRef: { name: "writer" }, goal: "g" } });
  const cases: { name: string; webhook: "validate" | "mutate"; request: AdmissionRequest; allowed: boolean }[] = [
    { name: "a denied AgentConfig", webhook: "validate", request: requestFromManifest(agentConfig("greedy", { tokenBudget: 900000 }), { operation: "CREATE", user: alice }), allowed: false },
    { name: "an AgentConfig's defaults patch", webhook: "mutate", request: requestFromManifest(agentConfig("writer"), { operation: "CREATE", user: alice }), allowed: true },
    { name: "an allowed ModelConfig", webhook: "validate", request: requestFromManifest(modelConfig("claude", "claude-3-5-sonnet"), { operation: "CREATE", user: alice }), allowed: true },
    { name: "a run in agentgate's own namespace is exempt", webhook: "validate", request: requestFromManifest(run(defaultNamespace()), { operation: "CREATE", user: alice }), allowed: true },
    { name: "a run in kube-system is exempt", webhook: "validate", request: requestFromManifest(run("kube-system"), { operation: "CREATE", user: alice }), allowed: true },
    { name: "a run elsewhere is not", webhook: "validate", request: requestFromManifest(run("qe"), { operation: "CREATE", user: alice }), allowed: false },
    {
      name: "not even the gateway's own identity changes a stamp",
      webhook: "validate",
      request: requestFromManifest(storedRun({ [STAMP.policyRevision]: "default@src-1" }), { operation: "UPDATE", user: { username: defaultServiceAccount() }, oldObject: storedRun() }),
      allowed: false,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const body = review(c.request);
      const path = file(`review-${c.webhook}-${c.name.replace(/\W+/g, "-")}.json`);
      await writeFile(path, body);
      const served = await post(`/${c.webhook}`, body);
      assert.equal(served.status, 200);
      const r = await agentgate(["review", "--admission-review", path, "--webhook", c.webhook]);
      assert.equal(r.stdout, served.body, "the same bytes, no newline added");
      assert.equal(r.code, c.allowed ? 0 : 1, r.stderr);
      assert.equal((JSON.parse(served.body) as { response: { allowed: boolean } }).response.allowed, c.allowed);
    });
  }

  test("from stdin too", async () => {
    const body = review(requestFromManifest(agentConfig("writer"), { operation: "CREATE", user: alice }));
    const served = await post("/mutate", body);
    const r = await agentgate(["review", "--admission-review", "-", "--webhook", "mutate"], body);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, served.body);
  });

  test("a resource the webhook does not handle: the server's 400 is review's exit 2", async () => {
    const pod: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "p", namespace: "qe" } };
    const body = review(requestFromManifest(pod, { operation: "CREATE", user: alice }));
    const served = await post("/validate", body);
    assert.equal(served.status, 400);
    const path = file("pod-review.json");
    await writeFile(path, body);
    const r = await agentgate(["review", "--admission-review", path]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `agentgate: ${path}: agentgate does not handle resource v1/configmaps\n`);
  });
});
