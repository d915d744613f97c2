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

test("--log-level is taken by every command that runs, and refused outside its choices", async () => {
  const { logger } = await import("../log.ts");
  const before = logger.level;
  try {
    assert.equal((await run(["version", "--log-level", "debug"])).code, 0);
    assert.equal(logger.level, "debug");
    const bad = await run(["version", "--log-level", "loud"]);
    assert.equal(bad.code, 2);
    assert.match(bad.out.join("\n"), /--log-level <level>' argument 'loud' is invalid\. Allowed choices are error, warn, info, debug/);
  } finally {
    logger.level = before;
  }
});
