// gateway.maxInFlight reaches the gateway as --max-in-flight: by default the
// server's own default (so the chart and `agentgate serve` agree), a value
// when set, and a bound under 1 is refused by the schema.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { DEFAULT_MAX_IN_FLIGHT } from "../../src/server/overload.ts";
import { toolPath } from "../support/control-plane.ts";

const CHART = fileURLToPath(new URL("../../charts/agentgate", import.meta.url));

function helm(...set: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(toolPath("helm"), ["template", "gw", CHART, "--namespace", "agentgate-system", "--show-only", "templates/gateway-deployment.yaml", ...set.flatMap((s) => ["--set", s])], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface Deployment {
  spec: { template: { spec: { containers: { name: string; args?: string[] }[] } } };
}

async function maxInFlight(...set: string[]): Promise<string[]> {
  const r = await helm(...set);
  assert.equal(r.code, 0, r.stderr);
  const deployment = parseAllDocuments(r.stdout).map((d) => d.toJS() as Deployment)[0];
  const args = deployment?.spec.template.spec.containers.find((c) => c.name === "gateway")?.args ?? [];
  return args.filter((a) => a.startsWith("--max-in-flight=")).map((a) => a.slice("--max-in-flight=".length));
}

test("the chart passes the server's default in-flight bound, or the value set", async () => {
  assert.deepEqual(await maxInFlight(), [String(DEFAULT_MAX_IN_FLIGHT)]);
  assert.deepEqual(await maxInFlight("gateway.maxInFlight=200"), ["200"]);
});

test("an in-flight bound under 1 is refused", async () => {
  const r = await helm("gateway.maxInFlight=0");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /'\/gateway\/maxInFlight': minimum: got 0, want 1/);
});
