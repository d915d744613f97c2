// The README's operating sections are commands people paste: the Quick start
// is two command lines that work on a fresh clone, and every agentgate
// command in those sections runs on the project's Node, from a shell whose
// `node` is the machine's (older) one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** The text of a section, up to the next heading of any level (outside code blocks). */
function section(title: string): string {
  const lines = README.split("\n");
  const start = lines.indexOf(title);
  assert.ok(start >= 0, `README has a "${title}" section`);
  let fenced = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    const line = lines[end] ?? "";
    if (line.startsWith("```")) fenced = !fenced;
    else if (!fenced && /^#{1,6} /.test(line)) break;
  }
  return lines.slice(start + 1, end).join("\n");
}

/** Command lines of the ```sh blocks (comments and blank lines dropped, continuations joined). */
function shellLines(text: string): string[] {
  const lines: string[] = [];
  for (const [, body = ""] of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of body.replaceAll("\\\n", " ").split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim();
      if (command !== "" && !command.startsWith("#")) lines.push(command);
    }
  }
  return lines;
}

const OWNED = ["## Quick start", "## Install with Helm", "### Certificates", "## Rolling out: warn first", "### Checking manifests in CI", "## Write your first rule", "## Distributing and signing bundles", "## When the webhook is down"];

test("the Quick start is two command lines: install and run the server on the embedded default bundle, and the tests", () => {
  const [first] = [...section("## Quick start").matchAll(/```sh\n([\s\S]*?)```/g)];
  assert.deepEqual(shellLines(first?.[0] ?? ""), ["npm ci && npm start", "npm test"]);
  const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts.start ?? "", /^node bin\/agentgate\.js serve --offline\b/);
  assert.doesNotMatch(scripts.start ?? "", /--bundle\b/, "npm start serves the embedded default bundle");
});

test("every agentgate command in the operating sections is `npx agentgate …` (the machine's node cannot run the sources)", () => {
  for (const title of OWNED) {
    for (const line of shellLines(section(title))) {
      assert.doesNotMatch(line, /\bnode\s+bin\/agentgate\.js\b/, `${title}: ${line}`);
      assert.doesNotMatch(line, /(^|[;&|(]\s*)agentgate\s/, `${title}: say npx agentgate: ${line}`);
    }
  }
});

test("the Quick start's review command, as written, runs from a shell whose node is the machine's", async () => {
  const line = shellLines(section("## Quick start")).find((l) => l.includes("review -f examples/"));
  assert.ok(line, "the Quick start shows a review of an example");
  // A fresh shell: no node_modules/.bin on PATH, so `node` is whatever the machine has.
  const machinePath = (process.env.PATH ?? "").split(delimiter).filter((d) => !d.includes("node_modules")).join(delimiter);
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile("bash", ["-c", line], { cwd: ROOT, env: { HOME: process.env.HOME ?? "/tmp", PATH: machinePath } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
  assert.equal(r.code, 1, `${line}: exit ${r.code} (1 = denied)\n${r.stderr.slice(-1500)}`);
  // Denials on stderr, as kubectl prints them.
  assert.match(r.stderr, /^Error from server \(Forbidden\): error when creating "examples\/agentconfig-denied\.yaml": admission webhook "validate\.agent\.tekton\.dev" denied the request: /m);
  assert.match(r.stderr, /^\[token-budget\] spec\.tokenBudget: tokenBudget 900000 exceeds the maximum of 500000/m);
});

test("Write your first rule, as written: the Rego shown is the example's, opa test passes, the bundle builds, and review prints the output shown, stacked on the default", async () => {
  const text = section("## Write your first rule");
  const rego = /```rego\n([\s\S]*?)```/.exec(text)?.[1] ?? "";
  assert.ok(rego.length > 0 && readFileSync(join(ROOT, "examples/first-rule/team_label.rego"), "utf8").includes(rego), "the Rego in the README is examples/first-rule/team_label.rego's");
  const [opaTest, build, review] = shellLines(text);
  assert.match(opaTest ?? "", /opa test examples\/first-rule\/$/);
  // The bundle goes to a temporary directory, not into the checkout.
  const out = join(mkdtempSync(join(tmpdir(), "agentgate-first-rule-")), "team.tar.gz");
  const run = (line: string) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile("bash", ["-c", line.replaceAll(" team.tar.gz", ` ${out}`)], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
  const tested = await run(opaTest ?? "");
  assert.equal(tested.code, 0, tested.stdout + tested.stderr);
  assert.match(tested.stdout, /^PASS: 4\/4$/m);
  const built = await run(build ?? "");
  assert.equal(built.code, 0, built.stderr);
  const reviewed = await run(review ?? "");
  assert.equal(reviewed.code, 0, reviewed.stderr);
  const shown = /\n\n((?: {4}.*\n)+)/.exec(text)?.[1]?.replace(/^ {4}/gm, "");
  assert.equal(reviewed.stdout, shown, "review prints what the README shows");
  // Replacing the default instead: the team bundle alone has no goal policy, so its run is refused.
  const alone = await run(`${review ?? ""} --no-default-bundle`);
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /\[goal-policy\] spec\.goal: no goal policy is in force/);
});
