// OPA bundle signatures, proven against the real opa in both directions:
// bundles signed by `opa build --signing-key` verify here, bundles signed by
// `agentgate bundle sign` are accepted by `opa build --verification-key`,
// and every kind of tampering is refused with a one-line reason.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompactSign } from "jose";
import { main } from "../../src/cli/main.ts";
import { findOpa, runOpa } from "../../src/cli/opa.ts";
import { readBundleFiles, writeBundleArchive } from "../../src/policy/bundle-archive.ts";
import { hashBundleFile, readVerificationKey, signBundleFiles, signingKeyFrom, verifyBundleFiles, verificationKeyFrom, SignatureError } from "../../src/policy/signatures.ts";

const REGO = `package agentgate
violations contains {"policy": "p", "field": "spec.x", "message": "too big", "action": "deny"} if input.request.object.spec.x > data.limits.max
`;
// Number spellings and a key order opa's canonical hashing must see through.
const DATA = `{"limits": {"max": 1.50, "name": "x<y\u2028"}, "list": [1e3, -0, true, null]}`;

let dir: string;
let src: string;
const keys: Record<string, { priv: string; pub: string }> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-sig-test-"));
  src = join(dir, "src");
  await mkdir(src);
  await writeFile(join(src, "p.rego"), REGO);
  await writeFile(join(src, "data.json"), DATA);
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  for (const [name, pair] of [["ES256", ec], ["RS256", rsa]] as const) {
    keys[name] = { priv: join(dir, `${name}.key.pem`), pub: join(dir, `${name}.pub.pem`) };
    await writeFile(keys[name].priv, pair.privateKey.export({ type: "pkcs8", format: "pem" }));
    await writeFile(keys[name].pub, pair.publicKey.export({ type: "spki", format: "pem" }));
  }
  keys.HS256 = { priv: join(dir, "hmac.secret"), pub: join(dir, "hmac.secret") };
  await writeFile(keys.HS256.priv, randomBytes(32).toString("hex"));
});

after(() => rm(dir, { recursive: true, force: true }));

const keyOf = (alg: string) => keys[alg] as { priv: string; pub: string };

/** A wasm bundle built and signed by the real opa. */
async function opaSigned(alg: string, extra: string[] = []): Promise<string> {
  const out = join(dir, `opa-${alg}-${String(Date.now())}.tar.gz`);
  await runOpa(["build", "-b", "-t", "wasm", "-e", "agentgate/violations", "--revision", "r1", "--signing-key", keyOf(alg).priv, "--signing-alg", alg, ...extra, "-o", out, src]);
  return out;
}

/** What the real opa says of a signed bundle: undefined when it accepts it (opa prints its error on stdout). */
function opaVerdict(bundle: string, alg: string, extra: string[] = []): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(findOpa(), ["build", "-b", bundle, "--verification-key", keyOf(alg).pub, "--signing-alg", alg, ...extra, "-o", join(dir, "opa-verified.tar.gz")], (err, stdout, stderr) => {
      resolve(err ? `${stdout}${stderr}`.trim() || err.message : undefined);
    });
  });
}

function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) }).then((code) => ({ code, out: out.join("\n"), err: err.join("\n") }));
}

for (const alg of ["ES256", "RS256"]) {
  test(`a bundle signed by opa build (${alg}) verifies here, every file covered`, async () => {
    const bundle = await opaSigned(alg);
    const files = await readBundleFiles(bundle, "b");
    const result = await verifyBundleFiles("b", files, await readVerificationKey(keyOf(alg).pub));
    assert.deepEqual(result, { keyId: "default", scope: "", algorithm: alg, files: files.size - 1 });
    assert.ok(files.has("policy.wasm") && files.has("data.json") && files.has(".manifest"));
  });
}

for (const alg of ["ES256", "RS256", "HS256"]) {
  test(`a bundle signed by agentgate bundle sign (${alg}) is accepted by opa; tampered, opa and agentgate refuse it`, async () => {
    const plain = join(dir, `plain-${alg}.tar.gz`);
    await runOpa(["build", "-b", "-t", "wasm", "-e", "agentgate/violations", "--revision", "r2", "-o", plain, src]);
    const signed = join(dir, `signed-${alg}.tar.gz`);
    const res = await cli("bundle", "sign", plain, "--signing-key", keyOf(alg).priv, ...(alg === "HS256" ? ["--signing-alg", alg] : []), "--output-file", signed);
    assert.equal(res.code, 0, res.err);
    assert.equal(await opaVerdict(signed, alg), undefined);
    const verified = await cli("bundle", "verify", signed, "--verification-key", keyOf(alg).pub, ...(alg === "HS256" ? ["--signing-alg", alg] : []));
    assert.equal(verified.code, 0, verified.err);

    const files = await readBundleFiles(signed, "b");
    files.set("data.json", Buffer.from(`{"limits": {"max": 100}}`));
    const tampered = join(dir, `tampered-${alg}.tar.gz`);
    await writeBundleArchive(files, tampered);
    assert.match(await opaVerdict(tampered, alg) ?? "accepted", /digest mismatch/);
    const refused = await cli("bundle", "verify", tampered, "--verification-key", keyOf(alg).pub, ...(alg === "HS256" ? ["--signing-alg", alg] : []));
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^verification failed: bundle "tampered-[A-Z0-9]+": signature: file data\.json: digest mismatch/);
  });
}

test("key id and scope are checked against the configuration, as opa does for scope", async () => {
  const bundle = await opaSigned("ES256", ["--verification-key-id", "team-a"]);
  const files = await readBundleFiles(bundle, "b");
  const material = await readFile(keyOf("ES256").pub);
  await verifyBundleFiles("b", files, verificationKeyFrom(material, "k", { keyId: "team-a" }));
  await assert.rejects(verifyBundleFiles("b", files, verificationKeyFrom(material, "k")), /signed with key id "team-a", but the verification key's id is "default"/);
  await assert.rejects(verifyBundleFiles("b", files, verificationKeyFrom(material, "k", { keyId: "team-a", scope: "prod" })), /scope mismatch: signed for scope "", configured "prod"/);

  const scoped = new Map(files);
  scoped.set(".signatures.json", await signBundleFiles(files, signingKeyFrom(await readFile(keyOf("ES256").priv), "k", { scope: "prod" })));
  const out = join(dir, "scoped.tar.gz");
  await writeBundleArchive(scoped, out);
  assert.equal(await opaVerdict(out, "ES256", ["--scope", "prod"]), undefined);
  assert.match(await opaVerdict(out, "ES256") ?? "accepted", /scope mismatch/);
});

test("every tampering is refused with a one-line reason", async () => {
  const bundle = await opaSigned("ES256");
  const good = await readBundleFiles(bundle, "b");
  const rego = [...good.keys()].find((k) => k.endsWith("p.rego")) ?? "p.rego";
  const key = await readVerificationKey(keyOf("ES256").pub);
  const publicPem = await readFile(keyOf("ES256").pub);
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
  // The classic JWT attack: HS256 with the public key as the HMAC secret.
  const confused = await new CompactSign(Buffer.from(JSON.stringify({ files: [] }))).setProtectedHeader({ alg: "HS256", kid: "default" }).sign(publicPem);
  const resigned = async (key2: Parameters<typeof signBundleFiles>[1], files = good) => {
    const next = new Map(files);
    next.set(".signatures.json", await signBundleFiles(files, key2));
    return next;
  };
  const cases: [string, Map<string, Buffer> | Promise<Map<string, Buffer>>, RegExp][] = [
    ["data changed", new Map(good).set("data.json", Buffer.from(`{"limits": {"max": 100}}`)), /file data\.json: digest mismatch/],
    ["number respelled", new Map(good).set("data.json", Buffer.from(DATA.replace("1.50", "1.5"))), /file data\.json: digest mismatch/],
    ["wasm changed", new Map(good).set("policy.wasm", Buffer.concat([good.get("policy.wasm") as Buffer, Buffer.from([0])])), /file policy\.wasm: digest mismatch/],
    ["file added", new Map(good).set("extra/data.json", Buffer.from("{}")), /file extra\/data\.json is not covered by the signature/],
    ["file removed", (() => { const m = new Map(good); m.delete(rego); return m; })(), /file\(s\) \S+\/p\.rego signed but missing from the bundle/],
    ["unsigned", (() => { const m = new Map(good); m.delete(".signatures.json"); return m; })(), /the bundle is unsigned \(no \.signatures\.json\)/],
    ["other key", resigned(signingKeyFrom(Buffer.from(other.privateKey.export({ type: "pkcs8", format: "pem" })), "k")), /the JWT does not verify with verification key .* \(ES256\)/],
    ["alg confusion", new Map(good).set(".signatures.json", Buffer.from(JSON.stringify({ signatures: [confused] }))), /the JWT does not verify/],
    ["garbage", new Map(good).set(".signatures.json", Buffer.from("{")), /\.signatures\.json is not valid JSON/],
    ["two JWTs", new Map(good).set(".signatures.json", Buffer.from(JSON.stringify({ signatures: ["a", "b"] }))), /holds 2 JWTs/],
  ];
  for (const [name, filesOrPromise, reason] of cases) {
    const files = await filesOrPromise;
    const err = await verifyBundleFiles("b", files, key).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SignatureError, `${name}: expected a refusal`);
    assert.match(err.message, reason, name);
    assert.match(err.message, /^bundle "b": signature: [^\n]+$/, `${name}: one line`);
  }
});

test("structured files are hashed in OPA's canonical form: reformatting keeps the signature", async () => {
  const bundle = await opaSigned("ES256");
  const files = await readBundleFiles(bundle, "b");
  const reformatted = `{\n  "list": [1e3, -0, true, null],\n  "limits": {"name": "x<y\\u2028", "max": 1.50}\n}\n`;
  files.set("data.json", Buffer.from(`\uFEFF${reformatted}`));
  const manifest = JSON.parse((files.get(".manifest") as Buffer).toString("utf8")) as Record<string, unknown>;
  const reversed = Object.fromEntries(Object.entries(manifest).reverse());
  files.set(".manifest", Buffer.from(JSON.stringify(reversed, null, 4)));
  await verifyBundleFiles("b", files, await readVerificationKey(keyOf("ES256").pub));
  // The canonical form itself: sorted keys, no whitespace, numbers as written, < not escaped.
  assert.equal(
    hashBundleFile("data.json", Buffer.from(reformatted)),
    hashBundleFile("blob", Buffer.from(`{"limits":{"max":1.50,"name":"x<y\\u2028"},"list":[1e3,-0,true,null]}`)),
  );
});

test("bad keys and usage exit 2 with one line naming the key", async () => {
  const bundle = await opaSigned("ES256");
  const missing = await cli("bundle", "verify", bundle, "--verification-key", join(dir, "nope.pem"));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^agentgate: verification key .*nope\.pem: cannot read: ENOENT$/);
  const wrongAlg = await cli("bundle", "verify", bundle, "--verification-key", keyOf("ES256").pub, "--signing-alg", "RS256");
  assert.equal(wrongAlg.code, 2);
  assert.match(wrongAlg.err, /an EC prime256v1 key cannot be used with RS256$/);
  const notPem = await cli("bundle", "sign", bundle, "--signing-key", keyOf("HS256").priv);
  assert.equal(notPem.code, 2);
  assert.match(notPem.err, /not a PEM key; for an HMAC secret pass the algorithm/);
  assert.throws(() => verificationKeyFrom(Buffer.from("x"), "k", { algorithm: "none" }), /signing algorithm "none" is not supported/);
});
