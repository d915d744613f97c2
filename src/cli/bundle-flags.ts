// The flags that say which bundles are in force and how they are checked
// (BundleFlags of src/policy/bundle-store.ts). Registered in one place for
// every command that evaluates what the webhook evaluates (serve, audit), so
// a chart can hand them the same arguments and they load, verify and swap
// bundles the same way.
import type { Command } from "commander";
import { defaultCacheDir } from "../policy/bundle-store.ts";
import { collectChecked } from "./flag-values.ts";
import { InputError } from "./manifests.ts";

/** A bundle service is reached over http(s); any other scheme would be taken for a file path and never found. */
function bundleLocation(value: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1];
  if (scheme !== undefined && !/^https?$/i.test(scheme)) {
    throw new InputError(`--bundle ${value}: ${scheme}:// is not fetched; give an http(s) URL of a bundle service, or a file or directory path`);
  }
}

/** Adds --bundle, --bundle-verification-*, --bundle-key-id, --bundle-scope, --bundle-poll-interval, --bundle-cache-dir and --policy-config. */
export function addBundleFlags(command: Command): Command {
  return command
    .option("--bundle <path|url>", "OPA bundle built for wasm: a .tar.gz or directory (watched; a mounted ConfigMap works), or an http(s) URL of a bundle service (polled with ETags); repeatable; default: the embedded default bundle", collectChecked(bundleLocation), [])
    .option("--bundle-verification-key <file>", "require every --bundle to carry a .signatures.json signed by this key (PEM public key or certificate; an HMAC secret with --bundle-verification-alg HS256)")
    .option("--bundle-verification-alg <alg>", "the verification key's algorithm (default: from the key: RS256, ES256, …)")
    .option("--bundle-key-id <id>", "the verification key's id; bundles signed under another key id are refused", "default")
    .option("--bundle-scope <scope>", "the scope bundles must be signed for")
    .option("--bundle-poll-interval <duration>", "how often bundle URLs are polled and bundle files re-checked (errors retry sooner, with backoff)", "30s")
    .option("--bundle-cache-dir <dir>", "where the last good version of each --bundle is kept, to start from when its source is down (\"\" = not kept)", defaultCacheDir())
    .option("--policy-config <file>", "YAML merged into data.agentgate.config");
}
