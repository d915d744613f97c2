import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { KeyMaterialError, decodePrivateKeys, decodePublicKeys, encodePrivateKeys, encodePublicKeys, generateSigningKey, publicKeysFromPem, signingKeyFromPem } from "./keys.ts";

test("private keys round-trip through keys.json with their kid and creation time", () => {
  const keys = [generateSigningKey(1_000_000), generateSigningKey(2_000_000)];
  const back = decodePrivateKeys(encodePrivateKeys(keys), "keys.json");
  assert.deepEqual(back.map((k) => [k.kid, k.createdAt]), keys.map((k) => [k.kid, k.createdAt]));
  assert.ok(back[0]?.privateKey.equals(keys[0]?.privateKey as never));
});

test("the public set holds no private half and round-trips", () => {
  const keys = [generateSigningKey(1_000_000)];
  const text = encodePublicKeys(keys);
  assert.ok(!text.includes('"d"'), "no private scalar in the public set");
  const back = decodePublicKeys(text, "jwks.json");
  assert.equal(back[0]?.kid, keys[0]?.kid);
  assert.ok(back[0]?.publicKey.equals(keys[0]?.publicKey as never));
});

test("a kid that is not its key's is refused (a swapped key cannot borrow a name)", () => {
  const [a, b] = [generateSigningKey(), generateSigningKey()];
  const forged = JSON.parse(encodePublicKeys([a])) as { keys: Record<string, unknown>[] };
  forged.keys[0] = { ...forged.keys[0], kid: b.kid };
  assert.throws(() => decodePublicKeys(JSON.stringify(forged), "jwks.json"), /its kid .* is not its key's/);
});

for (const [name, text, re] of [
  ["not JSON", "{", /jwks\.json: not JSON/],
  ["no keys list", "{}", /expected \{"keys": \[\.\.\.\]\}/],
  ["a key without created", JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "x" }] }), /is not its key's|"created" is not a time/],
] as const) {
  test(`public keys: ${name} is one line naming the file`, () => {
    assert.throws(() => decodePublicKeys(text, "jwks.json"), (err: unknown) => err instanceof KeyMaterialError && re.test(err.message) && !err.message.includes("\n"));
  });
}

test("PEM: an Ed25519 private key signs; an EC key is refused naming the algorithm to use", () => {
  const ed = generateKeyPairSync("ed25519");
  const key = signingKeyFromPem(ed.privateKey.export({ type: "pkcs8", format: "pem" }), "--signing-key-file k.pem");
  assert.equal(key.kid, publicKeysFromPem(ed.publicKey.export({ type: "spki", format: "pem" }) as string, "pub.pem")[0]?.kid);
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  assert.throws(() => signingKeyFromPem(ec.privateKey.export({ type: "pkcs8", format: "pem" }), "--signing-key-file k.pem"), /--signing-key-file k\.pem: a ec key; decisions are signed with Ed25519/);
  assert.throws(() => publicKeysFromPem("nothing", "pub.pem"), /pub\.pem: no PEM key in it/);
});
