import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PathToken, readPathToken } from "./path-token.ts";

const TOKEN = "k3jx9qlw2mzr8tnv4byc7e5h6g0fa1dp";

test("only /validate/<token> and /mutate/<token> match", () => {
  const t = new PathToken(TOKEN);
  assert.equal(t.match(`/validate/${TOKEN}`), "validate");
  assert.equal(t.match(`/mutate/${TOKEN}`), "mutate");
  for (const path of ["/validate", "/mutate", `/validate/${TOKEN}x`, `/validate/${TOKEN.slice(1)}`, `/validate/${TOKEN}/`, `/other/${TOKEN}`, `/validate/a/${TOKEN}`]) assert.equal(t.match(path), undefined, path);
});

test("a token file: trimmed, and a short or odd token is a one-line error naming the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-token-"));
  const file = join(dir, "token");
  writeFileSync(file, `${TOKEN}\n`);
  assert.equal(readPathToken(file), TOKEN);
  writeFileSync(file, "short");
  assert.throws(() => readPathToken(file), new RegExp(`^PathTokenError: ${file}: the webhook path token must be 32 to 253 lowercase letters and digits \\(found 5 characters\\)$`));
  writeFileSync(file, "a/b?c#d e".repeat(4));
  assert.throws(() => readPathToken(file), /some of them others/);
  assert.throws(() => readPathToken(join(dir, "missing")), /missing: cannot read: ENOENT/);
});

test("a rotated token file takes effect without a restart; an unreadable one keeps the last good token", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-token-"));
  const file = join(dir, "token");
  writeFileSync(file, TOKEN);
  const t = PathToken.fromFile(file);
  const next = "zt8mq2wx7rlp4vn9bk3ch6dj5f0ga1es";
  writeFileSync(file, next);
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.equal(t.match(`/validate/${next}`), "validate");
  assert.equal(t.match(`/validate/${TOKEN}`), undefined);
  writeFileSync(file, "bad");
  utimesSync(file, new Date(), new Date(Date.now() + 10_000));
  assert.equal(t.match(`/validate/${next}`), "validate", "the last good token stays");
});
