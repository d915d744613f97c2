// How a registry is authenticated to, as docker and OPA do it: a 401 names
// its scheme in WWW-Authenticate; a Bearer challenge sends the client to a
// token service (the realm) with the registry's service and scope, with
// basic credentials from a docker config.json, with the bearer token
// file's token, or with nothing (anonymous pull); a Basic challenge takes the
// credentials directly.
import { readFile } from "node:fs/promises";
import { isRecord } from "../../types/kube.ts";
import { describeFileError } from "../../file-errors.ts";
import { InputError } from "../../errors.ts";

export interface Challenge {
  /** lowercase: "bearer", "basic", … */
  scheme: string;
  /** parameter names lowercased */
  params: Record<string, string>;
}

/**
 * The challenges of a WWW-Authenticate header (RFC 9110 §11.6.1): a header
 * may hold several, each a scheme and comma-separated name=value pairs
 * whose values may be quoted (with \-escapes) and so hold commas.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = (re: RegExp) => { while (i < n && re.test(header[i] ?? "")) i++; };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i] ?? "")) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skip(/[\s,]/);
    if (i >= n) break;
    const word = token();
    if (word === "") {
      i++; // a character no grammar allows here: skipped, not looped on
      continue;
    }
    skip(/[ \t]/);
    if (header[i] === "=" && current) {
      i++;
      skip(/[ \t]/);
      let value = "";
      if (header[i] === "\"") {
        i++;
        while (i < n && header[i] !== "\"") {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i] ?? "";
          i++;
        }
        i++;
      } else {
        const vstart = i;
        while (i < n && header[i] !== "," && !/\s/.test(header[i] ?? "")) i++;
        value = header.slice(vstart, i);
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    current = { scheme: word.toLowerCase(), params: {} };
    challenges.push(current);
  }
  return challenges;
}

/** A user name and password (or a registry token as the password) for one registry. */
export interface RegistryCredential {
  username: string;
  password: string;
}

export type RegistryCredentials = ReadonlyMap<string, RegistryCredential>;

/**
 * The key docker writes for a registry ("https://index.docker.io/v1/",
 * "registry.example.com:5000", "https://ghcr.io") as host[:port], lowercased.
 */
export function registryKey(key: string): string {
  const host = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").split("/")[0] ?? "";
  const lower = host.toLowerCase();
  return lower === "index.docker.io" || lower === "registry-1.docker.io" ? "docker.io" : lower;
}

/**
 * The `auths` of a docker config.json (what `docker login`, `oras login`
 * and a kubernetes.io/dockerconfigjson Secret hold): per registry either
 * `auth` (base64 of user:password) or `username` and `password`.
 * credsStore and credHelpers name programs to run, which a gateway pod
 * does not have; their registries are not in `auths` and so get no
 * credentials.
 */
export function parseDockerConfig(text: string, file: string): Map<string, RegistryCredential> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // Where, not V8's message: that quotes the text around the error, which may be a password.
    const message = err instanceof Error ? err.message : "";
    const where = (/line \d+ column \d+/.exec(message) ?? /position \d+/.exec(message))?.[0];
    throw new Error(`${file}: not valid JSON${where !== undefined ? ` (at ${where})` : ""}; expected a docker config.json`, { cause: err });
  }
  if (!isRecord(doc)) throw new Error(`${file}: expected a docker config.json, a JSON object with "auths"`);
  const auths = doc.auths;
  if (auths === undefined) throw new Error(`${file}: has no "auths"; expected a docker config.json as docker login or oras login writes it`);
  if (!isRecord(auths)) throw new Error(`${file}: "auths" is not an object of registries`);
  const out = new Map<string, RegistryCredential>();
  for (const [key, entry] of Object.entries(auths)) {
    if (!isRecord(entry)) throw new Error(`${file}: auths.${key} is not an object`);
    let username: string | undefined;
    let password: string | undefined;
    if (typeof entry.auth === "string" && entry.auth !== "") {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) throw new Error(`${file}: auths.${key}.auth is not base64 of user:password`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    } else if (typeof entry.username === "string" && typeof entry.password === "string") {
      username = entry.username;
      password = entry.password;
    } else if (typeof entry.identitytoken === "string") {
      throw new Error(`${file}: auths.${key} holds an identitytoken (an OAuth2 refresh token), which is not supported; give auth or username and password`);
    } else {
      throw new Error(`${file}: auths.${key} has neither auth nor username and password`);
    }
    out.set(registryKey(key), { username, password });
  }
  return out;
}

/** Reads a docker config.json; every error names it (as `name`, what the caller calls it) and the file. */
export async function readDockerConfig(file: string, name = "registry credentials"): Promise<Map<string, RegistryCredential>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`${name} ${file}: cannot read: ${describeFileError(err)}`, { cause: err, field: "registryCredentials" });
  }
  try {
    return parseDockerConfig(text, file);
  } catch (err) {
    throw new InputError(`${name} ${err instanceof Error ? err.message : String(err)}`, { cause: err, field: "registryCredentials" });
  }
}

export const basicAuthorization = (c: RegistryCredential): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

/** The URL a Bearer challenge's token is asked for at (the realm with service and scope), or why there is none. */
export function tokenUrl(challenge: Challenge, defaultScope: string): URL {
  const realm = challenge.params.realm;
  if (realm === undefined || realm === "") throw new Error("the registry's Bearer challenge names no realm");
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new Error(`the registry's token realm ${JSON.stringify(realm)} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`the registry's token realm ${url.origin} is not http(s)`);
  if (challenge.params.service !== undefined) url.searchParams.set("service", challenge.params.service);
  url.searchParams.set("scope", challenge.params.scope ?? defaultScope);
  return url;
}

export interface RegistryToken {
  token: string;
  /** ms since the epoch */
  expiresAt: number;
}

/** A token service's answer: `token` or (OAuth2) `access_token`, valid for expires_in seconds (60 when not said, the spec's default). */
export function parseTokenAnswer(body: unknown, now = Date.now()): RegistryToken {
  if (!isRecord(body)) throw new Error("the token service answered no JSON object");
  const token = typeof body.token === "string" && body.token !== "" ? body.token : typeof body.access_token === "string" ? body.access_token : "";
  if (token === "") throw new Error("the token service's answer holds no token");
  const seconds = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
  // Renewed a little early, so a token does not expire between two requests of one pull.
  return { token, expiresAt: now + Math.max(seconds - 10, seconds / 2) * 1000 };
}

/** The first message of a registry's error body ({"errors":[{"code","message"}]}), or "". */
export function registryErrorText(body: string): string {
  try {
    const doc: unknown = JSON.parse(body);
    const first: unknown = isRecord(doc) && Array.isArray(doc.errors) ? doc.errors[0] : undefined;
    if (!isRecord(first)) return "";
    const code = typeof first.code === "string" ? first.code : "";
    const message = typeof first.message === "string" ? first.message : "";
    return [code, message].filter((s) => s !== "").join(": ");
  } catch {
    return "";
  }
}
