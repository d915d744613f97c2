// Pushing to a registry as `oras push` does, by the distribution API: each
// blob by a monolithic upload (POST an upload, PUT its bytes with the
// digest), then the manifest PUT under a tag. An OPA bundle goes as OPA
// reads it: the .tar.gz as a layer of media type
// application/vnd.oci.image.layer.v1.tar+gzip under an OCI image manifest.
import { createHash } from "node:crypto";
import { fetch, type Dispatcher } from "undici";

export const CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
export const LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
export const MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";

export interface PushTarget {
  /** http(s)://host:port */
  url: string;
  repository: string;
  /** client certificates or a CA, for a registry serving TLS */
  dispatcher?: Dispatcher;
  /** the Authorization header for a registry that asks for one */
  authorization?: () => Promise<string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export const sha256 = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function call(target: PushTarget, method: string, url: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; location: string | null; digest: string | null; text: string }> {
  const auth = target.authorization ? { authorization: await target.authorization() } : {};
  const res = await fetch(url, { method, headers: { ...headers, ...auth }, ...(body ? { body } : {}), ...(target.dispatcher ? { dispatcher: target.dispatcher } : {}) });
  return { status: res.status, location: res.headers.get("location"), digest: res.headers.get("docker-content-digest"), text: await res.text() };
}

export async function pushBlob(target: PushTarget, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(bytes);
  const started = await call(target, "POST", `${target.url}/v2/${target.repository}/blobs/uploads/`);
  if (started.status !== 202 || started.location === null) throw new Error(`blob upload: POST answered ${String(started.status)} ${started.text}`);
  const upload = new URL(started.location, target.url);
  upload.searchParams.set("digest", digest);
  const put = await call(target, "PUT", upload.toString(), bytes, { "content-type": "application/octet-stream" });
  if (put.status !== 201) throw new Error(`blob upload: PUT answered ${String(put.status)} ${put.text}`);
  return { mediaType, digest, size: bytes.length };
}

/** PUTs a manifest's exact bytes under `reference` (a tag); returns its digest. */
export async function putManifest(target: PushTarget, reference: string, manifest: Buffer, mediaType = MANIFEST_MEDIA_TYPE): Promise<string> {
  const put = await call(target, "PUT", `${target.url}/v2/${target.repository}/manifests/${reference}`, manifest, { "content-type": mediaType });
  if (put.status !== 201) throw new Error(`manifest PUT answered ${String(put.status)} ${put.text}`);
  return put.digest ?? sha256(manifest);
}

/** `annotations` make a manifest's bytes (so its digest) differ from another's of the same layers. */
export function imageManifest(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_MEDIA_TYPE, config, layers, ...(annotations ? { annotations } : {}) }));
}

export interface Pushed {
  manifestDigest: string;
  layerDigest: string;
}

/** An OPA bundle pushed under `tag`, as `oras push REF bundle.tar.gz:application/vnd.oci.image.layer.v1.tar+gzip` would. */
export async function pushBundle(target: PushTarget, tag: string, archive: Buffer, annotations?: Record<string, string>): Promise<Pushed> {
  const config = await pushBlob(target, Buffer.from("{}"), CONFIG_MEDIA_TYPE);
  const layer = await pushBlob(target, archive, LAYER_MEDIA_TYPE);
  const manifestDigest = await putManifest(target, tag, imageManifest(config, [layer], annotations));
  return { manifestDigest, layerDigest: layer.digest };
}
