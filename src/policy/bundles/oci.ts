// A bundle pulled from an OCI registry (OPA's `type: oci`): the manifest of
// a tag or digest, then its bundle layer (the first of media type
// application/vnd.oci.image.layer.v1.tar+gzip, as OPA picks it), both
// checked against their digests. A poll re-resolves the tag; the layer is
// downloaded only when the manifest's digest changed, so that digest plays
// the part of a bundle service's ETag (and is what the on-disk copy
// resumes from). A reference pinned by digest cannot change: once its
// manifest was read it is not asked for again.
import { createHash } from "node:crypto";
import type { Response } from "undici";
import { isRecord } from "../../types/kube.ts";
import { BundleError, readTarGz } from "../bundle.ts";
import { MAX_DOWNLOAD_BYTES } from "./http.ts";
import { PollingSource, type PollOptions } from "./poller.ts";
import { maySendSecrets, readLimited, RemoteClient, showUrl } from "./transport.ts";
import { bundleNameOfOci, manifestReference, parseOciReference, type OciReference } from "./oci-reference.ts";
import { basicAuthorization, parseTokenAnswer, parseWwwAuthenticate, registryErrorText, registryKey, tokenUrl, type Challenge, type RegistryCredential, type RegistryCredentials, type RegistryToken } from "./registry-auth.ts";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const INDEXES = new Set(["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"]);
export const BUNDLE_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
/** distribution refuses manifests over 4 MiB; none of a bundle comes near */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export interface OciSourceOptions extends PollOptions {
  /** TLS settings and the bearer token; default: none */
  client?: RemoteClient;
  /** basic credentials from a docker config.json, by registryKey() */
  credentials?: RegistryCredentials;
  /** registries (host[:port], lowercase) reached over plain http */
  insecureRegistries?: readonly string[];
}

export interface LayerDescriptor {
  digest: string;
  size: number;
}

export function digestOf(bytes: Buffer, algorithm: "sha256" | "sha512" = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/**
 * The bundle layer of a manifest, by OPA's rule; throws (with the bundle
 * name, as a refused version) when the manifest holds none.
 */
export function bundleLayer(manifest: unknown, contentType: string, name: string, what: string): LayerDescriptor {
  if (!isRecord(manifest)) throw new BundleError(name, `${what}: the manifest is not a JSON object`);
  const mediaType = typeof manifest.mediaType === "string" ? manifest.mediaType : contentType.split(";")[0]?.trim() ?? "";
  if (INDEXES.has(mediaType) || Array.isArray(manifest.manifests)) {
    throw new BundleError(name, `${what}: is an image index (${mediaType || "manifests[]"}), not a bundle's manifest; push the bundle as a single artifact (oras push, opa build + oras)`);
  }
  if (mediaType !== "" && mediaType !== OCI_MANIFEST && mediaType !== DOCKER_MANIFEST) {
    throw new BundleError(name, `${what}: a manifest of media type ${mediaType}; expected ${OCI_MANIFEST}`);
  }
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  const found = layers.find((l): l is Record<string, unknown> => isRecord(l) && l.mediaType === BUNDLE_LAYER);
  if (!found) {
    const seen = layers.map((l) => (isRecord(l) && typeof l.mediaType === "string" ? l.mediaType : "?"));
    throw new BundleError(name, `${what}: no layer of media type ${BUNDLE_LAYER} (the bundle's .tar.gz)${seen.length > 0 ? `; its layers are ${seen.join(", ")}` : "; it has no layers"}`);
  }
  const digest = found.digest;
  const size = found.size;
  if (typeof digest !== "string" || !DIGEST.test(digest)) throw new BundleError(name, `${what}: the bundle layer's digest ${JSON.stringify(digest)} is not sha256:<64 hex> or sha512:<128 hex>`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new BundleError(name, `${what}: the bundle layer's size ${JSON.stringify(size)} is not a byte count`);
  return { digest, size };
}

export class OciBundleSource extends PollingSource {
  readonly kind = "oci";
  readonly ref: OciReference;
  private readonly name: string;
  private readonly base: URL;
  private readonly client: RemoteClient;
  private readonly credential: RegistryCredential | undefined;
  /** the manifest digest of the version last received (delivered or refused) */
  private manifestDigest: string | undefined;
  private token: RegistryToken | undefined;
  /** the registry asked for Basic credentials: send them from the start */
  private basic = false;

  constructor(location: string, opts: OciSourceOptions) {
    super(location, opts);
    this.ref = parseOciReference(location);
    this.name = bundleNameOfOci(location);
    const insecure = (opts.insecureRegistries ?? []).includes(registryKey(this.ref.registry));
    this.base = new URL(`${insecure ? "http" : "https"}://${this.ref.apiHost}/v2/${this.ref.repository}/`);
    this.client = opts.client ?? RemoteClient.plain();
    this.credential = opts.credentials?.get(registryKey(this.ref.registry));
  }

  resumeFrom(etag: string): void {
    this.manifestDigest = etag;
  }

  /** "registry/repo:tag" or "registry/repo@digest", for messages. */
  private describe(): string {
    return `${this.ref.registry}/${this.ref.repository}${this.ref.digest !== undefined ? `@${this.ref.digest}` : `:${this.ref.tag ?? "latest"}`}`;
  }

  protected async fetchOnce(signal: AbortSignal): Promise<void> {
    if (this.ref.digest !== undefined && this.manifestDigest === this.ref.digest) return;
    const what = `manifest ${this.describe()}`;
    const res = await this.registryGet(what, `manifests/${manifestReference(this.ref)}`, `${OCI_MANIFEST}, ${DOCKER_MANIFEST};q=0.9`, signal);
    if (res.status !== 200) throw new Error(`${what}: ${await this.refusal(res)}`);
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, "manifest");
    const algorithm = this.ref.digest?.startsWith("sha512:") ? "sha512" : "sha256";
    const digest = digestOf(bytes, algorithm);
    if (this.ref.digest !== undefined && digest !== this.ref.digest) throw new Error(`${what}: the registry answered a manifest whose digest is ${digest}; refused`);
    const said = res.headers.get("docker-content-digest");
    if (said !== null && said.startsWith(`${algorithm}:`) && said !== digest) throw new Error(`${what}: the manifest's digest is ${digest}, not ${said} as the registry says; refused`);
    if (digest === this.manifestDigest) return;

    let layer: LayerDescriptor;
    try {
      let doc: unknown;
      try {
        doc = JSON.parse(bytes.toString("utf8"));
      } catch {
        throw new BundleError(this.name, `${this.location}: ${what}: not JSON`);
      }
      layer = bundleLayer(doc, res.headers.get("content-type") ?? "", this.name, `${this.location}: ${what} (${digest})`);
      if (layer.size > MAX_DOWNLOAD_BYTES) throw new BundleError(this.name, `${this.location}: the bundle layer of ${layer.size} bytes is over the limit of ${MAX_DOWNLOAD_BYTES} bytes`);
    } catch (err) {
      // The registry answered; what it holds is no bundle: reported once, not retried until the tag moves.
      this.manifestDigest = digest;
      this.report?.(err instanceof Error ? err : new Error(String(err)));
      return;
    }

    const archive = await this.fetchLayer(layer, signal);
    // Whatever the store makes of this version, this manifest is done with.
    this.manifestDigest = digest;
    let files: Map<string, Buffer>;
    try {
      files = await readTarGz(archive, this.name);
      if (files.size === 0) throw new BundleError(this.name, `${this.location}: the bundle layer holds no files; expected a .tar.gz built by opa build`);
    } catch (err) {
      this.report?.(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    await this.deliver?.({ files, archive, etag: digest }).catch(() => undefined);
  }

  private async fetchLayer(layer: LayerDescriptor, signal: AbortSignal): Promise<Buffer> {
    const what = `layer ${layer.digest}`;
    const res = await this.registryGet(what, `blobs/${layer.digest}`, `${BUNDLE_LAYER}, application/octet-stream;q=0.5, */*;q=0.1`, signal);
    if (res.status !== 200) throw new Error(`${what}: ${await this.refusal(res)}`);
    // One byte past the size the manifest gives is enough to know it is wrong.
    const bytes = await readLimited(res, layer.size + 1, what);
    if (bytes.length !== layer.size) throw new Error(`${what}: ${bytes.length} bytes received, the manifest says ${layer.size}; refused`);
    const got = digestOf(bytes, layer.digest.startsWith("sha512:") ? "sha512" : "sha256");
    if (got !== layer.digest) throw new Error(`${what}: the content's digest is ${got}; refused (corrupt or replaced in the registry)`);
    return bytes;
  }

  /** What a registry's refusal says, in one line. */
  private async refusal(res: Response): Promise<string> {
    const text = registryErrorText(await errorBody(res));
    const status = `HTTP ${res.status}${text !== "" ? ` ${text}` : res.statusText !== "" ? ` ${res.statusText}` : ""}`;
    if (res.status === 404) return `not found (${status})`;
    if (res.status === 401 || res.status === 403) {
      const had = this.token ? "a token from the registry's token service" : this.basic ? `the ${this.client.names.registryCredentials}` : this.client.hasBearerToken ? `the ${this.client.names.bearerTokenFile} token` : "no credentials";
      return `the registry refused the pull (${status}) with ${had}`;
    }
    return `the registry answered ${status}`;
  }

  private async authorization(): Promise<string | undefined> {
    if (this.token && this.token.expiresAt > Date.now()) return `Bearer ${this.token.token}`;
    if (this.basic && this.credential) return basicAuthorization(this.credential);
    return this.client.bearerAuthorization(this.base);
  }

  /** A GET of the repository's API; a 401 is answered once (a token from the realm, or Basic credentials) and the request made again. */
  private async registryGet(what: string, path: string, accept: string, signal: AbortSignal): Promise<Response> {
    const url = new URL(path, this.base);
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization();
      let res: Response;
      try {
        res = await this.client.get(url, { headers: { accept }, signal, ...(authorization !== undefined ? { authorization } : {}) });
      } catch (err) {
        throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (res.status !== 401 || attempt > 0) return res;
      const header = res.headers.get("www-authenticate") ?? "";
      await res.body?.cancel();
      if (!maySendSecrets(url)) throw new Error(`${showUrl(url)}: the registry asks for credentials, which are not sent over plain http except to a loopback address`);
      this.token = undefined;
      await this.answer(parseWwwAuthenticate(header), signal);
    }
  }

  private async answer(challenges: Challenge[], signal: AbortSignal): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer) {
      const url = tokenUrl(bearer, `repository:${this.ref.repository}:pull`);
      const authorization = this.credential ? basicAuthorization(this.credential) : await this.client.bearerAuthorization(url);
      if (authorization !== undefined && !maySendSecrets(url)) throw new Error(`the registry's token service ${showUrl(url)} is plain http; credentials are not sent there (only over https, or http to a loopback address)`);
      const res = await this.client.get(url, { headers: { accept: "application/json" }, signal, ...(authorization !== undefined ? { authorization } : {}) });
      if (res.status !== 200) {
        const text = registryErrorText(await errorBody(res));
        const had = this.credential ? `the ${this.client.names.registryCredentials} of ${this.ref.registry}` : authorization !== undefined ? `the ${this.client.names.bearerTokenFile} token` : "no credentials (anonymous)";
        throw new Error(`the registry's token service ${showUrl(url)} answered HTTP ${res.status}${text !== "" ? ` ${text}` : ""} with ${had}`);
      }
      let body: unknown;
      try {
        body = JSON.parse((await readLimited(res, 1024 * 1024, "token answer")).toString("utf8"));
      } catch (err) {
        throw new Error(`the registry's token service ${showUrl(url)}: ${err instanceof SyntaxError ? "answered no JSON" : err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      this.token = parseTokenAnswer(body);
      return;
    }
    if (challenges.some((c) => c.scheme === "basic")) {
      if (!this.credential) throw new Error(`the registry asks for basic credentials; ${this.client.names.registryCredentials} has none for ${this.ref.registry}`);
      this.basic = true;
      return;
    }
    throw new Error(`the registry answered HTTP 401 with ${challenges.length === 0 ? "no WWW-Authenticate challenge" : `challenges this client does not answer (${challenges.map((c) => c.scheme).join(", ")})`}`);
  }
}

/** A refusal's body, for its error text: a little is enough, and more (a decompression bomb) is not read. */
async function errorBody(res: Response): Promise<string> {
  try {
    return (await readLimited(res, ERROR_BODY_LIMIT, "error body")).toString("utf8");
  } catch {
    await res.body?.cancel().catch(() => undefined);
    return "";
  }
}

const ERROR_BODY_LIMIT = 64 * 1024;
