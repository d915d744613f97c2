// The house rules of src/ that a reviewer would otherwise check by eye
// (README "Layout"): a request flows one way, so no two folders import each
// other, directly or round a loop; commander and the CLI's flag names stay
// in src/cli/, so the domain talks in config fields and the CLI alone maps
// them to flags; and a source file over 400 lines says why in its header.
// Read with the TypeScript parser, so comments (which may explain where a
// value comes from) are not mistaken for code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dirname, "../..");
const src = join(root, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "testing" ? [] : sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

interface Parsed {
  path: string;
  /** src-relative folder: "cli", "kube", … or "." for files at the top */
  folder: string;
  imports: string[];
  strings: string[];
  lines: number;
  header: string;
}

function folderOf(path: string): string {
  const parts = relative(src, path).split(sep);
  return parts.length > 1 ? (parts[0] ?? ".") : ".";
}

function parse(path: string): Parsed {
  const text = readFileSync(path, "utf8");
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const imports: string[] = [];
  const strings: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) imports.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) imports.push(node.arguments[0].text);
    else if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) strings.push(node.text);
    node.forEachChild(visit);
  };
  visit(file);
  const header = text.split("\n").slice(0, 30).filter((l) => l.startsWith("//")).join("\n");
  return { path, folder: folderOf(path), imports, strings, lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0), header };
}

const files = sourceFiles(src).map(parse);

test("the folders of src/ import one way: no folder reaches itself round a loop", () => {
  const edges = new Map<string, Map<string, string>>();
  for (const f of files) {
    for (const spec of f.imports) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(f.path), spec);
      if (!target.startsWith(src + sep)) continue;
      const to = folderOf(target);
      if (to === f.folder) continue;
      const out = edges.get(f.folder) ?? new Map<string, string>();
      if (!out.has(to)) out.set(to, `${relative(root, f.path)} imports ${spec}`);
      edges.set(f.folder, out);
    }
  }
  // A depth-first walk; a grey folder met again closes a loop.
  const state = new Map<string, "grey" | "black">();
  const loops: string[] = [];
  const walk = (folder: string, path: string[]): void => {
    state.set(folder, "grey");
    for (const [to, why] of edges.get(folder) ?? []) {
      if (state.get(to) === "grey") {
        const loop = [...path, `${folder} → ${to} (${why})`];
        loops.push(loop.slice(loop.findIndex((step) => step.startsWith(`${to} → `))).join("; "));
      }
      else if (!state.has(to)) walk(to, [...path, `${folder} → ${to} (${why})`]);
    }
    state.set(folder, "black");
  };
  for (const folder of [...edges.keys()].sort()) if (!state.has(folder)) walk(folder, []);
  assert.deepEqual(loops, [], "a folder cycle: move the shared type or helper to the lower folder");
});

test("commander is imported only under src/cli/", () => {
  const outside = files.filter((f) => f.folder !== "cli" && f.imports.some((i) => i === "commander" || i.startsWith("commander/")));
  assert.deepEqual(outside.map((f) => relative(root, f.path)), []);
});

// Every flag the CLI defines, read from its option declarations.
const cliFlags = new Set(
  files
    .filter((f) => f.folder === "cli")
    .flatMap((f) => f.strings)
    .flatMap((s) => [...s.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]+)/g)].map((m) => m[1] ?? "")),
);

test("the CLI's flags are found (the check below would pass vacuously otherwise)", () => {
  for (const flag of ["--bundle", "--listen", "--kagent-url", "--owner", "--max-in-flight", "--client-ca-file"]) assert.ok(cliFlags.has(flag), `${flag} among the CLI's flags`);
});

test("code below src/cli/ names no CLI flag: it speaks of config fields, and the CLI maps them to flags", () => {
  const named: string[] = [];
  for (const f of files) {
    if (f.folder === "cli") continue;
    for (const s of f.strings) {
      for (const m of s.matchAll(/(?:^|[^\w-])(--[a-z][a-z0-9-]+)/g)) {
        const flag = m[1] ?? "";
        if (cliFlags.has(flag)) named.push(`${relative(root, f.path)}: ${flag} in ${JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)}`);
      }
    }
  }
  assert.deepEqual(named, []);
});

const packageFiles = readdirSync(join(root, "packages")).flatMap((p) => sourceFiles(join(root, "packages", p, "src"))).map(parse);

test("a source file over 400 lines says in its header why it is one file", () => {
  const long = [...files, ...packageFiles].filter((f) => f.lines > 400 && !/over 400 lines/i.test(f.header));
  assert.deepEqual(long.map((f) => `${relative(root, f.path)} (${String(f.lines)} lines)`), []);
});
