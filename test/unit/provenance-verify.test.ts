// `agentgate provenance verify` on a run's signed provenance: it prints the
// run-time gateway's trace the signature covers, and a trace with one call
// changed no longer verifies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { seal } from "../../src/provenance/envelope.ts";

const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
const calls = {
  budget: 300,
  used: 60,
  calls: 3,
  untraced: 0,
  trace: [
    { seq: 1, at: "2026-12-07T07:00:00.000Z", kind: "tool", server: "tools/fs", tool: "read_file", inputSha256: "a".repeat(64), outputSha256: "b".repeat(64), verdict: "allowed", ms: 3 },
    { seq: 2, at: "2026-12-07T07:00:01.000Z", kind: "tool", server: "tools/fs", tool: "write_file", inputSha256: "c".repeat(64), verdict: "denied", reason: "system files are not the agent's", ms: 2 },
    { seq: 3, at: "2026-12-07T07:00:02.000Z", kind: "model", model: "gpt-4o", inputSha256: "d".repeat(64), verdict: "allowed", tokens: { prompt: 40, completion: 20, total: 60 }, ms: 9 },
  ],
};
const statement = {
  _type: "https://in-toto.io/Statement/v1",
  subject: [{ name: "team/fix-1", digest: { sha256: "e".repeat(64) } }],
  predicateType: "https://slsa.dev/provenance/v1",
  predicate: { runDetails: { byproducts: [{ name: "calls", content: Buffer.from(JSON.stringify(calls)).toString("base64"), mediaType: "application/json" }] } },
};

async function verify(envelope: unknown): Promise<{ code: number; out: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-verify-"));
  await writeFile(join(dir, "key.pem"), keys.publicKey.export({ type: "spki", format: "pem" }));
  await writeFile(join(dir, "envelope.json"), JSON.stringify(envelope));
  const out: string[] = [];
  const code = await main(["provenance", "verify", "--key", join(dir, "key.pem"), join(dir, "envelope.json")], { out: (l) => out.push(l), err: (l) => out.push(l) });
  return { code, out };
}

test("a verified provenance prints the calls its signature covers, in order", async () => {
  const { code, out } = await verify(seal(statement, keys.privateKey));
  assert.equal(code, 0, out.join("\n"));
  assert.match(out[0] ?? "", /^verified \(keyid [0-9a-f]+\): predicateType https:\/\/slsa\.dev\/provenance\/v1; subjects: team\/fix-1$/);
  assert.deepEqual(out.slice(1), [
    "trace: 3 calls through agentgate's run-time gateway; 60 of 300 tokens used",
    "2026-12-07T07:00:00Z  ToolCall         #1 tool read_file on tools/fs allowed (3 ms)",
    "2026-12-07T07:00:01Z  ToolCallDenied   #2 tool write_file on tools/fs denied: system files are not the agent's (2 ms)",
    "2026-12-07T07:00:02Z  ModelCall        #3 model gpt-4o allowed: 60 tokens (40 prompt, 20 completion); 60 of 300 used (9 ms)",
  ]);
});

test("a trace with one tool call changed (a refusal turned into an allowed call) is refused", async () => {
  const envelope = seal(statement, keys.privateKey);
  const payload = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as typeof statement;
  const byproduct = payload.predicate.runDetails.byproducts[0];
  assert.ok(byproduct);
  const changed = JSON.parse(Buffer.from(byproduct.content, "base64").toString("utf8")) as typeof calls;
  const second = changed.trace[1];
  assert.ok(second);
  second.verdict = "allowed";
  byproduct.content = Buffer.from(JSON.stringify(changed)).toString("base64");
  const { code, out } = await verify({ ...envelope, payload: Buffer.from(JSON.stringify(payload)).toString("base64") });
  assert.equal(code, 1);
  assert.match(out.join("\n"), /^verification failed: /);
  assert.ok(!out.some((l) => l.includes("write_file")), "nothing of an unverified trace is printed");
});
