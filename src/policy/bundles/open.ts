// From a typed description of where the bundles come from and how they are
// checked (BundleSourcing) to a started BundleStore. Nothing here knows a
// command line: src/cli/bundle-flags.ts turns the flags into a
// BundleSourcing, and words these errors by flag for the user; here they
// name the config field (AgentgateError.field).
import { resolve } from "node:path";
import type { Logger } from "../../log.ts";
import { AgentgateError } from "../../errors.ts";
import type { BundleMetrics } from "./metrics.ts";
import { isUrl } from "./source.ts";
import { BundleStore } from "./store.ts";
import { CONFIG_NAMES, isLoopbackHost, RemoteClient, type RemoteAccess, type SourcingNames } from "./transport.ts";
import { isOciLocation, parseOciReference } from "./oci-reference.ts";
import { readDockerConfig, registryKey, type RegistryCredentials } from "./registry-auth.ts";
import { DEFAULT_BUNDLE_PATH, readPolicyConfig } from "../load.ts";
import { readVerificationKey } from "../signatures.ts";

/** Every bundle must carry a valid signature by this key (OPA's .signatures.json). */
export interface BundleVerification {
  keyFile: string;
  /** bundles signed under another key id are refused; OPA's default is "default" */
  keyId: string;
  /** default: implied by the key */
  algorithm?: string;
  /** the scope bundles must be signed for */
  scope?: string;
}

/** Where the bundles come from, how they are checked and kept: what the bundle flags say, typed. */
export interface BundleSourcing {
  /** files, directories, http(s) URLs of bundle services, oci:// references; none: the embedded default alone */
  bundles: readonly string[];
  /** true: the bundles stack on the embedded default; false: they replace it (then at least one is needed) */
  stackOnDefault: boolean;
  /** YAML merged into every bundle's data.agentgate.config */
  policyConfigFile?: string;
  verification?: BundleVerification;
  pollIntervalMs: number;
  /** where the last good version of each bundle is kept; undefined: not kept */
  cacheDir?: string;
  /** how bundle services and registries are reached: the files of their TLS and credentials */
  remote: RemoteSourcing;
}

export interface RemoteSourcing {
  bearerTokenFile?: string;
  /** mutual TLS: a client certificate and its key, always both */
  clientCertificate?: { certFile: string; keyFile: string };
  caFile?: string;
  /** a docker config.json */
  registryCredentialsFile?: string;
  /** host[:port] of registries reached over plain http */
  insecureRegistries: readonly string[];
  /** what messages call these settings (default: the config's words) */
  names?: SourcingNames;
}

/**
 * The sourcing contradicts itself or would let anyone on the path replace
 * the policy. `reason` says which, so a caller can word it in its own terms
 * (the CLI by flag); the message words it by config field.
 */
export class BundleConfigError extends AgentgateError {
  readonly reason: "no-bundles" | "cleartext";
  /** the bundle location the error is about, if one */
  readonly location?: string;
  constructor(reason: BundleConfigError["reason"], message: string, location?: string) {
    super("usage", message, { field: "bundles" });
    this.name = "BundleConfigError";
    this.reason = reason;
    if (location !== undefined) this.location = location;
  }
}

/** The remote bundle locations reached over plain http on another machine (loopback is this machine). */
export function clearTextSources(bundles: readonly string[], insecureRegistries: readonly string[]): string[] {
  return bundles.filter((location) => {
    if (isUrl(location)) {
      const url = new URL(location);
      return url.protocol === "http:" && !isLoopbackHost(url.hostname);
    }
    if (!isOciLocation(location)) return false;
    const ref = parseOciReference(location);
    return insecureRegistries.includes(registryKey(ref.registry)) && !isLoopbackHost(new URL(`http://${ref.apiHost}`).hostname);
  });
}

/** The origins of the remote bundle locations: an http(s) URL's, an oci:// registry's API. */
export function bundleOrigins(bundles: readonly string[], insecureRegistries: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const location of bundles) {
    if (isUrl(location)) origins.add(new URL(location).origin);
    else if (isOciLocation(location)) {
      const ref = parseOciReference(location);
      origins.add(new URL(`${insecureRegistries.includes(registryKey(ref.registry)) ? "http" : "https"}://${ref.apiHost}`).origin);
    }
  }
  return [...origins];
}

/** The bundle locations that are fetched rather than read from disk. */
export const remoteSources = (bundles: readonly string[]): string[] => bundles.filter((l) => isUrl(l) || isOciLocation(l));

/**
 * The bundles in force: the embedded default first, then each bundle
 * stacked on it (a team adds rules without forking the default), unless
 * they replace it, when they are all there is. The default named again as
 * a bundle is not loaded twice.
 */
export function stackedSources(bundles: readonly string[], withDefault: boolean): string[] {
  if (!withDefault) {
    if (bundles.length === 0) throw new BundleConfigError("no-bundles", "bundles: empty while they replace the default bundle: without the default there would be no policy at all");
    return [...bundles];
  }
  return [DEFAULT_BUNDLE_PATH, ...bundles.filter((b) => resolve(b) !== DEFAULT_BUNDLE_PATH)];
}

/**
 * The client every remote bundle is reached with, its files checked now;
 * and what an operator should hear about settings that do less than they
 * seem to (said once the files are known to be good, so a mistake in one
 * is the only line).
 */
async function openRemote(sourcing: BundleSourcing, log: Logger): Promise<{ remote: RemoteClient; registryCredentials?: RegistryCredentials; insecureRegistries: string[] }> {
  const { remote: r } = sourcing;
  const insecureRegistries = r.insecureRegistries.map(registryKey);
  const access: RemoteAccess = {
    ...(r.bearerTokenFile !== undefined ? { bearerTokenFile: r.bearerTokenFile, bearerOrigins: bundleOrigins(sourcing.bundles, insecureRegistries) } : {}),
    ...(r.clientCertificate !== undefined ? { clientCertificate: r.clientCertificate } : {}),
    ...(r.caFile !== undefined ? { caFile: r.caFile } : {}),
    ...(r.names !== undefined ? { names: r.names } : {}),
  };
  const registryCredentials = r.registryCredentialsFile !== undefined ? await readDockerConfig(r.registryCredentialsFile, r.names?.registryCredentials) : undefined;
  // Opened even with nothing to authenticate with, for the names its messages use.
  const remote = await RemoteClient.open(access);
  const names = remote.names;
  const given = [
    r.bearerTokenFile !== undefined ? [names.bearerTokenFile] : [],
    r.clientCertificate !== undefined ? [names.clientCert, names.clientKey] : [],
    r.caFile !== undefined ? [names.ca] : [],
    registryCredentials ? [names.registryCredentials] : [],
  ].flat();
  if (given.length > 0 && remoteSources(sourcing.bundles).length === 0) {
    log.warn(`bundle authentication settings are given but no ${names.bundle} is an http(s) URL or oci:// reference: they apply to none`, { settings: given });
  }
  if (remote.hasBearerToken) {
    const clear = sourcing.bundles.filter((l) => {
      const url = URL.parse(l);
      return url?.protocol === "http:" && !isLoopbackHost(url.hostname);
    });
    // Refusing to start would also stop the other bundles; the service will say 401, and this says why.
    if (clear.length > 0) log.warn(`${names.bearerTokenFile} is not sent to these plain-http bundle services (only over https, or http to a loopback address)`, { bundles: clear });
  }
  return { remote, ...(registryCredentials ? { registryCredentials } : {}), insecureRegistries };
}

/** Builds the store and puts the first versions in force. */
export async function openBundleStore(sourcing: BundleSourcing, log: Logger, metrics?: BundleMetrics): Promise<BundleStore> {
  const { verification: v } = sourcing;
  const verification = v === undefined
    ? undefined
    : await readVerificationKey(v.keyFile, {
        keyId: v.keyId,
        ...(v.scope !== undefined ? { scope: v.scope } : {}),
        ...(v.algorithm !== undefined ? { algorithm: v.algorithm } : {}),
      });
  if (verification && sourcing.bundles.length === 0) {
    const names = sourcing.remote.names ?? CONFIG_NAMES;
    log.warn(`${names.verificationKey} is set but no ${names.bundle} is given: the embedded default bundle is trusted as shipped`);
  }
  const sources = stackedSources(sourcing.bundles, sourcing.stackOnDefault);
  const clear = clearTextSources(sourcing.bundles, sourcing.remote.insecureRegistries.map(registryKey));
  if (clear.length > 0 && !verification) {
    // Anyone on the path could swap the policy, its defaults included (which fill fields of every object).
    const location = clear[0] ?? "";
    throw new BundleConfigError("cleartext", `bundles: ${location}: plain http to another machine lets anyone on the path replace the policy; use https, or sign the bundles and verify them (verification)`, location);
  }
  const { remote, registryCredentials, insecureRegistries } = await openRemote(sourcing, log);
  const store = new BundleStore({
    sources,
    ...(sourcing.policyConfigFile !== undefined ? { policyConfig: await readPolicyConfig(sourcing.policyConfigFile) } : {}),
    ...(verification ? { verification } : {}),
    ...(sourcing.cacheDir !== undefined ? { cacheDir: sourcing.cacheDir } : {}),
    pollIntervalMs: sourcing.pollIntervalMs,
    log,
    ...(metrics ? { metrics } : {}),
    remote,
    ...(registryCredentials ? { registryCredentials } : {}),
    insecureRegistries,
  });
  await store.start();
  return store;
}
