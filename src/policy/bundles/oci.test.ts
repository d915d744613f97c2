// The OCI source's rules: which layer of a manifest is the bundle (OPA's),
// and against a scripted registry what distribution's own server does not
// do: ask for Basic credentials, redirect blob downloads to another origin
// (an object store's presigned URL), answer an image index, or send a
// layer of the wrong size. The real registry is in
// test/e2e/bundle-distribution.test.ts.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { bundleAtRevision } from "../../testing/bundle-revision.ts";
import { BundleError } from "../bundle.ts";
import { BUNDLE_LAYER, bundleLayer, digestOf, OCI_MANIFEST, OciBundleSource } from "./oci.ts";
import type { SourceVersion } from "./source.ts";

const D = (c: string) => `sha256:${c.repeat(64)}`;

test("the bundle is the first layer of media type tar+gzip, as OPA picks it", () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: D("c"), size: 2 },
    layers: [
      { mediaType: "text/plain", digest: D("0"), size: 3 },
      { mediaType: BUNDLE_LAYER, digest: D("1"), size: 10 },
      { mediaType: BUNDLE_LAYER, digest: D("2"), size: 20 },
    ],
  };
  assert.deepEqual(bundleLayer(manifest, "", "b", "m"), { digest: D("1"), size: 10 });
  // Docker's schema 2 manifest, its media type from Content-Type.
  assert.deepEqual(bundleLayer({ schemaVersion: 2, layers: [{ mediaType: BUNDLE_LAYER, digest: D("3"), size: 1 }] }, "application/vnd.docker.distribution.manifest.v2+json", "b", "m"), { digest: D("3"), size: 1 });
  const refused: [unknown, RegExp][] = [
    [{ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: D("1"), size: 1 }] }, /m: no layer of media type application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip \(the bundle's \.tar\.gz\); its layers are application\/vnd\.oci\.image\.layer\.v1\.tar$/],
    [{ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }, /m: no layer of media type .*; it has no layers$/],
    [{ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] }, /m: is an image index \(application\/vnd\.oci\.image\.index\.v1\+json\), not a bundle's manifest/],
    [{ schemaVersion: 2, mediaType: "application/vnd.oci.artifact.manifest.v1+json", blobs: [] }, /m: a manifest of media type application\/vnd\.oci\.artifact\.manifest\.v1\+json; expected/],
    [{ layers: [{ mediaType: BUNDLE_LAYER, digest: "sha256:short", size: 1 }] }, /the bundle layer's digest "sha256:short" is not/],
    [{ layers: [{ mediaType: BUNDLE_LAYER, digest: D("1"), size: -1 }] }, /the bundle layer's size -1 is not a byte count/],
    [[], /m: the manifest is not a JSON object/],
  ];
  for (const [doc, message] of refused) {
    assert.throws(() => bundleLayer(doc, "", "b", "m"), (err: Error) => err instanceof BundleError && message.test(err.message), JSON.stringify(doc));
  }
  assert.equal(digestOf(Buffer.from("")), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

// A scripted registry: Basic auth, manifests from `manifests`, blobs redirected to the store.
let archive: Buffer;
let registry: Server;
let store: Server;
const seen: { server: string; path: string; headers: IncomingHttpHeaders }[] = [];
const manifests = new Map<string, Buffer>();
let blobs = new Map<string, Buffer>();
const port = (s: Server) => (s.address() as AddressInfo).port;

function manifestFor(layer: Buffer, sizeSaid = layer.length): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(Buffer.from("{}")), size: 2 }, layers: [{ mediaType: BUNDLE_LAYER, digest: digestOf(layer), size: sizeSaid }] }));
}

before(async () => {
  archive = await bundleAtRevision("r1");
  store = createServer((req, res) => {
    seen.push({ server: "store", path: req.url ?? "", headers: req.headers });
    const digest = /^\/bucket\/(sha256:[a-f0-9]{64})\?/.exec(req.url ?? "")?.[1];
    const blob = digest === undefined ? undefined : blobs.get(digest);
    if (blob) res.writeHead(200, { "content-type": "application/octet-stream" }).end(blob);
    else res.writeHead(404).end();
  });
  registry = createServer((req, res) => {
    seen.push({ server: "registry", path: req.url ?? "", headers: req.headers });
    if (req.headers.authorization !== `Basic ${Buffer.from("robot:s3cret").toString("base64")}`) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="scripted"', "content-type": "application/json" }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    const m = /^\/v2\/team\/(manifests|blobs)\/(.+)$/.exec(req.url ?? "");
    if (m?.[1] === "manifests") {
      const body = manifests.get(m[2] ?? "");
      if (body) res.writeHead(200, { "content-type": OCI_MANIFEST, "docker-content-digest": digestOf(body) }).end(body);
      else res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      return;
    }
    if (m?.[1] === "blobs") {
      res.writeHead(307, { location: `http://127.0.0.1:${String(port(store))}/bucket/${m[2] ?? ""}?X-Amz-Signature=abc` }).end();
      return;
    }
    res.writeHead(404).end();
  });
  await Promise.all([registry, store].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
});

after(async () => {
  for (const s of [registry, store]) s.closeAllConnections();
  await Promise.all([registry, store].map((s) => new Promise((r) => s.close(r))));
});

const robot = { username: "robot", password: "s3cret" };
function source(tag: string, withCredentials = true): OciBundleSource {
  const host = `127.0.0.1:${String(port(registry))}`;
  return new OciBundleSource(`oci://${host}/team:${tag}`, {
    pollIntervalMs: 60_000,
    insecureRegistries: [host],
    ...(withCredentials ? { credentials: new Map([[host, robot]]) } : {}),
  });
}

async function once(src: OciBundleSource): Promise<{ delivered: SourceVersion[]; errors: string[] }> {
  const delivered: SourceVersion[] = [];
  const errors: string[] = [];
  await src.start((v) => { delivered.push(v); return Promise.resolve(); }, (e) => { errors.push(e.message); });
  src.stop();
  return { delivered, errors };
}

test("Basic credentials on the registry's challenge; the blob's redirect to an object store carries none", async () => {
  manifests.set("1", manifestFor(archive));
  blobs = new Map([[digestOf(archive), archive]]);
  seen.length = 0;
  const { delivered, errors } = await once(source("1"));
  assert.deepEqual(errors, []);
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0]?.etag, digestOf(manifests.get("1") ?? Buffer.alloc(0)), "the manifest digest is the ETag");
  assert.deepEqual(delivered[0]?.archive, archive);
  const auth = (s: (typeof seen)[number]) => s.headers.authorization?.split(" ")[0] ?? "none";
  assert.deepEqual(seen.map((s) => `${s.server} ${s.path.split("?")[0] ?? ""} ${auth(s)}`), [
    "registry /v2/team/manifests/1 none",
    "registry /v2/team/manifests/1 Basic",
    `registry /v2/team/blobs/${digestOf(archive)} Basic`,
    `store /bucket/${digestOf(archive)} none`,
  ]);
});

test("without credentials the Basic challenge is one line naming the setting", async () => {
  const { errors } = await once(source("1", false));
  assert.match(errors[0] ?? "", /^bundle oci:\/\/127\.0\.0\.1:\d+\/team:1: the registry asks for basic credentials; registry credentials has none for 127\.0\.0\.1:\d+ \(attempt 1; retrying\)$/);
});

test("refused: a missing tag, an image index, a layer shorter than its manifest says", async () => {
  let r = await once(source("nope"));
  assert.match(r.errors[0] ?? "", /^bundle oci:\/\/\S+: manifest 127\.0\.0\.1:\d+\/team:nope: not found \(HTTP 404 MANIFEST_UNKNOWN: manifest unknown\) \(attempt 1; retrying\)$/);

  manifests.set("index", Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] })));
  r = await once(source("index"));
  assert.equal(r.delivered.length, 0);
  assert.match(r.errors[0] ?? "", /^bundle "team": oci:\/\/\S+:index: manifest \S+ \(sha256:[a-f0-9]{64}\): is an image index/);

  manifests.set("short", manifestFor(archive, archive.length + 5));
  r = await once(source("short"));
  assert.equal(r.delivered.length, 0);
  assert.match(r.errors[0] ?? "", new RegExp(`layer ${digestOf(archive)}: ${String(archive.length)} bytes received, the manifest says ${String(archive.length + 5)}; refused`));
});
