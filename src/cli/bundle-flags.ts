// The flags that say which bundles are in force and how they are checked
// (BundleFlags), and their translation into the typed BundleSourcing of
// src/policy/bundles/open.ts. Registered in one place for every command
// that evaluates what the webhook evaluates (serve, audit), so a chart can
// hand them the same arguments and they load, verify and swap bundles the
// same way. Durations are parsed, exclusive flags refused and errors worded
// by flag here; the domain below knows only its config.
import type { Command } from "commander";
import type { Logger } from "../log.ts";
import { defaultCacheDir, type BundleStore } from "../policy/bundles/store.ts";
import type { BundleMetrics } from "../policy/bundles/metrics.ts";
import { clearTextSources, openBundleStore, stackedSources, type BundleSourcing } from "../policy/bundles/open.ts";
import { OciReferenceError, parseOciReference } from "../policy/bundles/oci-reference.ts";
import type { SourcingNames } from "../policy/bundles/transport.ts";
import { registryKey } from "../policy/bundles/registry-auth.ts";
import { collectChecked } from "./flag-values.ts";
import { UsageError } from "../errors.ts";

/** The serve and audit flags that shape the bundle store (--bundle-*), as commander parses them. */
export interface BundleFlags {
  bundle: string[];
  /** false: --no-default-bundle, the --bundle values replace the embedded default instead of stacking on it */
  defaultBundle?: boolean;
  policyConfig?: string;
  bundleVerificationKey?: string;
  bundleVerificationAlg?: string;
  bundleKeyId?: string;
  bundleScope?: string;
  /** a duration: 30s, 1m, 500ms */
  bundlePollInterval?: string;
  /** "" turns the on-disk copy off */
  bundleCacheDir?: string;
  bundleBearerTokenFile?: string;
  bundleClientCert?: string;
  bundleClientKey?: string;
  bundleCa?: string;
  /** a docker config.json */
  bundleRegistryCredentials?: string;
  /** host[:port] of registries reached over plain http */
  bundleInsecureRegistry?: string[];
}

/** What the bundle sources' messages call their settings: these flags, also in /readyz and logs long after the start. */
export const FLAG_NAMES: SourcingNames = {
  bundle: "--bundle",
  bearerTokenFile: "--bundle-bearer-token-file",
  clientCert: "--bundle-client-cert",
  clientKey: "--bundle-client-key",
  ca: "--bundle-ca",
  registryCredentials: "--bundle-registry-credentials",
  verificationKey: "--bundle-verification-key",
  defaultOff: "--no-default-bundle (Helm: policy.defaultBundle: false)",
};

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** --bundle-poll-interval: "30s", "1m", "500ms", "1h" or a bare number of seconds → milliseconds. */
export function pollIntervalMs(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * (UNITS[m[2] ?? "s"] ?? 1000) : NaN;
  if (!Number.isFinite(ms) || ms < 10) throw new UsageError(`--bundle-poll-interval ${JSON.stringify(value)}: expected a duration such as 30s, 1m or 500ms (at least 10ms)`, { field: "pollIntervalMs" });
  return ms;
}

/** --no-default-bundle without a --bundle would leave no policy at all. */
function refuseNoBundles(bundles: readonly string[], defaultBundle: boolean): void {
  if (!defaultBundle && bundles.length === 0) throw new UsageError("--no-default-bundle needs at least one --bundle: without the default there would be no policy at all", { field: "bundles" });
}

/**
 * The flags as the domain's config. Refuses, worded by flag, what the
 * domain would refuse by config field (so a caller can hand the result
 * straight to openBundleStore), and flags that need another.
 */
export function bundleSourcing(flags: BundleFlags): BundleSourcing {
  const interval = pollIntervalMs(flags.bundlePollInterval ?? "30s");
  refuseNoBundles(flags.bundle, flags.defaultBundle ?? true);
  if (flags.bundleVerificationKey === undefined && (flags.bundleScope !== undefined || flags.bundleVerificationAlg !== undefined)) {
    throw new UsageError("--bundle-scope and --bundle-verification-alg need --bundle-verification-key", { field: "verification" });
  }
  if ((flags.bundleClientCert === undefined) !== (flags.bundleClientKey === undefined)) {
    throw new UsageError("--bundle-client-cert and --bundle-client-key go together: give both, the certificate and its private key", { field: "remote.clientCertificate" });
  }
  const clear = clearTextSources(flags.bundle, (flags.bundleInsecureRegistry ?? []).map(registryKey));
  if (clear.length > 0 && flags.bundleVerificationKey === undefined) {
    // Anyone on the path could swap the policy, its defaults included (which fill fields of every object).
    throw new UsageError(`--bundle ${clear[0] ?? ""}: plain http to another machine lets anyone on the path replace the policy; use https, or sign the bundles and give --bundle-verification-key`, { field: "bundles" });
  }
  const cacheDir = flags.bundleCacheDir ?? defaultCacheDir();
  const { bundleVerificationKey: keyFile, bundleClientCert: certFile, bundleClientKey: keyOfCert } = flags;
  return {
    bundles: flags.bundle,
    stackOnDefault: flags.defaultBundle ?? true,
    ...(flags.policyConfig !== undefined ? { policyConfigFile: flags.policyConfig } : {}),
    ...(keyFile !== undefined
      ? {
          verification: {
            keyFile,
            keyId: flags.bundleKeyId ?? "default",
            ...(flags.bundleVerificationAlg !== undefined ? { algorithm: flags.bundleVerificationAlg } : {}),
            ...(flags.bundleScope !== undefined ? { scope: flags.bundleScope } : {}),
          },
        }
      : {}),
    pollIntervalMs: interval,
    ...(cacheDir !== "" ? { cacheDir } : {}),
    remote: {
      ...(flags.bundleBearerTokenFile !== undefined ? { bearerTokenFile: flags.bundleBearerTokenFile } : {}),
      ...(certFile !== undefined && keyOfCert !== undefined ? { clientCertificate: { certFile, keyFile: keyOfCert } } : {}),
      ...(flags.bundleCa !== undefined ? { caFile: flags.bundleCa } : {}),
      ...(flags.bundleRegistryCredentials !== undefined ? { registryCredentialsFile: flags.bundleRegistryCredentials } : {}),
      insecureRegistries: flags.bundleInsecureRegistry ?? [],
      names: FLAG_NAMES,
    },
  };
}

/** The bundle store of serve and audit, from their flags, the first versions in force. */
export async function openBundles(flags: BundleFlags, log: Logger, metrics?: BundleMetrics): Promise<BundleStore> {
  return openBundleStore(bundleSourcing(flags), log, metrics);
}

/**
 * A bundle service is reached over http(s), a registry by oci://; any other
 * scheme would be taken for a file path and never found, and a reference
 * that is not one would be polled as a 404 for ever.
 */
function bundleLocation(value: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1];
  if (scheme?.toLowerCase() === "oci") {
    try {
      parseOciReference(value);
    } catch (err) {
      throw err instanceof OciReferenceError ? new UsageError(`--bundle ${err.location}: ${err.problem}`, { field: "bundles" }) : err;
    }
    return;
  }
  if (scheme !== undefined && !/^https?$/i.test(scheme)) {
    throw new UsageError(`--bundle ${value}: ${scheme}:// is not fetched; give an http(s) URL of a bundle service, an oci:// reference, or a file or directory path`);
  }
}

/** What docker's insecure-registries takes: host[:port], no scheme or path. */
function registryHost(value: string): void {
  if (!/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$/.test(value)) {
    throw new UsageError(`--bundle-insecure-registry ${JSON.stringify(value)}: expected a registry's host[:port] as in its oci:// references, e.g. 127.0.0.1:5000`);
  }
}

/** Adds --bundle, --bundle-verification-*, --bundle-key-id, --bundle-scope, --bundle-poll-interval, --bundle-cache-dir, the remote bundles' authentication and --policy-config. */
export function addBundleFlags(command: Command): Command {
  return command
    .option("--bundle <path|url>", "OPA bundle built for wasm: a .tar.gz or directory (watched; a mounted ConfigMap works), an http(s) URL of a bundle service (polled with ETags), or an OCI registry's oci://REGISTRY/REPOSITORY:TAG or @sha256:DIGEST (polled; the layer downloaded when the manifest changes); repeatable; each is stacked on the embedded default bundle (see --no-default-bundle)", collectChecked(bundleLocation), [])
    .option("--no-default-bundle", "the --bundle values replace the embedded default bundle instead of stacking on it")
    .option("--bundle-verification-key <file>", "require every --bundle to carry a .signatures.json signed by this key (PEM public key or certificate; an HMAC secret with --bundle-verification-alg HS256)")
    .option("--bundle-verification-alg <alg>", "the verification key's algorithm (default: from the key: RS256, ES256, …)")
    .option("--bundle-key-id <id>", "the verification key's id; bundles signed under another key id are refused", "default")
    .option("--bundle-scope <scope>", "the scope bundles must be signed for")
    .option("--bundle-poll-interval <duration>", "how often bundle URLs are polled and bundle files re-checked (errors retry sooner, with backoff)", "30s")
    .option("--bundle-cache-dir <dir>", "where the last good version of each --bundle is kept, to start from when its source is down (\"\" = not kept)", defaultCacheDir())
    .option("--bundle-bearer-token-file <file>", "a token sent as Authorization: Bearer to every http(s) bundle service and oci:// registry (read at every request, so a rotated token is used at once; never over plain http except to loopback)")
    .option("--bundle-client-cert <file>", "PEM client certificate presented to bundle services and registries that ask for one (mutual TLS); with --bundle-client-key")
    .option("--bundle-client-key <file>", "PEM private key of --bundle-client-cert")
    .option("--bundle-ca <file>", "PEM CA certificates trusted for bundle services and registries, in addition to the system roots")
    .option("--bundle-registry-credentials <file>", "a docker config.json (auths.<registry>: auth or username/password), as docker login, oras login or a kubernetes.io/dockerconfigjson Secret holds it, for oci:// bundles")
    .option("--bundle-insecure-registry <host[:port]>", "reach this registry's oci:// bundles over plain http (no credentials are sent unless it is loopback); repeatable", collectChecked(registryHost), [])
    .option("--policy-config <file>", "YAML merged into data.agentgate.config");
}

/** The bundles review loads (--bundle on the default unless --no-default-bundle), refused in the flags' words. */
export function stackedBundles(bundles: readonly string[], defaultBundle: boolean): string[] {
  refuseNoBundles(bundles, defaultBundle);
  return stackedSources(bundles, defaultBundle);
}
