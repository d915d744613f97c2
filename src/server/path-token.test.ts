import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PathToken, readPathTokens } from "./path-token.ts";

const TOKEN = "k3jx9qlw2mzr8tnv4byc7e5h6g0fa1dp";

test("only /validate/<token> and /mutate/<token> match", () => {
  const t = new PathToken([TOKEN]);
  assert.equal(t.match(`/validate/${TOKEN}`), "validate");
  assert.equal(t.match(`/mutate/${TOKEN}`), "mutate");
  for (const path of ["/validate", "/mutate", `/validate/${TOKEN}x`, `/validate/${TOKEN.slice(1)}`, `/validate/${TOKEN}/`, `/other/${TOKEN}`, `/validate/a/${TOKEN}`]) assert.equal(t.match(path), undefined, path);
});

test("a token file: trimmed, and a short or odd token is a one-line error naming the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-token-"));
  const file = join(dir, "token");
  writeFileSync(file, `${TOKEN}\n`);
  assert.deepEqual(readPathTokens(file), [TOKEN]);
  writeFileSync(file, "short");
  assert.throws(() => readPathTokens(file), new RegExp(`^PathTokenError: ${file}: line 1: the webhook path token must be 32 to 253 lowercase letters and digits \\(found 5 characters\\)$`));
  writeFileSync(file, "a/b?c#d e".repeat(4));
  assert.throws(() => readPathTokens(file), /some of them others/);
  assert.throws(() => readPathTokens(join(dir, "missing")), /missing: cannot read: ENOENT/);
});

test("a rotated token file takes effect on reload, without a restart; an unreadable or invalid one keeps the token in use", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-token-"));
  const file = join(dir, "token");
  writeFileSync(file, TOKEN);
  const t = PathToken.fromFile(file);
  assert.equal(t.reload(), false, "unchanged");
  const next = "zt8mq2wx7rlp4vn9bk3ch6dj5f0ga1es";
  writeFileSync(file, next);
  assert.equal(t.reload(), true);
  assert.equal(t.match(`/validate/${next}`), "validate");
  assert.equal(t.match(`/validate/${TOKEN}`), undefined, "the old token no longer opens it");
  writeFileSync(file, "bad");
  assert.equal(t.reload(), false);
  assert.equal(t.match(`/validate/${next}`), "validate", "the last good token stays");
  rmSync(file);
  assert.equal(t.reload(), false);
  assert.equal(t.match(`/validate/${next}`), "validate");
});

test("a rotation: the file lists the next token before the webhooks move to it, and both open the endpoints meanwhile", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentgate-token-"));
  const file = join(dir, "token");
  const next = "nx8mq2wx7rlp4vn9bk3ch6dj5f0ga1es";
  writeFileSync(file, `${TOKEN}\n${next}\n\n`);
  const t = PathToken.fromFile(file);
  assert.equal(t.match(`/validate/${TOKEN}`), "validate");
  assert.equal(t.match(`/mutate/${next}`), "mutate");
  writeFileSync(file, `${next}\n`);
  assert.equal(t.reload(), true);
  assert.equal(t.match(`/validate/${TOKEN}`), undefined, "the old one is gone once the file drops it");
  writeFileSync(file, `${next}\nshort\n`);
  assert.throws(() => readPathTokens(file), /line 2: the webhook path token must be/);
  writeFileSync(file, "\n\n");
  assert.throws(() => readPathTokens(file), /holds no webhook path token/);
});
