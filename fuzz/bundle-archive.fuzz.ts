// Bundle archives as the bundle store takes them from a file, an HTTP
// bundle service or an OCI registry: the .tar.gz read (readTarGz), the
// signature checked (.signatures.json against an HMAC key), the files read
// as a bundle (.manifest, data.json at any depth) and its policy config
// checked against its schema, all as bundle-store.ts runs them before the
// wasm is compiled.
import { createHmac } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { BundleError, bundleFromFiles, digestFiles, readTarGz } from "../src/policy/bundle.ts";
import { PolicyConfigError } from "../src/policy/config-schema.ts";
import { bundleData } from "../src/policy/engine.ts";
import { SIGNATURES_FILE, hashBundleFile, verificationKeyFrom, verifyBundleFiles } from "../src/policy/signatures.ts";
import { isRecord } from "../src/types/kube.ts";
import { PropertyViolation, gist, mutateBytes, mutateJsonText, type FuzzTarget, type Rng } from "./engine.ts";
import { packTar, unpackTar, type TarEntry } from "./tar.ts";

export const SECRET = Buffer.from("agentgate-fuzz-secret");
const KEY = verificationKeyFrom(SECRET, "fuzz key", { algorithm: "HS256" });

export const PATHS = [
  ".manifest",
  "/.manifest",
  "./.manifest",
  "data.json",
  "/data.json",
  "agentgate/data.json",
  "agentgate/config/data.json",
  "a/b/c/d/data.json",
  "data.yaml",
  "x/data.yml",
  "policy.wasm",
  "/policy.wasm",
  "other.wasm",
  ".signatures.json",
  "/.signatures.json",
  "x/.signatures.json",
  "policy.rego",
  "../escape/data.json",
  "__proto__/data.json",
  "__proto__/polluted/data.json",
  "constructor/prototype/data.json",
  "a//b/data.json",
  "",
  "/",
];

const WORDS = ["revision", "roots", "wasm", "entrypoint", "module", "/policy.wasm", "agentgate/violations", "metadata", "agentgate", "config", "config_schema", "profiles", "enforcement", "warn", "type", "object", "properties", "additionalProperties", "pattern", "minimum", "enum", "$ref", "#/definitions/x", "files", "name", "hash", "algorithm", "SHA-256", "MD5", "SHA-512-224", "keyid", "scope", "default", "signatures", "plugin", "", ...PATHS];

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

/** A compact JWS signed with the fuzz key, over any claims: what reaches the files-list checks. */
export function signClaims(claims: string, header: Record<string, unknown> = { alg: "HS256", typ: "JWT", kid: "default" }): string {
  const signing = `${b64url(JSON.stringify(header))}.${b64url(claims)}`;
  return `${signing}.${createHmac("sha256", SECRET).update(signing).digest("base64url")}`;
}

/** The claims `opa build --signing-key` writes for these files, or undefined when a structured file does not parse. */
export function claimsFor(entries: readonly TarEntry[]): Record<string, unknown> | undefined {
  const files: { name: string; hash: string; algorithm: string }[] = [];
  for (const e of entries) {
    if (e.type !== "0" || e.name.endsWith(SIGNATURES_FILE)) continue;
    const name = e.name.replace(/^\.?\/+/, "");
    try {
      files.push({ name, hash: hashBundleFile(name, e.content), algorithm: "SHA-256" });
    } catch {
      return undefined;
    }
  }
  return { files, keyid: "default" };
}

export function signed(entries: TarEntry[], claims?: string): TarEntry[] {
  const text = claims ?? JSON.stringify(claimsFor(entries) ?? { files: [] });
  const rest = entries.filter((e) => !e.name.endsWith(SIGNATURES_FILE));
  return [...rest, { name: "/.signatures.json", type: "0", content: Buffer.from(JSON.stringify({ signatures: [signClaims(text)] })) }];
}

/** Take the archive apart, change a file, its name, the set of files or the signed claims, and pack it again (re-signed, mostly). */
function mutateArchive(input: Buffer, rng: Rng): Buffer | undefined {
  let raw = input;
  if (input[0] === 0x1f && input[1] === 0x8b) {
    try {
      raw = gunzipSync(input);
    } catch {
      return undefined;
    }
  }
  const entries = unpackTar(raw);
  if (!entries) return undefined;
  const files = entries.filter((e) => e.type === "0");
  let claims: string | undefined;
  switch (rng.int(6)) {
    case 0:
    case 1: {
      const e = files.length > 0 ? rng.pick(files) : undefined;
      if (!e) return undefined;
      const json = e.name.endsWith(".json") || e.name.endsWith(".manifest") ? mutateJsonText(e.content.toString("utf8"), rng, WORDS) : undefined;
      e.content = json !== undefined ? Buffer.from(json) : mutateBytes(e.content, rng, WORDS.map((w) => Buffer.from(w)), [], 16 * 1024);
      break;
    }
    case 2:
      if (entries.length > 0) rng.pick(entries).name = rng.pick(PATHS);
      break;
    case 3:
      entries.push({ name: rng.pick(PATHS), type: rng.chance(0.9) ? "0" : rng.pick(["5", "2", "1", "g", "x", "L"]), content: Buffer.from(rng.chance(0.7) ? JSON.stringify({ [rng.pick(WORDS)]: rng.pick(WORDS) }) : rng.pick(WORDS)) });
      break;
    case 4:
      if (entries.length > 0) entries.splice(rng.int(entries.length), 1);
      break;
    default: {
      const base = claimsFor(entries);
      claims = base === undefined ? undefined : mutateJsonText(JSON.stringify(base), rng, WORDS);
    }
  }
  const out = rng.chance(0.7) || claims !== undefined ? signed(entries, claims) : entries;
  const tar = packTar(out);
  return rng.chance(0.3) ? gzipSync(tar, { level: 1 }) : tar;
}

export function create(): Promise<FuzzTarget> {
  return Promise.resolve({
    name: "bundle-archive",
    property:
      "an archive is read to files, verified, read as a bundle and its config checked, each step either succeeding or refusing with BundleError (SignatureError) or PolicyConfigError; never another exception, never a built-in prototype changed; a bundle has a wasm module, object data and the digest of its files; a verified signature covers exactly the bundle's files",
    maxLength: 16 * 1024,
    dictionary: [...WORDS.map((w) => JSON.stringify(w)), "ustar\u000000", "0000644\u0000", "\u001f\u008b"],
    structureRate: 0.85,
    mutate: mutateArchive,
    async run(input: Buffer): Promise<string> {
      let files: Map<string, Buffer>;
      try {
        files = await readTarGz(input, "fuzz");
      } catch (err) {
        if (err instanceof BundleError) return `unreadable ${gist(err.message.replace(/^bundle "fuzz": not a readable \.tar\.gz: /, ""))}`;
        throw err;
      }
      for (const path of files.keys()) if (path.startsWith("/") || path.startsWith("./")) throw new PropertyViolation(`file path ${JSON.stringify(path)} kept its leading slash`);
      const labels: string[] = [`${Math.min(files.size, 5)} files`];
      try {
        const verified = await verifyBundleFiles("fuzz", files, KEY);
        const covered = [...files.keys()].filter((p) => p !== SIGNATURES_FILE && !p.endsWith(`/${SIGNATURES_FILE}`)).length;
        if (verified.files !== covered) throw new PropertyViolation(`verified ${verified.files} files of ${covered}`);
        labels.push("verified");
      } catch (err) {
        if (!(err instanceof BundleError)) throw err;
        labels.push(`signature: ${gist(err.message.replace(/^bundle "fuzz": signature: /, ""))}`);
      }
      let bundle;
      try {
        bundle = bundleFromFiles("fuzz", "fuzz.tar.gz", files);
      } catch (err) {
        if (!(err instanceof BundleError)) throw err;
        labels.push(`refused: ${gist(err.message.replace(/^bundle "fuzz": /, ""))}`);
        return labels.join("; ");
      }
      if (!Buffer.isBuffer(bundle.wasm) || !isRecord(bundle.data) || typeof bundle.revision !== "string" || bundle.revision === "") throw new PropertyViolation("a bundle without wasm, object data or a revision");
      if (Object.getPrototypeOf(bundle.data) !== Object.prototype) throw new PropertyViolation("the bundle's data has another prototype than Object.prototype");
      if (bundle.digest !== digestFiles(files) || !/^sha256:[0-9a-f]{64}$/.test(bundle.digest)) throw new PropertyViolation("the bundle's digest is not its files'");
      try {
        bundleData(bundle, undefined);
        labels.push("config ok");
      } catch (err) {
        if (!(err instanceof PolicyConfigError) && !(err instanceof BundleError)) throw err;
        // Coarse on purpose: each config problem's wording as a label filled the corpus with schema-bearing bundles, each an Ajv compile.
        labels.push(`config: ${err.name}`);
      }
      return labels.join("; ");
    },
  });
}
