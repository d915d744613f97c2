import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../cli/main.ts";
import { envelopeDigest, pae, seal, verifyEnvelope } from "./envelope.ts";
import { provenanceStatement } from "./slsa.ts";
import type { ProvenanceFacts } from "../controller/driver.ts";

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;

const facts: ProvenanceFacts = {
  run: { metadata: { name: "r1", namespace: "qe", uid: "u1", annotations: {} }, spec: { goal: "write tests", configRef: { name: "c" } } },
  config: { metadata: { name: "c", namespace: "qe" }, spec: { systemPrompt: "p" } },
  guardrails: { tokenBudget: 10, timeout: "1m", maxIterations: 2, networkPolicy: "strict", egress: [], rbac: [], approval: { required: false, approverGroups: [] }, tools: [] },
  agent: { namespace: "qe", name: "r1-agent", spec: {} },
  modelConfig: { namespace: "qe", name: "claude", spec: { provider: "Anthropic", model: "claude-x" } },
  toolServers: [],
  usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3, toolCalls: 0 },
  results: [{ name: "result", value: "done" }],
  policyRevision: "default@src-1",
  startedOn: "2026-11-25T00:00:00Z",
  finishedOn: "2026-11-25T00:01:00Z",
  outcome: "Succeeded",
};

test("the statement is in-toto v1 with a SLSA v1 predicate of the agent build type", () => {
  const s = provenanceStatement(facts) as { _type: string; predicateType: string; subject: { name: string }[]; predicate: { buildDefinition: { buildType: string } } };
  assert.equal(s._type, "https://in-toto.io/Statement/v1");
  assert.equal(s.predicateType, "https://slsa.dev/provenance/v1");
  assert.equal(s.predicate.buildDefinition.buildType, "https://tekton.dev/agent-provenance/v1");
  assert.deepEqual(s.subject.map((x) => x.name), ["qe/r1", "result:result"]);
});

// The DSSE protocol's own example (secure-systems-lab/dsse, protocol.md):
// PAE("http://example.com/HelloWorld", "hello world").
test("PAE is DSSE's pre-authentication encoding, byte for byte (known answer)", () => {
  assert.equal(pae("http://example.com/HelloWorld", Buffer.from("hello world")).toString("utf8"), "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  // lengths are byte counts, not UTF-16 units
  assert.equal(pae("application/vnd.in-toto+json", Buffer.from("é", "utf8")).toString("utf8"), "DSSEv1 28 application/vnd.in-toto+json 2 é");
});

test("a sealed envelope verifies with its key, not with another, and not unsigned", () => {
  const env = seal(provenanceStatement(facts), privateKey);
  assert.equal(verifyEnvelope(env, publicKey).ok, true);
  assert.equal(verifyEnvelope(env, other).ok, false);
  const unsigned = seal(provenanceStatement(facts));
  const r = verifyEnvelope(unsigned, publicKey);
  assert.ok(!r.ok && /no signatures/.test(r.reason));
  assert.match(envelopeDigest(env), /^sha256:[0-9a-f]{64}$/);
});

test("tampering with any byte of the payload or signature breaks verification", () => {
  const env = seal(provenanceStatement(facts), privateKey);
  const payload = Buffer.from(env.payload, "base64");
  for (let i = 0; i < payload.length; i += Math.max(1, Math.floor(payload.length / 64))) {
    const bad = Buffer.from(payload);
    bad[i] = (bad[i] ?? 0) ^ 0x01;
    assert.equal(verifyEnvelope({ ...env, payload: bad.toString("base64") }, publicKey).ok, false, `byte ${i}`);
  }
  const sig = Buffer.from(env.signatures[0]?.sig ?? "", "base64");
  sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0x01;
  assert.equal(verifyEnvelope({ ...env, signatures: [{ keyid: "", sig: sig.toString("base64") }] }, publicKey).ok, false);
  assert.equal(verifyEnvelope({ ...env, payloadType: "text/plain" }, publicKey).ok, false);
});

test("agentgate provenance verify: 0 verified, 1 tampered, 2 bad usage", async () => {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-prov-"));
  const env = seal(provenanceStatement(facts), privateKey);
  await writeFile(join(dir, "pub.pem"), publicKey.export({ type: "spki", format: "pem" }));
  await writeFile(join(dir, "run.yaml"), `apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: r1}\nstatus:\n  provenance: ${JSON.stringify(env)}\n`);
  const tampered = { ...env, payload: Buffer.from(Buffer.from(env.payload, "base64").toString().replace("qe/r1", "qe/r2")).toString("base64") };
  await writeFile(join(dir, "bad.json"), JSON.stringify(tampered));
  const out: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
  assert.equal(await main(["provenance", "verify", "--key", join(dir, "pub.pem"), join(dir, "run.yaml")], io), 0);
  assert.match(out.pop() ?? "", /^verified \(keyid [0-9a-f]{64}\): predicateType https:\/\/slsa\.dev\/provenance\/v1; subjects: qe\/r1, result:result$/);
  assert.equal(await main(["provenance", "verify", "--key", join(dir, "pub.pem"), join(dir, "bad.json")], io), 1);
  assert.match(out.pop() ?? "", /^verification failed: no signature verifies/);
  assert.equal(await main(["provenance", "verify", "--key", join(dir, "missing.pem"), join(dir, "bad.json")], io), 2);
  assert.match(out.pop() ?? "", /missing\.pem: cannot read: ENOENT/);
});
