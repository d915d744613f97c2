import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { main } from "./main.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

async function run(args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => out.push(`err: ${l}`) });
  return { code, out };
}

test("agentgate --version prints the package's version, exit 0", async () => {
  const { code, out } = await run(["--version"]);
  assert.equal(code, 0);
  assert.deepEqual(out, [pkg.version]);
});

test("agentgate version also names the embedded default bundle and the Node.js it runs on", async () => {
  const { code, out } = await run(["version"]);
  assert.equal(code, 0);
  assert.equal(out[0], `agentgate ${pkg.version}`);
  assert.match(out[1] ?? "", /^default bundle: src-[0-9a-f]{16} \(sha256:[0-9a-f]{64}\)$/);
  assert.equal(out[2], `node: ${process.version}`);
});
