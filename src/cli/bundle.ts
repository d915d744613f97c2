// `agentgate bundle build|inspect|sign|verify`: authoring and examining bundles.
import { copyFile, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import { readBundle } from "../policy/bundle.ts";
import { signBundleAt, verifyBundleAt } from "../policy/bundle-signing.ts";
import { SignatureError, readSigningKey, readVerificationKey } from "../policy/signatures.ts";
import { ENTRYPOINT } from "../policy/engine.ts";
import { sourceRevision } from "../policy/source-revision.ts";
import { WasmPolicy } from "../policy/wasm-policy.ts";
import { registerBundleCheck } from "./bundle-check.ts";
import { detectEntrypoints } from "./bundle-entrypoints.ts";
import { currentCapabilities } from "./capabilities.ts";
import { describeFileError } from "../file-errors.ts";
import { InputError } from "../errors.ts";
import { runOpa } from "./opa.ts";
import { collect } from "./flag-values.ts";
import { addOutputFileFlags, outputFileOf, type OutputFileFlags } from "./output-file.ts";
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

export function registerBundleCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const bundle = program.command("bundle").description("build and examine OPA bundles for agentgate");

  const build = bundle
    .command("build <dir>")
    .description("compile a directory of Rego (and data.json) into a wasm bundle (opa build -t wasm)");
  addOutputFileFlags(build, "bundle to write (.tar.gz)")
    .addOption(new Option("-e, --entrypoint <path>", "entrypoint; repeatable").default([], "those of agentgate's the sources define").argParser(collect))
    .option("--revision <rev>", "manifest revision (default: a hash of the sources)")
    .option("--v0-compatible", "the sources are Rego v0 (OPA 0.x syntax): built with opa's v0 compatibility, recorded in the manifest as rego_version 0")
    .action(async (dir: string, opts: Omit<BuildOptions, "output"> & OutputFileFlags) => {
      const { file, deprecation } = outputFileOf("bundle build", opts);
      if (file === undefined) throw new InputError("bundle build needs --output-file FILE: where to write the bundle (.tar.gz)");
      if (deprecation !== undefined) io.err(deprecation);
      const { output, revision } = await buildBundle(dir, { ...opts, output: file });
      io.out(`built ${output} (revision ${revision})`);
      setExit(0);
    });

  const sign = bundle
    .command("sign <bundle>")
    .description("sign every file of a bundle into its .signatures.json (OPA's format; opa run --verification-key accepts it)")
    .requiredOption("--signing-key <pem>", "PEM private key (RSA, EC or Ed25519), or the HMAC secret file with --signing-alg HS256")
    .option("--signing-alg <alg>", "RS256, PS256, ES256, ES384, ES512, EdDSA, HS256, … (default: from the key)")
    .option("--key-id <id>", "key id put in the JWT (kid and keyid)", "default")
    .option("--scope <scope>", "scope claim verifiers must be configured with");
  addOutputFileFlags(sign, "signed bundle to write (.tar.gz; default: the bundle in place)")
    .action(async (path: string, opts: { signingKey: string; signingAlg?: string; keyId: string; scope?: string } & OutputFileFlags) => {
      const { file: output, deprecation } = outputFileOf("bundle sign", opts);
      if (deprecation !== undefined) io.err(deprecation);
      const key = await readSigningKey(opts.signingKey, { keyId: opts.keyId, ...(opts.signingAlg ? { algorithm: opts.signingAlg } : {}), ...(opts.scope ? { scope: opts.scope } : {}) });
      // Only what agentgate would load is worth a signature: a tarball that is not a bundle is refused, saying why.
      await readBundle(path);
      const signed = await signBundleAt(path, key, output).catch(cannotWrite(output === undefined ? "" : "--output-file ", output ?? path));
      io.out(`signed ${signed.files} files of ${path} with ${key.algorithm} key "${key.keyId}": ${signed.output}`);
      setExit(0);
    });

  bundle
    .command("verify <bundle>")
    .description("check a bundle's .signatures.json: the JWT, its key id and scope, and every file's hash (exit 1 when refused)")
    .requiredOption("--verification-key <pem>", "PEM public key or certificate, or the HMAC secret file with --signing-alg HS256")
    .option("--signing-alg <alg>", "the algorithm the key verifies (default: from the key)")
    .option("--key-id <id>", "the key's id; a JWT naming another key is refused", "default")
    .option("--scope <scope>", "the scope the bundle must be signed for")
    .action(async (path: string, opts: { verificationKey: string; signingAlg?: string; keyId: string; scope?: string }) => {
      const key = await readVerificationKey(opts.verificationKey, { keyId: opts.keyId, ...(opts.signingAlg ? { algorithm: opts.signingAlg } : {}), ...(opts.scope ? { scope: opts.scope } : {}) });
      try {
        const result = await verifyBundleAt(path, key);
        io.out(`verified ${path}: ${result.files} files signed with ${result.algorithm} key "${result.keyId}"${result.scope ? `, scope "${result.scope}"` : ""}`);
        setExit(0);
      } catch (err) {
        if (!(err instanceof SignatureError)) throw err;
        io.err(`verification failed: ${err.message}`);
        setExit(1);
      }
    });

  registerBundleCheck(bundle, io, setExit);

  bundle
    .command("inspect <bundle>")
    .description("print a bundle's revision, digest, entrypoints, host builtins and data roots")
    .action(async (path: string) => {
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
      setExit(0);
    });
}
