// The flags that say which bundles are in force and how they are checked
// (BundleFlags of src/policy/bundle-store.ts). Registered in one place for
// every command that evaluates what the webhook evaluates (serve, audit), so
// a chart can hand them the same arguments and they load, verify and swap
// bundles the same way.
import type { Command } from "commander";
import { defaultCacheDir } from "../policy/bundle-store.ts";
import { OciReferenceError, parseOciReference } from "../policy/oci-reference.ts";
import { collectChecked } from "./flag-values.ts";
import { InputError } from "./manifests.ts";

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
      throw err instanceof OciReferenceError ? new InputError(err.message) : err;
    }
    return;
  }
  if (scheme !== undefined && !/^https?$/i.test(scheme)) {
    throw new InputError(`--bundle ${value}: ${scheme}:// is not fetched; give an http(s) URL of a bundle service, an oci:// reference, or a file or directory path`);
  }
}

/** What docker's insecure-registries takes: host[:port], no scheme or path. */
function registryHost(value: string): void {
  if (!/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$/.test(value)) {
    throw new InputError(`--bundle-insecure-registry ${JSON.stringify(value)}: expected a registry's host[:port] as in its oci:// references, e.g. 127.0.0.1:5000`);
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
