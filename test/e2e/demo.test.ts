// `npm run demo` (demo/main.ts) as a user runs it: a child process on a
// control plane of its own with real Tekton. It must print every step of
// demo/steps.ts, in order, and exit 0; a step that does not happen as
// expected (here, an example whose "fixed" AgentConfig is still too
// generous) must fail it with exit 1, naming that step; and whatever ends
// it, Ctrl-C included, nothing it started may outlive it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DONE_LINE, STEPS, failedLine, stepLine } from "../../demo/steps.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const EXAMPLES = join(ROOT, "examples/qe-test-writer");

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  seconds: number;
}

/** Runs the demo to its end; `onLine` may act on its output as it comes (Ctrl-C). */
function runDemo(file: string, args: string[], onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Ended> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let pending = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      pending += c.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) onLine?.(l, (s) => child.kill(s));
    });
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, out, seconds: Math.round((Date.now() - started) / 1000) }));
  });
}

/** Positions of the lines in the output, -1 where one is missing. */
const positions = (out: string, lines: string[]): number[] => {
  const all = out.split("\n");
  return lines.map((l) => all.indexOf(l));
};

const workDir = (out: string): string => /work files in (\S+)/.exec(out)?.[1] ?? "";

/** Processes whose command line names the directory: the demo's gateway and controller read files there. */
const processesUsing = (dir: string): string[] =>
  execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" }).split("\n").filter((l) => dir !== "" && l.includes(dir) && !l.includes(" ps "));

test("npm run demo prints every step in order and exits 0, leaving nothing behind", async () => {
  const r = await runDemo("npm", ["run", "--silent", "demo"]);
  process.stdout.write(`# npm run demo: exit ${String(r.code)} in ${String(r.seconds)} s\n`);
  assert.equal(r.code, 0, r.out);
  const at = positions(r.out, [...STEPS.map((_, i) => stepLine(i))]);
  assert.ok(at.every((p, i) => p >= 0 && (i === 0 || p > (at[i - 1] ?? -1))), `every step line, in order (positions ${at.join(",")}):\n${r.out}`);
  assert.match(r.out, new RegExp(`^${DONE_LINE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(\\d+ s\\)$`, "m"));
  // what each step is there to show
  assert.match(r.out, /denied the request: \[network-strict\]/);
  assert.match(r.out, /\[tool-allowlist\] spec\.toolServers\[0\]\.allowedTools\[2\]: tool "delete_repo"/);
  assert.match(r.out, /agentconfig\.agent\.tekton\.dev\/qe-test-writer created/);
  assert.match(r.out, /agentrun\.agent\.tekton\.dev\/pay-1432-tests-write-tests +qe-test-writer +WaitingForApproval/);
  assert.match(r.out, /"dana" created this run and cannot approve it/);
  assert.match(r.out, /^alex\$ kubectl annotate agentrun pay-1432-tests-write-tests .*\n +agentrun\.agent\.tekton\.dev\/pay-1432-tests-write-tests annotated$/m);
  assert.match(r.out, /ToolCall +write_file\(path="tests\/test_refund\.py"/);
  assert.match(r.out, /\[kubelet stand-in\] no kubelet here/);
  assert.match(r.out, /^ +result=Wrote 4 pytest test cases/m);
  assert.match(r.out, /^ +verified \(keyid [0-9a-f]+\): predicateType https:\/\/slsa\.dev\/provenance\/v1; subjects: qe\/pay-1432-tests-write-tests/m);
  const work = workDir(r.out);
  assert.notEqual(work, "");
  assert.equal(existsSync(work), false, "its work directory is removed");
  assert.deepEqual(processesUsing(work), [], "none of its processes outlives it");
});

test("a mistyped flag or an --examples directory without the example's files: one line and the usage, exit 2, nothing started", () => {
  const empty = mkdtempSync(join(tmpdir(), "agentgate-demo-empty-"));
  try {
    const cases: { args: string[]; says: RegExp }[] = [
      { args: ["--bogus"], says: /^demo: Unknown option '--bogus'/ },
      { args: ["--examples", empty], says: new RegExp(`^demo: --examples ${empty.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: no values\\.yaml, .*agent\\.yaml there`) },
    ];
    for (const c of cases) {
      const r = spawnSync(process.execPath, [join(ROOT, "demo/main.ts"), ...c.args], { encoding: "utf8" });
      assert.equal(r.status, 2, `${c.args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, c.says);
      assert.deepEqual(r.stderr.trimEnd().split("\n").slice(1), ["usage: npm run demo -- [--pause] [--examples DIR]"], "one line, then the usage");
      assert.equal(r.stdout, "", "no step started");
    }
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("a step that does not happen as expected fails the demo, naming it, and it still cleans up", async () => {
  // An example whose "fixed" AgentConfig is the too-generous one: step 5 cannot happen.
  const broken = mkdtempSync(join(tmpdir(), "agentgate-demo-broken-"));
  try {
    cpSync(EXAMPLES, broken, { recursive: true });
    cpSync(join(EXAMPLES, "agentconfig-too-generous.yaml"), join(broken, "agentconfig.yaml"));
    const r = await runDemo(process.execPath, [join(ROOT, "demo/main.ts"), "--examples", broken]);
    process.stdout.write(`# broken example: exit ${String(r.code)} in ${String(r.seconds)} s\n`);
    assert.equal(r.code, 1, r.out);
    const admitted = STEPS.findIndex((s) => s.id === "admitted");
    assert.match(r.out, new RegExp(`^${failedLine(admitted, "the fixed AgentConfig was not admitted").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"), r.out);
    assert.ok(r.out.includes(stepLine(admitted)), "the failing step was started");
    assert.ok(!r.out.includes(stepLine(admitted + 1)), "no step after it ran");
    assert.ok(!r.out.includes(DONE_LINE));
    const work = workDir(r.out);
    assert.equal(existsSync(work), false, "its work directory is removed");
    assert.deepEqual(processesUsing(work), [], "none of its processes outlives it");
  } finally {
    rmSync(broken, { recursive: true, force: true });
  }
});

test("Ctrl-C stops the demo and everything it started", async () => {
  const platform = STEPS.findIndex((s) => s.id === "platform");
  let sent = false;
  const r = await runDemo(process.execPath, [join(ROOT, "demo/main.ts")], (line, kill) => {
    // the gateway and controller are running by then
    if (!sent && line === stepLine(platform)) {
      sent = true;
      kill("SIGINT");
    }
  });
  assert.ok(sent, r.out);
  assert.equal(r.code, 130, r.out);
  assert.match(r.out, /==> SIGINT: stopping everything the demo started/);
  const work = workDir(r.out);
  assert.equal(existsSync(work), false, "its work directory is removed");
  // SIGKILLed children take a moment to be reaped
  for (let i = 0; i < 50 && processesUsing(work).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
  assert.deepEqual(processesUsing(work), [], "none of its processes outlives it");
});
