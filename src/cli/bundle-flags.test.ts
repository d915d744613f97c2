// The bundle flags as the user sees them: each mistake refused in one line
// naming the flag, whatever part of the domain found it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logger } from "../log.ts";
import { bundleSourcing, openBundles, pollIntervalMs, stackedBundles } from "./bundle-flags.ts";

test("durations and flags that need another are refused by flag, before anything is read", () => {
  assert.equal(pollIntervalMs("500ms"), 500);
  assert.equal(pollIntervalMs("2"), 2000);
  assert.throws(() => bundleSourcing({ bundle: [], bundlePollInterval: "soon" }), { name: "UsageError", kind: "usage", message: '--bundle-poll-interval "soon": expected a duration such as 30s, 1m or 500ms (at least 10ms)' });
  assert.throws(() => bundleSourcing({ bundle: [], bundleScope: "prod" }), /^UsageError: --bundle-scope and --bundle-verification-alg need --bundle-verification-key$/);
  assert.throws(() => bundleSourcing({ bundle: [], bundleClientCert: "c.pem" }), /^UsageError: --bundle-client-cert and --bundle-client-key go together/);
  assert.throws(() => bundleSourcing({ bundle: [], bundleClientKey: "k.pem" }), /^UsageError: --bundle-client-cert and --bundle-client-key go together/);
});

test("the flags become the domain's typed config", () => {
  assert.deepEqual(
    bundleSourcing({ bundle: ["https://b.example/x.tar.gz"], defaultBundle: false, bundleCacheDir: "", bundleVerificationKey: "k.pem", bundleScope: "prod", bundleClientCert: "c.pem", bundleClientKey: "k2.pem", bundleInsecureRegistry: ["r:5000"] }),
    {
      bundles: ["https://b.example/x.tar.gz"],
      stackOnDefault: false,
      verification: { keyFile: "k.pem", keyId: "default", scope: "prod" },
      pollIntervalMs: 30_000,
      remote: {
        clientCertificate: { certFile: "c.pem", keyFile: "k2.pem" },
        insecureRegistries: ["r:5000"],
        names: { bundle: "--bundle", bearerTokenFile: "--bundle-bearer-token-file", clientCert: "--bundle-client-cert", clientKey: "--bundle-client-key", ca: "--bundle-ca", registryCredentials: "--bundle-registry-credentials", verificationKey: "--bundle-verification-key", defaultOff: "--no-default-bundle (Helm: policy.defaultBundle: false)" },
      },
    },
  );
});

test("what the domain refuses is worded by the flags that made it", async () => {
  assert.throws(() => stackedBundles([], false), { name: "UsageError", message: "--no-default-bundle needs at least one --bundle: without the default there would be no policy at all" });
  await assert.rejects(openBundles({ bundle: ["http://bundles.example/b.tar.gz"], bundleCacheDir: "" }, logger), { name: "UsageError", message: "--bundle http://bundles.example/b.tar.gz: plain http to another machine lets anyone on the path replace the policy; use https, or sign the bundles and give --bundle-verification-key" });
  await assert.rejects(openBundles({ bundle: ["oci://registry.example/p:1"], bundleInsecureRegistry: ["registry.example"], bundleCacheDir: "" }, logger), /^UsageError: --bundle oci:\/\/registry\.example\/p:1: plain http/);
  const dir = await mkdtemp(join(tmpdir(), "agentgate-bundle-flags-"));
  try {
    await writeFile(join(dir, "empty"), "");
    await assert.rejects(openBundles({ bundle: ["https://bundles.example/b.tar.gz"], bundleCacheDir: "", bundleBearerTokenFile: join(dir, "empty") }, logger), (err: unknown) => err instanceof Error && /^--bundle-bearer-token-file \S+empty: is empty$/.test(err.message));
    await assert.rejects(openBundles({ bundle: ["https://bundles.example/b.tar.gz"], bundleCacheDir: "", bundleRegistryCredentials: join(dir, "missing.json") }, logger), (err: unknown) => err instanceof Error && /^--bundle-registry-credentials \S+missing\.json: cannot read: ENOENT \(no such file\)$/.test(err.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
