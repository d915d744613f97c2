// A bundle at `oci://registry/repo/name:tag` (or `@sha256:…`): which registry,
// repository and manifest a bundle is pulled from, by the grammar of the
// OCI distribution spec, so a typo is refused at start rather than polled
// as a 404 for ever.
import { AgentgateError } from "../../errors.ts";

/** A parsed `oci://` location. */
export interface OciReference {
  /** the location as given */
  location: string;
  /** host[:port] as given (docker.io names Docker Hub) */
  registry: string;
  /** host[:port] the API is reached at (registry-1.docker.io for Docker Hub) */
  apiHost: string;
  /** the repository name, e.g. "platform/agentgate-policy" */
  repository: string;
  /** the tag; "latest" when neither a tag nor a digest is given */
  tag?: string;
  /** the manifest's digest when pinned (algorithm:hex); it wins over a tag */
  digest?: string;
}

/** A bundle location that is not an oci:// reference; `problem` says why, without the location. */
export class OciReferenceError extends AgentgateError {
  readonly location: string;
  readonly problem: string;
  constructor(location: string, problem: string) {
    super("usage", `${location}: ${problem}`, { field: "bundles" });
    this.name = "OciReferenceError";
    this.location = location;
    this.problem = problem;
  }
}

// The distribution spec's grammar (the OCI distribution-spec, section "Pulling manifests").
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** the algorithms a registry must support; others could not be verified here */
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$/;

export function isOciLocation(location: string): boolean {
  return /^oci:\/\//i.test(location);
}

/** Docker Hub's names for itself: the API lives at registry-1.docker.io, and a one-part name is under library/. */
const DOCKER_HUB = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

export function parseOciReference(location: string): OciReference {
  if (!isOciLocation(location)) throw new OciReferenceError(location, "not an oci:// reference");
  const rest = location.slice("oci://".length);
  const slash = rest.indexOf("/");
  if (slash <= 0) throw new OciReferenceError(location, "expected oci://REGISTRY/REPOSITORY[:TAG|@DIGEST], e.g. oci://ghcr.io/acme/policy:1.0");
  const registry = rest.slice(0, slash);
  if (!HOST.test(registry)) throw new OciReferenceError(location, `${JSON.stringify(registry)} is not a registry host[:port]`);
  let path = rest.slice(slash + 1);
  let digest: string | undefined;
  const at = path.indexOf("@");
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!DIGEST.test(digest)) throw new OciReferenceError(location, `${JSON.stringify(digest)} is not a digest; expected sha256: and 64 lowercase hex digits (or sha512: and 128)`);
  }
  let tag: string | undefined;
  // A colon after the last slash starts the tag (one before it is a port, which is in `registry`).
  const colon = path.lastIndexOf(":");
  if (colon > path.lastIndexOf("/")) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw new OciReferenceError(location, `${JSON.stringify(tag)} is not a tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  if (path === "" || !path.split("/").every((c) => COMPONENT.test(c))) {
    throw new OciReferenceError(location, `${JSON.stringify(path)} is not a repository name (lowercase letters and digits, separated by . _ __ - or /)`);
  }
  const hub = DOCKER_HUB.has(registry.toLowerCase());
  const repository = hub && !path.includes("/") ? `library/${path}` : path;
  return {
    location,
    registry,
    apiHost: hub ? "registry-1.docker.io" : registry,
    repository,
    ...(digest !== undefined ? { digest } : { tag: tag ?? "latest" }),
  };
}

/** The bundle's name: the repository's last part (oci://r/acme/team-a:v1 → team-a). */
export function bundleNameOfOci(location: string): string {
  try {
    return parseOciReference(location).repository.split("/").pop() ?? "bundle";
  } catch {
    return "bundle";
  }
}

/** What is asked for at /v2/<name>/manifests/<reference>. */
export function manifestReference(ref: OciReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
