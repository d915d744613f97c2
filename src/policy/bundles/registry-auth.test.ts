// Registry authentication's pure parts: the challenges of WWW-Authenticate,
// a docker config.json's credentials, the token request and its answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { basicAuthorization, parseDockerConfig, parseTokenAnswer, parseWwwAuthenticate, readDockerConfig, registryErrorText, registryKey, tokenUrl } from "./registry-auth.ts";

test("WWW-Authenticate: docker's Bearer challenge, quoted commas, several challenges, odd spacing", () => {
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/opa:pull"'), [
    { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/opa:pull" } },
  ]);
  // A scope of several actions holds a comma inside its quotes.
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://ghcr.io/token", service="ghcr.io", scope="repository:acme/p:pull,push"')[0]?.params.scope, "repository:acme/p:pull,push");
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm", Bearer realm=https://t.example/token,service=reg'), [
    { scheme: "basic", params: { realm: "Registry Realm" } },
    { scheme: "bearer", params: { realm: "https://t.example/token", service: "reg" } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('bearer  Realm = "x\\"y" , error="invalid_token"'), [{ scheme: "bearer", params: { realm: 'x"y', error: "invalid_token" } }]);
  assert.deepEqual(parseWwwAuthenticate(""), []);
  assert.deepEqual(parseWwwAuthenticate("Negotiate"), [{ scheme: "negotiate", params: {} }]);
});

test("the token URL carries the challenge's service and scope, or the pull scope of the repository", () => {
  const [challenge] = parseWwwAuthenticate('Bearer realm="https://auth.example/token?x=1",service="reg",scope="repository:a/b:pull"');
  assert.ok(challenge);
  assert.equal(tokenUrl(challenge, "repository:other:pull").toString(), "https://auth.example/token?x=1&service=reg&scope=repository%3Aa%2Fb%3Apull");
  assert.equal(tokenUrl({ scheme: "bearer", params: { realm: "https://auth.example/token" } }, "repository:a/b:pull").searchParams.get("scope"), "repository:a/b:pull");
  assert.throws(() => tokenUrl({ scheme: "bearer", params: {} }, "s"), /names no realm/);
  assert.throws(() => tokenUrl({ scheme: "bearer", params: { realm: "file:///etc/passwd" } }, "s"), /is not http\(s\)/);
});

test("a token service's answer: token or access_token, expiry renewed early, 60 s when not said", () => {
  assert.deepEqual(parseTokenAnswer({ token: "t1", expires_in: 300 }, 1000), { token: "t1", expiresAt: 1000 + 290_000 });
  assert.deepEqual(parseTokenAnswer({ access_token: "t2" }, 0), { token: "t2", expiresAt: 50_000 });
  assert.deepEqual(parseTokenAnswer({ token: "t3", expires_in: 4 }, 0), { token: "t3", expiresAt: 2000 });
  assert.throws(() => parseTokenAnswer({ expires_in: 3 }), /holds no token/);
  assert.throws(() => parseTokenAnswer("x"), /no JSON object/);
});

test("docker config.json: auth or username/password per registry, keys as docker writes them", () => {
  const config = parseDockerConfig(JSON.stringify({
    auths: {
      "https://index.docker.io/v1/": { auth: Buffer.from("hub-user:hub:pass").toString("base64") },
      "Registry.Example.com:5000": { username: "u", password: "p" },
      "https://ghcr.io": { auth: Buffer.from("gh:token").toString("base64"), email: "x@y" },
    },
    credHelpers: { "123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login" },
  }), "cfg.json");
  assert.deepEqual([...config.keys()].sort(), ["docker.io", "ghcr.io", "registry.example.com:5000"]);
  // A password may hold colons: only the first one separates.
  assert.deepEqual(config.get("docker.io"), { username: "hub-user", password: "hub:pass" });
  assert.deepEqual(config.get(registryKey("registry.example.com:5000")), { username: "u", password: "p" });
  assert.equal(basicAuthorization({ username: "gh", password: "token" }), `Basic ${Buffer.from("gh:token").toString("base64")}`);
  assert.equal(registryKey("registry-1.docker.io"), "docker.io");
});

test("a docker config.json that is none: one line naming the file and the problem", async () => {
  const bad: [string, RegExp][] = [
    ["{", /^Error: cfg: not valid JSON \(at line 1 column 2\); expected a docker config\.json$/],
    // V8 quotes the text near a syntax error; a password must not reach the log that way.
    ['{"auths": {"r.io": {"auth": "c2VjcmV0OnB3"}},,}', /^Error: cfg: not valid JSON \(at line 1 column \d+\); expected a docker config\.json$/],
    ["[]", /^Error: cfg: expected a docker config\.json, a JSON object with "auths"$/],
    ["{}", /^Error: cfg: has no "auths"/],
    ['{"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}}', /^Error: cfg: auths\.r\.io\.auth is not base64 of user:password$/],
    ['{"auths": {"r.io": {"identitytoken": "x"}}}', /^Error: cfg: auths\.r\.io holds an identitytoken/],
    ['{"auths": {"r.io": {}}}', /^Error: cfg: auths\.r\.io has neither auth nor username and password$/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseDockerConfig(text, "cfg"), message, text);
  const dir = await mkdtemp(join(tmpdir(), "agentgate-dockercfg-"));
  try {
    await assert.rejects(readDockerConfig(join(dir, "missing.json")), /^InputError: registry credentials \S+missing\.json: cannot read: ENOENT \(no such file\)$/);
    await writeFile(join(dir, "c.json"), "{}");
    await assert.rejects(readDockerConfig(join(dir, "c.json")), /^InputError: registry credentials \S+c\.json: has no "auths"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a registry's error body gives its first code and message", () => {
  assert.equal(registryErrorText('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":"unknown tag=2"}]}'), "MANIFEST_UNKNOWN: manifest unknown");
  assert.equal(registryErrorText("<html>"), "");
  assert.equal(registryErrorText('{"errors":[]}'), "");
});
