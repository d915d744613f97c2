// How remote bundles are reached: the auth files checked at start in one
// line naming the flag, the Authorization header kept to its origin across
// redirects, no downgrade from https, and bodies cut at their limit.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority, issueServingCertificate } from "../../tls/self-signed.ts";
import { isLoopbackHost, maySendSecrets, readLimited, RemoteClient } from "./transport.ts";

let dir = "";
const f = (name: string) => join(dir, name);
const ca = createCertificateAuthority("transport test CA", { validityMs: 86_400_000 });
const serving = issueServingCertificate(ca, ["127.0.0.1"], { validityMs: 86_400_000 });
const other = issueServingCertificate(createCertificateAuthority("another CA", { validityMs: 86_400_000 }), ["x"], { validityMs: 86_400_000 });

/** what each server saw: path and headers */
const seen: { server: string; path: string; headers: IncomingHttpHeaders }[] = [];
let a: Server;
let b: Server;
let secure: HttpsServer;
const origin = (s: Server | HttpsServer, scheme = "http") => `${scheme}://127.0.0.1:${String((s.address() as AddressInfo).port)}`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-transport-"));
  await writeFile(f("ca.pem"), ca.cert);
  await writeFile(f("client.crt"), serving.cert);
  await writeFile(f("client.key"), serving.key);
  await writeFile(f("other.key"), other.key);
  await writeFile(f("token"), "  secret-1\n");
  await writeFile(f("empty"), "\n");
  await writeFile(f("two-lines"), "a\nb\n");
  await writeFile(f("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
  b = createServer((req, res) => {
    seen.push({ server: "b", path: req.url ?? "", headers: req.headers });
    res.end("from b");
  });
  a = createServer((req, res) => {
    seen.push({ server: "a", path: req.url ?? "", headers: req.headers });
    if (req.url === "/elsewhere") res.writeHead(302, { location: `${origin(b)}/x?sig=presigned` }).end();
    else if (req.url === "/here") res.writeHead(307, { location: "/final" }).end();
    else if (req.url === "/loop") res.writeHead(302, { location: "/loop" }).end();
    else if (req.url === "/big") res.end(Buffer.alloc(2048));
    else res.end("from a");
  });
  secure = createHttpsServer({ cert: serving.cert, key: serving.key }, (req, res) => {
    seen.push({ server: "secure", path: req.url ?? "", headers: req.headers });
    res.writeHead(302, { location: `${origin(a)}/downgraded` }).end();
  });
  await Promise.all([a, b, secure].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
});

after(async () => {
  for (const s of [a, b, secure]) s.closeAllConnections();
  await Promise.all([a, b, secure].map((s) => new Promise((r) => s.close(r))));
  await rm(dir, { recursive: true, force: true });
});

test("the auth files are checked at start; each mistake is one line naming the file and what it is for", async () => {
  const bad: [Parameters<typeof RemoteClient.open>[0], RegExp][] = [
    [{ bearerTokenFile: f("missing") }, /^bearer token file \S+missing: cannot read: ENOENT \(no such file\)$/],
    [{ bearerTokenFile: f("empty") }, /^bearer token file \S+empty: is empty$/],
    [{ bearerTokenFile: f("two-lines") }, /^bearer token file \S+two-lines: holds more than one line/],
    [{ clientCertificate: { certFile: f("token"), keyFile: f("client.key") } }, /^client certificate \S+token: not a PEM certificate/],
    [{ clientCertificate: { certFile: f("client.crt"), keyFile: f("client.crt") } }, /^client key \S+client\.crt: not a PEM private key/],
    [{ clientCertificate: { certFile: f("client.crt"), keyFile: f("other.key") } }, /^client key \S+other\.key: is not the key of client certificate \S+client\.crt$/],
    [{ caFile: f("token") }, /^CA file \S+token: no PEM certificate \(expected "-----BEGIN CERTIFICATE-----"\)$/],
    [{ caFile: f("garbage.pem") }, /^CA file \S+garbage\.pem: certificate 1 of 1 is not a valid X\.509 certificate$/],
    [{ caFile: dir }, /^CA file \S+: cannot read: EISDIR \(a directory, not a file\)$/],
  ];
  for (const [flags, message] of bad) {
    await assert.rejects(RemoteClient.open(flags), (err: Error) => {
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    }, JSON.stringify(flags));
  }
  const good = await RemoteClient.open({ bearerTokenFile: f("token"), bearerOrigins: ["https://bundles.example"], clientCertificate: { certFile: f("client.crt"), keyFile: f("client.key") }, caFile: f("ca.pem") });
  const service = new URL("https://bundles.example/team.tar.gz");
  assert.equal(await good.bearerAuthorization(service), "Bearer secret-1");
  await writeFile(f("token"), "secret-2");
  assert.equal(await good.bearerAuthorization(service), "Bearer secret-2", "the file is read again at every request");
  // Only for the origins of the --bundle locations: not a registry's token realm, not another service.
  assert.equal(await good.bearerAuthorization(new URL("https://auth.elsewhere.example/token")), undefined);
  assert.equal(await good.bearerAuthorization(new URL("http://bundles.example/team.tar.gz")), undefined, "another scheme is another origin");
  await good.close();
});

test("Authorization goes to the origin it was given for: kept on a same-origin redirect, dropped on one elsewhere", async () => {
  const client = RemoteClient.plain();
  const signal = AbortSignal.timeout(10_000);
  seen.length = 0;
  const res = await client.get(new URL(`${origin(a)}/elsewhere`), { authorization: "Bearer t", signal });
  assert.equal(await res.text(), "from b");
  assert.deepEqual(seen.map((s) => [s.server, s.path, s.headers.authorization]), [["a", "/elsewhere", "Bearer t"], ["b", "/x?sig=presigned", undefined]]);
  seen.length = 0;
  await (await client.get(new URL(`${origin(a)}/here`), { authorization: "Bearer t", signal })).text();
  assert.deepEqual(seen.map((s) => [s.path, s.headers.authorization]), [["/here", "Bearer t"], ["/final", "Bearer t"]]);
  await assert.rejects(client.get(new URL(`${origin(a)}/loop`), { signal }), /^Error: GET http:\/\/127\.0\.0\.1:\d+\/loop redirected more than 10 times$/);
});

test("https is never downgraded to http by a redirect; --bundle-ca makes a private CA trusted", async () => {
  const plain = RemoteClient.plain();
  const signal = AbortSignal.timeout(10_000);
  await assert.rejects(plain.get(new URL(`${origin(secure, "https")}/b.tar.gz`), { signal }), /^Error: GET failed: TLS: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); the server's certificate does not verify against the system roots and CA file$/);
  const trusting = await RemoteClient.open({ caFile: f("ca.pem") });
  seen.length = 0;
  await assert.rejects(trusting.get(new URL(`${origin(secure, "https")}/b.tar.gz`), { authorization: "Bearer t", signal }), /^Error: GET https:\/\/127\.0\.0\.1:\d+\/b\.tar\.gz redirected to http:\/\/127\.0\.0\.1:\d+\/downgraded: refused, a redirect from https to plain http$/);
  assert.deepEqual(seen.map((s) => s.server), ["secure"], "the http server was never asked");
  await trusting.close();
});

test("secrets go over https, or plain http only to loopback", () => {
  assert.ok(maySendSecrets(new URL("https://registry.example.com/v2/")));
  assert.ok(maySendSecrets(new URL("http://127.0.0.1:5000/v2/")));
  assert.ok(maySendSecrets(new URL("http://[::1]:5000/v2/")));
  assert.ok(maySendSecrets(new URL("http://localhost:5000/v2/")));
  assert.ok(!maySendSecrets(new URL("http://registry.example.com/v2/")));
  assert.ok(!maySendSecrets(new URL("http://10.0.0.1/v2/")));
  assert.ok(!isLoopbackHost("127.example.com"));
});

test("a body is cut at its limit, declared or not", async () => {
  const client = RemoteClient.plain();
  await assert.rejects(readLimited(await client.get(new URL(`${origin(a)}/big`), { signal: AbortSignal.timeout(10_000) }), 1000, "bundle"), /^Error: bundle of 2048 bytes is over the limit of 1000 bytes$/);
  assert.equal((await readLimited(await client.get(new URL(`${origin(a)}/big`), { signal: AbortSignal.timeout(10_000) }), 4096, "bundle")).length, 2048);
});
