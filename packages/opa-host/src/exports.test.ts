// The package's surface is its exports map; the image and an installed
// agentgate load each entry's compiled twin (the "agentgate-compiled"
// condition), which no dev run or test touches. A new entry whose twin is
// misnamed would only fail there, so the pairing is checked here, and the
// README is checked to name every export of the main entry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const manifest = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { exports: Record<string, string | Record<string, string>> };
const build = JSON.parse(readFileSync(`${ROOT}tsconfig.build.json`, "utf8")) as { compilerOptions: { rootDir: string; outDir: string } };

test("each export serves src/X.ts by default and dist/X.js, where tsconfig.build.json puts it, when compiled", () => {
  assert.deepEqual([build.compilerOptions.rootDir, build.compilerOptions.outDir], ["src", "dist"]);
  for (const [path, target] of Object.entries(manifest.exports)) {
    if (typeof target === "string") {
      assert.equal(path, "./package.json", `${path}: only package.json is served unconditioned`);
      continue;
    }
    const source = /^\.\/src\/(.+)\.ts$/.exec(target.default ?? "");
    assert.ok(source?.[1], `${path}: default is a .ts under src/`);
    assert.ok(existsSync(`${ROOT}${source[0]}`), `${path}: ${source[0]} exists`);
    assert.equal(target.types, target.default, `${path}: types are the source`);
    assert.equal(target["agentgate-compiled"], `./dist/${source[1]}.js`, `${path}: its compiled twin`);
    assert.deepEqual(Object.keys(target), ["types", "agentgate-compiled", "default"], `${path}: default last, or it would shadow the condition`);
  }
});

test("the README names every export of the main entry", async () => {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const surface = Object.keys(await import("./index.ts"));
  assert.ok(surface.length > 0);
  const missing = surface.filter((name) => !readme.includes(`\`${name}`));
  assert.deepEqual(missing, [], "exports the README does not document");
});
