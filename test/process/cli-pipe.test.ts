// A reader that stops early (`agentgate capabilities | head -c 10`) ends the
// output quietly: no EPIPE stack, exit 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));

test("agentgate capabilities | head -c 10: the closed pipe ends it quietly, exit 0", async () => {
  const script = `"${process.execPath}" "${BIN}" capabilities | head -c 10 > /dev/null; echo "status=\${PIPESTATUS[0]}"`;
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
    execFile("bash", ["-c", script], (_err, out, err) => resolve({ stdout: out, stderr: err }));
  });
  assert.equal(stdout.trim(), "status=0");
  assert.doesNotMatch(stderr, /EPIPE|Error/);
});
