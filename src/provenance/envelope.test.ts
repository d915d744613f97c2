import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../cli/main.ts";
import type { DsseEnvelope } from "../types/agent.ts";
import { IN_TOTO_PAYLOAD_TYPE, envelopeDigest, keyId, loadPrivateKey, loadPublicKey, pae, seal, verifyEnvelope } from "./envelope.ts";
import { provenanceStatement } from "./slsa.ts";
import type { ProvenanceFacts } from "./facts.ts";

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

test("the digest is sha256 of the decoded payload, the bytes of the Statement's JSON (what the provenance-digest result names)", () => {
  const statement = provenanceStatement(facts);
  const env = seal(statement, privateKey);
  assert.equal(envelopeDigest(env), `sha256:${createHash("sha256").update(JSON.stringify(statement), "utf8").digest("hex")}`);
  assert.equal(Buffer.from(env.payload, "base64").toString("utf8"), JSON.stringify(statement));
});

test("the keyid is the hex sha256 of the public key's DER SubjectPublicKeyInfo, and verification reports it", () => {
  const want = createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex");
  const env = seal(provenanceStatement(facts), privateKey);
  assert.deepEqual(env.signatures.map((s) => s.keyid), [want]);
  const r = verifyEnvelope(env, publicKey);
  assert.ok(r.ok);
  assert.equal(r.keyid, want);
  const r2 = verifyEnvelope({ ...env, signatures: env.signatures.map((s) => ({ ...s, keyid: "" })) }, publicKey);
  assert.ok(r2.ok && r2.keyid === want, "a signature without keyid is reported under the key's");
  const miss = verifyEnvelope(env, other);
  assert.ok(!miss.ok && miss.reason === `no signature verifies with the given key (keyid ${keyId(other)})`);
});

/** An envelope signed properly over whatever type and payload: only the content checks can refuse it. */
function signedAs(payloadType: string, payload: string): DsseEnvelope {
  const bytes = Buffer.from(payload, "utf8");
  return { payloadType, payload: bytes.toString("base64"), signatures: [{ keyid: keyId(publicKey), sig: sign("sha256", pae(payloadType, bytes), privateKey).toString("base64") }] };
}

test("a valid signature over something other than an in-toto Statement v1 is refused, saying what it is", () => {
  const cases: [string, DsseEnvelope, string][] = [
    ["another payloadType", signedAs("text/plain", JSON.stringify(provenanceStatement(facts))), "payloadType is \"text/plain\", not application/vnd.in-toto+json"],
    ["a payload that is not JSON", signedAs(IN_TOTO_PAYLOAD_TYPE, "not json"), "the signed payload is not JSON"],
    ["a Statement of another version", signedAs(IN_TOTO_PAYLOAD_TYPE, JSON.stringify({ ...provenanceStatement(facts), _type: "https://in-toto.io/Statement/v0.1" })), "the signed payload is not an in-toto Statement v1"],
    ["a JSON value that is not an object", signedAs(IN_TOTO_PAYLOAD_TYPE, "null"), "the signed payload is not an in-toto Statement v1"],
  ];
  for (const [name, env, reason] of cases) assert.deepEqual(verifyEnvelope(env, publicKey), { ok: false, reason }, name);
  assert.equal(verifyEnvelope(signedAs(IN_TOTO_PAYLOAD_TYPE, JSON.stringify(provenanceStatement(facts))), publicKey).ok, true, "the same construction verifies for a Statement");
});

test("keys: only a PKCS#8 PEM ECDSA P-256 private key is taken, and an EC public key; each refusal names the place", () => {
  const pem = (k: KeyObject, type: "pkcs8" | "sec1" | "spki") => k.export({ type, format: "pem" } as never).toString();
  assert.equal(loadPrivateKey(pem(privateKey, "pkcs8"), "secret agentgate/key").asymmetricKeyDetails?.namedCurve, "prime256v1");
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
  assert.throws(() => loadPrivateKey(pem(p384.privateKey, "pkcs8"), "secret agentgate/key"), { name: "KeyMaterialError", message: "secret agentgate/key: the key must be ECDSA P-256, got ec secp384r1" });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  assert.throws(() => loadPrivateKey(pem(rsa.privateKey, "pkcs8"), "k.pem"), { name: "KeyMaterialError", message: "k.pem: the key must be ECDSA P-256, got rsa" });
  assert.throws(() => loadPrivateKey(pem(privateKey, "sec1"), "k.pem"), { name: "KeyMaterialError", message: 'k.pem: not a PKCS#8 PEM private key (expected "-----BEGIN PRIVATE KEY-----")' });
  assert.throws(() => loadPrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "k.pem"), (err: unknown) => err instanceof Error && err.name === "KeyMaterialError" && /^k\.pem: cannot read the private key: /.test(err.message));
  assert.equal(loadPublicKey(pem(publicKey, "spki"), "pub.pem").asymmetricKeyType, "ec");
  assert.throws(() => loadPublicKey(pem(rsa.publicKey, "spki"), "pub.pem"), { name: "KeyMaterialError", message: "pub.pem: an RSA key; provenance is signed with ECDSA P-256 (prime256v1): give the public half of the controller's signing key" });
  assert.throws(() => loadPublicKey(pem(p384.publicKey, "spki"), "pub.pem"), { name: "KeyMaterialError", message: /^pub\.pem: an ECDSA secp384r1 key; provenance is signed with ECDSA P-256/ });
});
