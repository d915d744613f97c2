import { test } from "node:test";
import assert from "node:assert/strict";
import { ephemeralKeyring, guardedKeyring, whyNoSigningKey } from "./keyring.ts";

test("guardedKeyring signs only while nothing blocks it; verification and readiness are the inner keyring's", async () => {
  const inner = ephemeralKeyring();
  let why: string | undefined = "its webhook configurations have not been read yet";
  const guarded = guardedKeyring(inner, () => why);
  assert.equal(guarded.signingKey(), undefined);
  assert.equal(whyNoSigningKey(guarded), "its webhook configurations have not been read yet");
  assert.equal(guarded.notReady(), undefined, "a gateway that withholds signatures is still ready: it answers, and denies");
  const kid = inner.signingKey()?.kid ?? "";
  assert.ok(await guarded.resolve(kid), "what was signed before still verifies");
  why = undefined;
  assert.equal(guarded.signingKey()?.kid, kid);
});

test("whyNoSigningKey: the block, else why keys are not ready, else that there is none", () => {
  assert.equal(whyNoSigningKey({ signingKey: () => undefined, resolve: () => Promise.resolve(undefined), notReady: () => "keys not loaded", stop: () => undefined }), "keys not loaded");
  assert.equal(whyNoSigningKey({ signingKey: () => undefined, resolve: () => Promise.resolve(undefined), notReady: () => undefined, stop: () => undefined }), "no signing key");
});
