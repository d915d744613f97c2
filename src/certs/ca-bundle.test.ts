// What the caBundle of a webhook configuration becomes: the Secret's CAs, and
// never a step backwards from a replica that has not seen the newest Secret.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCertificateAuthority } from "../tls/self-signed.ts";
import { fingerprint } from "./material.ts";
import { mergeCaBundle, parseWebhookConfigRef, WebhookConfigRefError } from "./ca-bundle.ts";

const T0 = Date.parse("2026-06-01T00:00:00Z");
const ca = (startSeconds: number, validitySeconds: number) => createCertificateAuthority("agentgate-ca", { validityMs: validitySeconds * 1000, now: new Date(T0 + startSeconds * 1000) }).cert;
const fps = (pems: string[]) => pems.map(fingerprint);

const old = ca(0, 60);
const current = ca(40, 60);
const newer = ca(80, 60);
const now = new Date(T0 + 90_000);

test("the caBundle becomes the Secret's unexpired CAs, oldest first", () => {
  assert.deepEqual(fps(mergeCaBundle([current, old], [], new Date(T0 + 50_000))), fps([old, current]));
  assert.deepEqual(fps(mergeCaBundle([old, current], [old], now)), fps([current]), "expired CA dropped");
});

test("a CA newer than any the replica knows of is kept: it comes from a newer Secret", () => {
  assert.deepEqual(fps(mergeCaBundle([current], [current, newer], now)), fps([current, newer]));
});

test("an older CA the Secret no longer lists is removed, and garbage is replaced", () => {
  const older = ca(30, 100);
  assert.deepEqual(fps(mergeCaBundle([current], [older, current], now)), fps([current]));
  assert.deepEqual(fps(mergeCaBundle([current], ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"], now)), fps([current]));
});

test("--webhook-config takes NAME (both kinds), validating/NAME or mutating/NAME", () => {
  assert.deepEqual(parseWebhookConfigRef("agentgate"), { kinds: ["validating", "mutating"], name: "agentgate" });
  assert.deepEqual(parseWebhookConfigRef("mutating/agentgate.io"), { kinds: ["mutating"], name: "agentgate.io" });
  for (const bad of ["", "Agentgate", "other/agentgate", "a/"]) assert.throws(() => parseWebhookConfigRef(bad), WebhookConfigRefError, bad);
});
