// `agentgate bundle build|inspect|sign|verify`: authoring and examining
// bundles. Their flags are registered in bundle-command.ts.
import { copyFile, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readBundle } from "../policy/bundle.ts";
import { signBundleAt, verifyBundleAt } from "../policy/bundle-signing.ts";
import { SignatureError, readSigningKey, readVerificationKey } from "../policy/signatures.ts";
import { ENTRYPOINT } from "../policy/engine.ts";
import { sourceRevision } from "../policy/source-revision.ts";
import { WasmPolicy } from "../policy/wasm-policy.ts";
import { detectEntrypoints } from "./bundle-entrypoints.ts";
import { currentCapabilities } from "./capabilities.ts";
import { describeFileError } from "../file-errors.ts";
import { InputError } from "../errors.ts";
import { runOpa } from "./opa.ts";
import { outputFileOf, type OutputFileFlags } from "./output-file.ts";
import type { Io } from "./review.ts";

export interface BuildOptions {
  output: string;
  /** none: the known entrypoints the sources define */
  entrypoint: string[];
  revision?: string;
  /** Rego v0 sources (OPA 0.x syntax), built with opa's own v0 compatibility and so recorded in the manifest (rego_version: 0) */
  v0Compatible?: boolean;
}

/** Writing `target` (a bundle, -o) failed: one line naming it, not the temporary file beside it. */
function cannotWrite(flag: string, target: string): (err: unknown) => never {
  return (err: unknown) => {
    if (typeof (err as NodeJS.ErrnoException).code === "string") throw new InputError(`${flag}${target}: cannot write: ${describeFileError(err, "write")}`);
    throw err;
  };
}

/** opa refusing Rego v0 syntax (a rule body without `if`, a partial set without `contains`) names the flag that builds it. */
function v0Hint(v0: boolean): (err: unknown) => never {
  return (err: unknown) => {
    if (!v0 && err instanceof InputError && /keyword is required/.test(err.message)) throw new InputError(`${err.message} (Rego v0 sources? build them with --v0-compatible)`);
    throw err;
  };
}

export async function buildBundle(dir: string, opts: BuildOptions): Promise<{ output: string; revision: string }> {
  const source = await stat(dir).catch((err: unknown) => {
    throw new InputError(`bundle build ${dir}: cannot read: ${describeFileError(err)}`);
  });
  if (!source.isDirectory()) throw new InputError(`bundle build ${dir}: not a directory; give the directory of the bundle's .rego files (and data.json)`);
  const revision = opts.revision ?? (await sourceRevision(dir));
  const v0 = opts.v0Compatible === true;
  const entrypoints = opts.entrypoint.length > 0 ? opts.entrypoint : await detectEntrypoints(dir, v0).catch(v0Hint(v0));
  if (entrypoints.length === 0) throw new InputError(`bundle build ${dir}: defines none of agentgate's entrypoints (${Object.values(ENTRYPOINT).join(", ")}): write rules under those packages, or name others with -e`);
  const output = resolve(opts.output);
  const staging = await mkdtemp(join(tmpdir(), "agentgate-build-"));
  try {
    const tmpOut = join(staging, "bundle.tar.gz");
    // opa refuses, naming the call site, a builtin the gateway cannot evaluate.
    const capabilities = join(staging, "capabilities.json");
    await writeFile(capabilities, JSON.stringify(await currentCapabilities()));
    await runOpa([
      "build",
      "-t",
      "wasm",
      "--capabilities",
      capabilities,
      ...entrypoints.flatMap((e) => ["-e", e]),
      ...(v0 ? ["--v0-compatible"] : []),
      "--ignore",
      "*_test.rego",
      "--ignore",
      "*.tar.gz",
      "--revision",
      revision,
      "-o",
      tmpOut,
      dir,
    ]).catch(v0Hint(v0));
    // Load it before publishing: a bundle that builds but does not load never leaves here.
    const bundle = await readBundle(tmpOut);
    await WasmPolicy.load(bundle, bundle.data);
    await rename(tmpOut, output).catch(() => copyFile(tmpOut, output)).catch(cannotWrite("--output-file ", opts.output));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { output, revision };
}

export type BuildFlags = Omit<BuildOptions, "output"> & OutputFileFlags;

/** `bundle build DIR --output-file FILE`. */
export async function runBundleBuild(dir: string, opts: BuildFlags, io: Io): Promise<number> {
  const { file, deprecation } = outputFileOf("bundle build", opts);
  if (file === undefined) throw new InputError("bundle build needs --output-file FILE: where to write the bundle (.tar.gz)");
  if (deprecation !== undefined) io.err(deprecation);
  const { output, revision } = await buildBundle(dir, { ...opts, output: file });
  io.out(`built ${output} (revision ${revision})`);
  return 0;
}

export interface SignFlags extends OutputFileFlags {
  signingKey: string;
  signingAlg?: string;
  keyId: string;
  scope?: string;
}

/** `bundle sign BUNDLE --signing-key PEM`. */
export async function runBundleSign(path: string, opts: SignFlags, io: Io): Promise<number> {
  const { file: output, deprecation } = outputFileOf("bundle sign", opts);
  if (deprecation !== undefined) io.err(deprecation);
  const key = await readSigningKey(opts.signingKey, { keyId: opts.keyId, ...(opts.signingAlg ? { algorithm: opts.signingAlg } : {}), ...(opts.scope ? { scope: opts.scope } : {}) });
  // Only what agentgate would load is worth a signature: a tarball that is not a bundle is refused, saying why.
  await readBundle(path);
  const signed = await signBundleAt(path, key, output).catch(cannotWrite(output === undefined ? "" : "--output-file ", output ?? path));
  io.out(`signed ${signed.files} files of ${path} with ${key.algorithm} key "${key.keyId}": ${signed.output}`);
  return 0;
}

export interface VerifyFlags {
  verificationKey: string;
  signingAlg?: string;
  keyId: string;
  scope?: string;
}

/** `bundle verify BUNDLE --verification-key PEM`: 0 verified, 1 refused (one line why). */
export async function runBundleVerify(path: string, opts: VerifyFlags, io: Io): Promise<number> {
  const key = await readVerificationKey(opts.verificationKey, { keyId: opts.keyId, ...(opts.signingAlg ? { algorithm: opts.signingAlg } : {}), ...(opts.scope ? { scope: opts.scope } : {}) });
  try {
    const result = await verifyBundleAt(path, key);
    io.out(`verified ${path}: ${result.files} files signed with ${result.algorithm} key "${result.keyId}"${result.scope ? `, scope "${result.scope}"` : ""}`);
    return 0;
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    io.err(`verification failed: ${err.message}`);
    return 1;
  }
}

/** `bundle inspect BUNDLE`: what the gateway would load, as JSON. */
export async function runBundleInspect(path: string, io: Io): Promise<number> {
  const b = await readBundle(path);
  const policy = await WasmPolicy.load(b, b.data);
  io.out(
    JSON.stringify(
      {
        name: b.name,
        revision: b.revision,
        digest: b.digest,
        roots: b.manifest.roots ?? [""],
        entrypoints: [...policy.entrypoints].sort(),
        hostBuiltins: policy.requiredBuiltins,
        dataKeys: Object.keys(b.data).sort(),
        files: [...b.files.keys()].sort(),
      },
      null,
      2,
    ),
  );
  return 0;
}
