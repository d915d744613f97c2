import { test } from "node:test";
import assert from "node:assert/strict";
import { generateSigningKey } from "./keys.ts";
import { SignatureError, signDetached, verifyDetached, type KeyResolver } from "./detached.ts";

const key = generateSigningKey();
const other = generateSigningKey();
const resolve: KeyResolver = (kid) => Promise.resolve(kid === key.kid ? key.publicKey : undefined);
const TYP = "agentgate-test+jws";

async function refusal(token: string | undefined, payload: string, typ = TYP, keys: KeyResolver = resolve): Promise<SignatureError["reason"]> {
  try {
    await verifyDetached(token, payload, typ, keys);
  } catch (err) {
    assert.ok(err instanceof SignatureError, String(err));
    return err.reason;
  }
  assert.fail("verified");
}

test("a detached signature verifies over the same payload and carries kid, typ and iat", async () => {
  const token = await signDetached('{"a":1}', key, TYP, 1_700_000_000_500);
  assert.match(token, /^[\w-]+\.\.[\w-]+$/);
  assert.deepEqual(await verifyDetached(token, '{"a":1}', TYP, resolve), { alg: "Ed25519", kid: key.kid, typ: TYP, iat: 1_700_000_000 });
});

test("Ed25519 is deterministic: the same payload, key and time sign alike", async () => {
  assert.equal(await signDetached("x", key, TYP, 1000), await signDetached("x", key, TYP, 1000));
});

const cases: { name: string; token: () => Promise<string | undefined>; payload: string; typ?: string; reason: SignatureError["reason"] }[] = [
  { name: "no token", token: () => Promise.resolve(undefined), payload: "x", reason: "missing" },
  { name: "an empty token", token: () => Promise.resolve(""), payload: "x", reason: "missing" },
  { name: "an attached (non-detached) JWS", token: () => signDetached("x", key, TYP).then((t) => t.replace("..", ".eA.")), payload: "x", reason: "malformed" },
  { name: "garbage", token: () => Promise.resolve("a.b"), payload: "x", reason: "malformed" },
  { name: "a header that is not JSON", token: () => Promise.resolve("bm90IGpzb24..c2ln"), payload: "x", reason: "malformed" },
  { name: "another payload", token: () => signDetached("x", key, TYP), payload: "y", reason: "invalid" },
  { name: "another type of signature", token: () => signDetached("x", key, "agentgate-other+jws"), payload: "x", reason: "wrong-type" },
  { name: "a key agentgate never published", token: () => signDetached("x", other, TYP), payload: "x", reason: "unknown-key" },
  {
    name: "a signature swapped under a valid header",
    token: async () => {
      const a = await signDetached("x", key, TYP);
      const b = await signDetached("y", key, TYP);
      return `${a.split("..")[0] ?? ""}..${b.split("..")[1] ?? ""}`;
    },
    payload: "x",
    reason: "invalid",
  },
  {
    name: "a header edited to another time",
    token: async () => {
      const t = await signDetached("x", key, TYP, 1000);
      const header = JSON.parse(Buffer.from(t.split("..")[0] ?? "", "base64url").toString()) as Record<string, unknown>;
      return `${Buffer.from(JSON.stringify({ ...header, iat: 99 })).toString("base64url")}..${t.split("..")[1] ?? ""}`;
    },
    payload: "x",
    reason: "invalid",
  },
];

for (const c of cases) {
  test(`refused: ${c.name}`, async () => {
    assert.equal(await refusal(await c.token(), c.payload, c.typ), c.reason);
  });
}
