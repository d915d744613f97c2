// The container image cannot be built here (no Docker engine), so this
// checks what can be checked without one: pinned bases, a non-root user, the
// entrypoint, and that the versions inside agree with the repository's pins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const read = (path: string): string => readFileSync(`${ROOT}/${path}`, "utf8");

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) return;
    if (pending === "") start = i + 1;
    if (line.startsWith("#")) return;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = "";
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (!m?.[1] || m[2] === undefined) throw new Error(`Dockerfile line ${start}: cannot parse ${JSON.stringify(full)}`);
    out.push({ keyword: m[1].toUpperCase(), args: m[2], line: start });
  });
  return out;
}

function stages(instructions: Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m?.[1]) throw new Error(`Dockerfile line ${ins.line}: cannot parse FROM ${ins.args}`);
      out.push({ image: m[1], ...(m[2] ? { name: m[2] } : {}), instructions: [] });
    } else {
      const current = out.at(-1);
      if (!current) throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before any FROM`);
      current.instructions.push(ins);
    }
  }
  return out;
}

const dockerfile = stages(parseDockerfile(read("Dockerfile")));
const final = dockerfile.at(-1);
const pkg = JSON.parse(read("package.json")) as { bin: Record<string, string>; engines: { node: string }; scripts: Record<string, string>; workspaces?: string[] };

type Version = [number, number, number];
const version = (v: string): Version => {
  const [a = 0, b = 0, c = 0] = v.split(".").map(Number);
  return [a, b, c];
};
const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether a version satisfies a range of space-separated comparators (>=24.11 <25), as engines uses them. */
function satisfies(v: string, range: string): boolean {
  return range.split(/\s+/).every((comparator) => {
    const m = /^(>=|<=|>|<|=)?(\d+(?:\.\d+){0,2})$/.exec(comparator);
    if (!m?.[2]) throw new Error(`engines range ${JSON.stringify(range)}: cannot read ${comparator}`);
    const c = compare(version(v), version(m[2]));
    switch (m[1]) {
      case ">=": return c >= 0;
      case "<=": return c <= 0;
      case ">": return c > 0;
      case "<": return c < 0;
      default: return c === 0;
    }
  });
}

/** Image reference of a stage built on another stage resolves to that stage. */
const isStage = (image: string, before: Stage[]): boolean => before.some((s) => s.name === image);

test("every FROM names a previous stage or an image pinned by version (no latest, no bare name)", () => {
  assert.ok(dockerfile.length >= 2, "multi-stage");
  dockerfile.forEach((stage, i) => {
    if (isStage(stage.image, dockerfile.slice(0, i))) return;
    const m = /^[^@:]+(?::([^@]+))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(stage.image);
    assert.ok(m, `FROM ${stage.image}: not an image reference`);
    const [, tag, digest] = m;
    assert.ok(tag !== undefined || digest !== undefined, `FROM ${stage.image}: no tag or digest`);
    if (tag !== undefined) {
      assert.notEqual(tag, "latest", `FROM ${stage.image}: latest`);
      assert.match(tag, /^v?\d+\.\d+\.\d+/, `FROM ${stage.image}: tag is not an exact version`);
    }
  });
});

test("the final stage runs as a numeric non-root user", () => {
  assert.ok(final);
  const users = final.instructions.filter((i) => i.keyword === "USER");
  const user = users.at(-1)?.args.trim();
  assert.ok(user, "final stage sets USER");
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  assert.ok(m, `USER ${user}: numeric uid[:gid], so runAsNonRoot can verify it`);
  assert.notEqual(Number(m[1]), 0, "uid is not root");
  if (m[2] !== undefined) assert.notEqual(Number(m[2]), 0, "gid is not root");
});

test("ENTRYPOINT runs the package's bin (the agentgate CLI) and EXPOSE 8443", () => {
  assert.ok(final);
  const entrypoint = final.instructions.filter((i) => i.keyword === "ENTRYPOINT").at(-1);
  assert.ok(entrypoint, "final stage has an ENTRYPOINT");
  const argv = JSON.parse(entrypoint.args) as unknown;
  assert.ok(Array.isArray(argv) && argv.every((a) => typeof a === "string"), "exec form, so signals reach node (SIGTERM starts the drain)");
  const bin = pkg.bin.agentgate;
  assert.ok(bin);
  const workdir = final.instructions.filter((i) => i.keyword === "WORKDIR").at(-1)?.args.trim() ?? "/";
  assert.equal(argv[0], "node");
  const script = String(argv[1]);
  assert.equal(script.startsWith("/") ? script : `${workdir}/${script}`, `${workdir}/${bin}`.replace(/\/\.\//, "/"));
  const copied = final.instructions.filter((i) => i.keyword === "COPY").map((i) => i.args.split(/\s+/));
  assert.ok(copied.some((c) => c[0] === "bin" || c.includes(bin.split("/")[0] ?? "")), "the bin directory is copied into the image");
  assert.ok(final.instructions.some((i) => i.keyword === "EXPOSE" && i.args.split(/\s+/).includes("8443")));
});

test("every Node stage uses one exact version inside package.json engines", () => {
  const nodes = dockerfile.filter((s) => s.image.startsWith("node:")).map((s) => /^node:(\d+\.\d+\.\d+)-/.exec(s.image)?.[1]);
  assert.ok(nodes.length > 0 && final?.image.startsWith("node:"), "final stage is a Node image");
  assert.ok(nodes.every((v) => v !== undefined), "node tags are exact versions (node:X.Y.Z-...)");
  assert.equal(new Set(nodes).size, 1, "one Node version across stages");
  const v = nodes[0] ?? "";
  assert.ok(satisfies(v, pkg.engines.node), `node ${v} satisfies engines ${pkg.engines.node}`);
  assert.match(final?.image ?? "", /-slim$/, "slim base");
});

test("opa is built from tools/opa at its pinned version, with a Go that module accepts", () => {
  const opa = dockerfile.find((s) => s.image.startsWith("golang:"));
  assert.ok(opa, "a golang stage builds opa");
  const goMod = read("tools/opa/go.mod");
  const goDirective = /^go (\S+)$/m.exec(goMod)?.[1];
  const pinned = /github\.com\/open-policy-agent\/opa (v\S+)/.exec(goMod)?.[1];
  assert.ok(goDirective && pinned);
  const goTag = /^golang:(\d+\.\d+\.\d+)/.exec(opa.image)?.[1];
  assert.ok(goTag, "golang tag is an exact version");
  assert.ok(compare(version(goTag), version(goDirective)) >= 0, `golang ${goTag} >= go ${goDirective} of tools/opa/go.mod`);
  const text = opa.instructions.map((i) => i.args).join("\n");
  assert.match(text, /tools\/opa\/go\.mod/, "copies tools/opa/go.mod (the pin)");
  assert.match(text, /tools\/opa\/go\.sum|go\.sum/, "and go.sum");
  const build = /go (?:build|install)[^\n]*github\.com\/open-policy-agent\/opa(@\S+)?/.exec(text);
  assert.ok(build, "builds github.com/open-policy-agent/opa");
  if (build[1]) assert.equal(build[1], `@${pinned}`, "an explicit version equals tools/opa's pin");
  assert.match(text, /-mod=readonly/, "the module file is not changed by the build (so the pin holds)");
});

test("the default bundle is compiled in the image exactly as npm run build:policy does", () => {
  const script = pkg.scripts["build:policy"];
  assert.ok(script);
  assert.match(script, /bundle build policies/);
  const runs = dockerfile.flatMap((s) => s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args));
  assert.ok(runs.some((r) => r.includes("npm run build:policy")), "RUN npm run build:policy");
  assert.ok(final?.instructions.some((i) => i.keyword === "COPY" && /--from=\S+\s+\S*policies\/bundle\.tar\.gz/.test(i.args)), "the built bundle is what the image ships");
  assert.ok(runs.some((r) => /npm ci\b[^&]*--omit=dev/.test(r)), "production dependencies only: npm ci --omit=dev");
});

test(".dockerignore keeps dependencies, tools, history and keys out, and nothing the Dockerfile copies", () => {
  const patterns = read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  for (const required of ["node_modules", ".tools", ".git", "test", "coverage", "*.key"]) {
    assert.ok(patterns.includes(required) || patterns.includes(`${required}/`) || patterns.includes(`/${required}`), `.dockerignore excludes ${required}`);
  }
  const sources = dockerfile
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  for (const source of sources) {
    const top = source.split("/")[0] ?? "";
    assert.ok(!patterns.includes(top) && !patterns.includes(source), `COPY ${source} is not excluded by .dockerignore`);
  }
});

test("each workspace package is linked by every npm ci and ships its compiled dist/ with its package.json", () => {
  const workspaces = pkg.workspaces ?? [];
  assert.ok(workspaces.length > 0, "package.json names its workspaces");
  assert.ok(final);
  const args = (stage: Stage, keyword: string): string[][] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args.split(/\s+/));
  for (const dir of workspaces) {
    assert.ok(!dir.includes("*"), `workspace ${dir}: listed by path, so this test sees the one the Dockerfile copies`);
    // npm ci without a workspace's package.json fails (or links nothing), so it comes before each npm ci.
    for (const stage of dockerfile.filter((s) => s.instructions.some((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args)))) {
      const ci = stage.instructions.findIndex((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args));
      const before = stage.instructions.slice(0, ci).filter((i) => i.keyword === "COPY").map((i) => i.args.split(/\s+/));
      assert.ok(before.some((c) => c.includes(`${dir}/package.json`)), `stage ${stage.name ?? stage.image} copies ${dir}/package.json before npm ci`);
    }
    const copies = args(final, "COPY");
    assert.ok(copies.some((c) => c.includes(`${dir}/package.json`)), `the image has ${dir}/package.json (its exports map)`);
    assert.ok(copies.some((c) => c[0]?.startsWith("--from=") && c.includes(`/app/${dir}/dist`)), `the image has ${dir}/dist, compiled in the build stage`);
  }
  assert.match(pkg.scripts["build:ts"] ?? "", /packages\/opa-host\/tsconfig\.build\.json/, "build:ts compiles the package");
});
