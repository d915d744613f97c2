// What `agentgate serve` loads before it does anything (issue 20): every
// module imported costs resident memory for the life of the gateway
// (undici ~7 MB of RSS, @kubernetes/client-node ~54 MB), so packages the
// gateway uses only sometimes are imported with `await import()` where they
// are needed. This walks the static import graph from src/cli/main.ts (the
// entry of every command, serve included) with the TypeScript parser and
// names the chain of files by which a forbidden package is reached.
//
// What counts is what Node loads. `import type …` and `export type … from`
// are erased. `import { type X } from "m"` is NOT: under
// verbatimModuleSyntax (this repository's tsconfig) tsc emits it as
// `import {} from "m"`, and Node's type stripping keeps it as well, so m is
// loaded; write `import type { X } from "m"` instead. A dynamic `import()`
// is not followed: it loads only when it runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dirname, "../..");
const ENTRY = join(root, "src/cli/main.ts");

/** What the gateway must not load at start: packages imported lazily where they are used, and node:http, whose ES namespace loads Node's bundled fetch (take it with process.getBuiltinModule). */
const FORBIDDEN_AT_SERVE = ["undici", "@kubernetes/client-node", "node:http"] as const;

/** The workspace's own packages: walked into, as their sources are ours. */
const WORKSPACE: Readonly<Record<string, string>> = {
  "@agentgate/opa-host": join(root, "packages/opa-host/src/index.ts"),
  "@agentgate/opa-host/duration": join(root, "packages/opa-host/src/duration.ts"),
  "@agentgate/opa-host/values": join(root, "packages/opa-host/src/values.ts"),
};

/** The specifiers of the imports and re-exports in `text` that Node loads when the file loads. */
function staticValueImports(text: string, fileName = "module.ts"): string[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const statement of file.statements) {
    if (ts.isImportDeclaration(statement)) {
      // `import type`; an `import defer` still loads its module, so it counts
      if (statement.importClause?.phaseModifier === ts.SyntaxKind.TypeKeyword) continue;
    }
    else if (ts.isExportDeclaration(statement)) {
      if (statement.isTypeOnly) continue;
    }
    else continue;
    const spec = statement.moduleSpecifier;
    if (spec !== undefined && ts.isStringLiteral(spec)) out.push(spec.text);
  }
  return out;
}

/** "@scope/name/sub" → "@scope/name", "name/sub" → "name". */
function packageOf(spec: string): string {
  const parts = spec.split("/");
  return (spec.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/");
}

interface Graph {
  /** every source file reached, with the file that first imported it (undefined for the entry) */
  parent: Map<string, string | undefined>;
  /** every bare package reached, with the files that import it */
  packages: Map<string, string[]>;
  /** every bare specifier imported ("jose", "jose/errors"), with the files that import it */
  specifiers: Map<string, string[]>;
}

function walk(entry: string, read: (path: string) => string): Graph {
  const parent = new Map<string, string | undefined>([[entry, undefined]]);
  const packages = new Map<string, string[]>();
  const specifiers = new Map<string, string[]>();
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const spec of staticValueImports(read(file), file)) {
      if (spec.startsWith("node:")) continue;
      let target: string | undefined;
      if (spec.startsWith(".")) target = resolve(dirname(file), spec);
      else if (spec in WORKSPACE) target = WORKSPACE[spec];
      else {
        for (const [key, map] of [[packageOf(spec), packages], [spec, specifiers]] as const) {
          const importers = map.get(key) ?? [];
          if (!importers.includes(file)) importers.push(file);
          map.set(key, importers);
        }
        continue;
      }
      if (target === undefined || parent.has(target)) continue;
      parent.set(target, file);
      queue.push(target);
    }
  }
  return { parent, packages, specifiers };
}

/** For each file that imports `name` (a package, or with `exact` that very specifier): entry → … → that file → name. */
function chainsTo(graph: Graph, name: string, exact = false): string[] {
  return ((exact ? graph.specifiers : graph.packages).get(name) ?? []).map((importer) => {
    const steps = [name];
    for (let file: string | undefined = importer; file !== undefined; file = graph.parent.get(file)) steps.unshift(relative(root, file));
    return steps.join(" → ");
  });
}

const graph = walk(ENTRY, (path) => readFileSync(path, "utf8"));

test("the walk reaches serve's own modules and packages (the check below would pass vacuously otherwise)", () => {
  for (const file of ["src/cli/serve.ts", "src/server/start.ts", "src/policy/load.ts"]) assert.ok(graph.parent.has(join(root, file)), `${file} reached from src/cli/main.ts`);
  for (const name of ["commander", "express"]) assert.ok(graph.packages.has(name), `${name} reached from src/cli/main.ts`);
  for (const file of graph.parent.keys()) assert.ok(existsSync(file), `${relative(root, file)} (imported by ${relative(root, graph.parent.get(file) ?? "")}) exists`);
});

test("the parser counts what Node loads: `import type` and `export type` are erased, `import { type X }` is not", () => {
  const cases: { name: string; text: string; loaded: string[] }[] = [
    { name: "a named value import", text: `import { Agent } from "undici";`, loaded: ["undici"] },
    { name: "a side-effect import", text: `import "undici";`, loaded: ["undici"] },
    { name: "a namespace import", text: `import * as k8s from "@kubernetes/client-node";`, loaded: ["@kubernetes/client-node"] },
    { name: "values and types together", text: `import { Agent, type Response } from "undici";`, loaded: ["undici"] },
    { name: "an inline type only (kept as `import {} from`)", text: `import { type Response } from "undici";`, loaded: ["undici"] },
    { name: "import type", text: `import type { Response } from "undici";`, loaded: [] },
    { name: "a re-export", text: `export { Agent } from "undici";`, loaded: ["undici"] },
    { name: "export *", text: `export * from "undici";`, loaded: ["undici"] },
    { name: "export type", text: `export type { Response } from "undici";`, loaded: [] },
    { name: "a dynamic import", text: `const { Agent } = await import("undici");`, loaded: [] },
    { name: "an import in a comment", text: `// import { Agent } from "undici";`, loaded: [] },
  ];
  for (const c of cases) assert.deepEqual(staticValueImports(c.text), c.loaded, c.name);
});

for (const name of FORBIDDEN_AT_SERVE) {
  test(`agentgate serve does not load ${name} at start`, () => {
    const chains = chainsTo(graph, name);
    const fix = name === "node:http" ? `take it with \`process.getBuiltinModule("node:http")\`, or \`import type\` for its types` : `import it with \`await import("${name}")\` where it is used, or \`import type\` for its types`;
    assert.ok(chains.length === 0, `${name} is loaded at start (${fix}):\n  ${chains.join("\n  ")}`);
  });
}

/** Package indexes that load far more than the gateway uses: take the entry points used ("jose/jws/compact/verify"). */
const WHOLE_INDEX_AT_SERVE = ["jose"] as const;

for (const name of WHOLE_INDEX_AT_SERVE) {
  test(`agentgate serve does not load ${name}'s index, only the entry points it uses`, () => {
    assert.ok(graph.packages.has(name), `${name} is reached at all (the check would pass vacuously otherwise)`);
    const chains = chainsTo(graph, name, true);
    assert.ok(chains.length === 0, `${name}'s index is loaded at start (import from its subpath exports instead):\n  ${chains.join("\n  ")}`);
  });
}

/** Source directories serve loads only when their feature is on: the run-time gateway (--calls-listen; off in the chart). */
const LAZY_AT_SERVE = ["src/calls/"] as const;

for (const dir of LAZY_AT_SERVE) {
  test(`agentgate serve does not load ${dir} at start (only with its flag, through await import())`, () => {
    const reached = [...graph.parent.keys()].filter((file) => relative(root, file).startsWith(dir));
    const chains = reached.map((file) => {
      const steps: string[] = [];
      for (let f: string | undefined = file; f !== undefined; f = graph.parent.get(f)) steps.unshift(relative(root, f));
      return steps.join(" → ");
    });
    assert.ok(chains.length === 0, `${dir} is loaded at start:\n  ${chains.join("\n  ")}`);
  });
}
