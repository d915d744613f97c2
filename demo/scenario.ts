// The demo's steps, one function per entry of steps.ts, in that order: each
// does what its title says with the real tools and throws, saying what did
// not happen, when the cluster does not answer as expected.
import { readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parse, stringify } from "yaml";
import { until } from "../src/testing/until.ts";
import { startControlPlane, type ControlPlane } from "../test/support/control-plane.ts";
import { startTekton, tektonCrdDir } from "../test/support/tekton.ts";
import type { Cleanup } from "./cleanup.ts";
import { Commands, ROOT, type Identity, type Result } from "./commands.ts";
import { installAgentgate, type Installed } from "./install.ts";
import { playKagentController, startKagent, type Kagent } from "./kagent.ts";
import { playKubelet } from "./kubelet.ts";
import { note, output } from "./output.ts";

const NS = "qe";
const PIPELINE_RUN = "pay-1432-tests";
/** Tekton names a custom task's CustomRun <PipelineRun>-<pipeline task>; agentgate gives its AgentRun the same name. */
const RUN = `${PIPELINE_RUN}-write-tests`;

export interface ScenarioOptions {
  /** the example's directory (examples/qe-test-writer, or a copy) */
  examples: string;
  /** the demo's temporary directory, removed at the end */
  work: string;
  cleanup: Cleanup;
}

/** The Tekton release tools/tekton pins (its go.mod), which tools/install.sh built. */
function tektonVersion(): string {
  return /^\s*github\.com\/tektoncd\/pipeline (v\S+)/m.exec(readFileSync(join(ROOT, "tools/tekton/go.mod"), "utf8"))?.[1] ?? "(unknown version)";
}

/** The run's YAML with the statement inside its DSSE envelope naming another run (the signature left as it was). */
function editedProvenance(runYaml: string): string {
  const run = parse(runYaml) as { status?: { provenance?: { payload?: string } } };
  const envelope = run.status?.provenance;
  if (envelope?.payload === undefined) throw new Error("the finished run has no status.provenance");
  const statement = Buffer.from(envelope.payload, "base64").toString("utf8");
  envelope.payload = Buffer.from(statement.replaceAll(`${NS}/${RUN}`, `${NS}/someone-else`)).toString("base64");
  return stringify(run);
}

function expect(ok: boolean, why: string, r?: Result): void {
  if (!ok) throw new Error(r ? `${why} (exit ${String(r.code)}: ${(r.stderr || r.stdout).trim().split("\n").slice(0, 3).join(" / ")})` : why);
}

/** Waits, failing with what never happened (the step's failure message). */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, seconds = 120): Promise<T> {
  try {
    return await until(what, probe, { timeoutMs: seconds * 1000, intervalMs: 250 });
  } catch (err) {
    throw new Error(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

export class Scenario {
  private readonly o: ScenarioOptions;
  private cp!: ControlPlane;
  private run!: Commands;
  private kagent!: Kagent;
  private installed!: Installed;
  private admin!: Identity;
  private dana!: Identity;
  private alex!: Identity;

  constructor(o: ScenarioOptions) {
    this.o = o;
  }

  /** A path as the reader types it: relative to the repository when inside it. */
  private shown(path: string): string {
    const r = relative(ROOT, path);
    return r.startsWith("..") ? path : r;
  }

  private file(name: string): string {
    return join(this.o.examples, name);
  }

  readonly steps: (() => Promise<void>)[] = [
    // cluster
    async () => {
      note(`etcd, kube-apiserver, kube-controller-manager and Tekton Pipelines ${tektonVersion()}'s controller, built from source by tools/install.sh, on loopback ports; there is no kubelet and no scheduler, so no pod ever runs`);
      const kagentCrds = ["agents", "modelconfigs", "remotemcpservers", "mcpservers"].map((p) => join(ROOT, `test/support/crds/kagent.dev_${p}.yaml`));
      this.cp = await startControlPlane({ controllerManager: true, crds: kagentCrds, serverSideCrds: [tektonCrdDir()] });
      const cp = this.cp;
      this.o.cleanup.onStop("the control plane", () => cp.stop());
      const tekton = await startTekton(cp);
      this.o.cleanup.onStop("Tekton's controller", () => tekton.stop());
      this.run = new Commands(this.o.cleanup, join(this.o.work, "kubectl-cache"));
      this.admin = { name: "admin", kubeconfig: cp.kubeconfigPath };
      this.dana = { name: "dana", kubeconfig: await cp.kubeconfigFor("dana", ["qe-developers"]) };
      this.alex = { name: "alex", kubeconfig: await cp.kubeconfigFor("alex", ["agent-approvers"]) };
      const r = await this.run.kubectl(this.admin, ["api-resources", "--api-group=tekton.dev"]);
      expect(r.code === 0 && /pipelineruns/.test(r.stdout) && /customruns/.test(r.stdout), "Tekton's API is not served", r);
      output(`Tekton's controller: pid ${String(tekton.pid)}, running as system:serviceaccount:tekton-pipelines:tekton-pipelines-controller`);
      this.kagent = await startKagent(cp, this.o.examples, this.o.cleanup);
      note(`kagent needs a kubelet too: its A2A endpoint is the stand-in of test/support/a2a-server.ts at ${this.kagent.fake.url}, with the scripted agent of ${this.shown(this.file("agent.yaml"))}; the qe-files MCP tool server (the MCP SDK's) listens at ${this.kagent.tools.url}`);
    },
    // install
    async () => {
      this.installed = await installAgentgate(this.cp, this.o.work, this.o.examples, this.kagent.fake.url, this.o.cleanup);
      const r = await this.run.kubectl(this.admin, ["get", "validatingwebhookconfiguration,mutatingwebhookconfiguration"]);
      expect(r.code === 0 && (r.stdout.match(/agentgate/g) ?? []).length === 2, "the webhook configurations are not registered", r);
    },
    // platform
    async () => {
      const r = await this.run.kubectl(this.admin, ["apply", "-f", this.shown(this.file("platform.yaml")), "-f", this.shown(this.file("hooks.yaml"))]);
      expect(r.code === 0, "the platform's objects were not all admitted", r);
      note("no cluster DNS here: the agent's calls to http://qe-files.qe-tools.svc:8084/mcp, the RemoteMCPServer's URL, reach the tool server on 127.0.0.1");
    },
    // refused
    async () => {
      const r = await this.run.kubectl(this.dana, ["apply", "-f", this.shown(this.file("agentconfig-too-generous.yaml"))]);
      expect(r.code !== 0 && /admission webhook "validate\.agent\.tekton\.dev" denied the request/.test(r.stderr), "kubectl did not refuse the too-generous AgentConfig", r);
      for (const id of ["tool-allowlist", "token-budget", "run-timeout", "rbac-scope", "network-strict"]) expect(new RegExp(`\\[${id}\\] spec\\.`).test(r.stderr), `the refusal has no [${id}] line`, r);
      const stored = await this.run.kubectl(this.dana, ["get", "agentconfigs", "-n", NS]);
      expect(/No resources found/.test(stored.stderr), "something refused was stored", stored);
    },
    // admitted
    async () => {
      const r = await this.run.kubectl(this.dana, ["apply", "-f", this.shown(this.file("agentconfig.yaml"))]);
      expect(r.code === 0 && /agentconfig\.agent\.tekton\.dev\/qe-test-writer created/.test(r.stdout), "the fixed AgentConfig was not admitted", r);
      await this.run.kubectl(this.dana, ["get", "agentconfig", "qe-test-writer", "-n", NS, "-o", "jsonpath={.spec}"], { shown: "get agentconfig qe-test-writer -n qe -o jsonpath={.spec}   # as admitted and stored" });
    },
    // waiting
    async () => {
      const r = await this.run.kubectl(this.dana, ["apply", "-f", this.shown(this.file("pipeline.yaml")), "-f", this.shown(this.file("pipelinerun.yaml"))]);
      expect(r.code === 0, "the Pipeline and PipelineRun were not created", r);
      await waitFor(`AgentRun ${RUN} to wait for approval`, async () => ((await this.run.kubectl(this.dana, ["get", "agentrun", RUN, "-n", NS, "-o", "jsonpath={.status.phase}"], { quiet: true })).stdout === "WaitingForApproval" ? true : undefined));
      const list = await this.run.kubectl(this.dana, ["get", "pipelinerun,customrun,agentrun", "-n", NS]);
      expect(/WaitingForApproval/.test(list.stdout), "the AgentRun is not listed as WaitingForApproval", list);
      const why = await this.run.kubectl(this.dana, ["get", "agentrun", RUN, "-n", NS, "-o", "jsonpath={.status.conditions[0].message}{\"\\n\"}"]);
      expect(/approv/.test(why.stdout), "the run's condition does not say it waits for approval", why);
    },
    // approved
    async () => {
      const own = await this.run.kubectl(this.dana, ["annotate", "agentrun", RUN, "-n", NS, "agent.tekton.dev/approved-by=dana"]);
      expect(own.code !== 0 && /created this run and cannot approve it/.test(own.stderr), "dana could approve her own run", own);
      const ok = await this.run.kubectl(this.alex, ["annotate", "agentrun", RUN, "-n", NS, "agent.tekton.dev/approved-by=alex"]);
      expect(ok.code === 0 && /annotated/.test(ok.stdout), "alex's approval was not admitted", ok);
    },
    // streaming
    async () => {
      // Once it prints, the demo plays the missing kubelet and kagent's controller, saying so as it does.
      const players: (() => Promise<void>)[] = [];
      this.o.cleanup.onStop("the kubelet and kagent stand-ins", async () => {
        for (const stop of players) await stop();
      });
      const logs = this.run.stream(this.dana, ["logs", RUN, "-n", NS, "-f", "--kagent-url", this.kagent.fake.url], `logs ${RUN} -n ${NS} -f --kagent-url ${this.kagent.fake.url}`, () => {
        players.push(playKubelet(this.cp, this.o.examples, this.kagent), playKagentController(this.cp, NS));
      });
      const timeout = new Promise<{ code: number; lines: string[] }>((_, reject) => setTimeout(() => reject(new Error("agentgate logs -f did not end within 5 minutes")), 300_000).unref());
      const { code, lines } = await Promise.race([logs, timeout]);
      const text = lines.join("\n");
      expect(code === 0, `agentgate logs -f exited ${String(code)}`);
      for (const [what, re] of [["the pre-hook", /PreHookStarted/], ["the agent acting", /Acting/], ["a tool call", /ToolCall +write_file\(/], ["the post-hook", /PostHookStarted/], ["the end", /Succeeded/]] as const) {
        expect(re.test(text), `agentgate logs -f did not show ${what}`);
      }
    },
    // post-hook
    async () => {
      await this.run.kubectl(this.dana, ["get", "pipelineruns", "-n", NS]);
      const params = await this.run.kubectl(this.dana, ["get", "pipelinerun", `${RUN}-post-0`, "-n", NS, "-o", "jsonpath={range .spec.params[*]}{.name}={.value}{\"\\n\"}{end}"]);
      expect(/^result=Wrote 4 pytest test cases/m.test(params.stdout), "the post-hook's PipelineRun was not given the agent's result", params);
      const results = await this.run.kubectl(this.dana, ["get", "taskruns", "-n", NS, "-l", `tekton.dev/pipelineRun=${RUN}-post-0`, "-o", "jsonpath={range .items[*].status.results[*]}{.name}={.value}{\"\\n\"}{end}"]);
      expect(/^tests=4$/m.test(results.stdout), "the run-tests TaskRun has no results", results);
      await waitFor(`PipelineRun ${PIPELINE_RUN} to succeed`, async () => ((await this.run.kubectl(this.dana, ["get", "pipelinerun", PIPELINE_RUN, "-n", NS, "-o", "jsonpath={.status.conditions[0].status}"], { quiet: true })).stdout === "True" ? true : undefined), 60);
      const pr = await this.run.kubectl(this.dana, ["get", "pipelinerun", PIPELINE_RUN, "-n", NS, "-o", "jsonpath={range .status.results[*]}{.name}={.value}{\"\\n\"}{end}"]);
      expect(/^agentrun_ARTIFACT_DIGEST=sha256:[0-9a-f]{64}$/m.test(pr.stdout), "the PipelineRun does not carry the run's provenance digest", pr);
    },
    // provenance
    async () => {
      const runYaml = join(this.o.work, "run.yaml");
      const got = await this.run.kubectl(this.dana, ["get", "agentrun", RUN, "-n", NS, "-o", "yaml"], { quiet: true });
      expect(got.code === 0, "the finished run could not be read", got);
      writeFileSync(runYaml, got.stdout);
      this.run.echo(this.dana, `kubectl get agentrun ${RUN} -n ${NS} -o yaml > run.yaml`);
      const key = join(this.o.work, "provenance.pub");
      writeFileSync(key, this.installed.provenancePublicKey);
      note("provenance.pub: the public half of the key in the Secret agentgate-system/agentgate-provenance (the chart's provenance.keySecret), which the platform team publishes");
      const r = await this.run.agentgate(this.dana, ["provenance", "verify", "--key", key, runYaml], { shown: "provenance verify --key provenance.pub run.yaml" });
      expect(r.code === 0 && /^verified /.test(r.stdout), "agentgate provenance verify did not verify the run", r);
      // The same run, its signed statement edited to name another run: the signature no longer holds.
      const edited = join(this.o.work, "run-edited.yaml");
      writeFileSync(edited, editedProvenance(got.stdout));
      note("run-edited.yaml: the same run, with the subject of its signed statement renamed to qe/someone-else");
      const bad = await this.run.agentgate(this.dana, ["provenance", "verify", "--key", key, edited], { shown: "provenance verify --key provenance.pub run-edited.yaml" });
      expect(bad.code === 1 && !/^verified /.test(bad.stdout), "agentgate provenance verify accepted an edited statement", bad);
    },
  ];
}
