// `agentgate bundle build|inspect`: authoring and examining bundles.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { readBundle } from "../policy/bundle.ts";
import { ENTRYPOINT } from "../policy/engine.ts";
import { sourceRevision } from "../policy/source-revision.ts";
import { WasmPolicy } from "../policy/wasm-policy.ts";
import { runOpa } from "./opa.ts";
import type { Io } from "./review.ts";

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export interface BuildOptions {
  output: string;
  entrypoint: string[];
  revision?: string;
}

export async function buildBundle(dir: string, opts: BuildOptions): Promise<{ output: string; revision: string }> {
  const revision = opts.revision ?? (await sourceRevision(dir));
  const entrypoints = opts.entrypoint.length > 0 ? opts.entrypoint : [ENTRYPOINT.violations, ENTRYPOINT.defaults];
  const output = resolve(opts.output);
  const staging = await mkdtemp(join(tmpdir(), "agentgate-build-"));
  try {
    const tmpOut = join(staging, "bundle.tar.gz");
    await runOpa([
      "build",
      "-t",
      "wasm",
      ...entrypoints.flatMap((e) => ["-e", e]),
      "--ignore",
      "*_test.rego",
      "--ignore",
      "*.tar.gz",
      "--revision",
      revision,
      "-o",
      tmpOut,
      dir,
    ]);
    // Load it before publishing: a bundle that builds but does not load never leaves here.
    const bundle = await readBundle(tmpOut);
    await WasmPolicy.load(bundle, bundle.data);
    const { rename, copyFile } = await import("node:fs/promises");
    await rename(tmpOut, output).catch(() => copyFile(tmpOut, output));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { output, revision };
}

export function registerBundleCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const bundle = program.command("bundle").description("build and examine OPA bundles for agentgate");

  bundle
    .command("build <dir>")
    .description("compile a directory of Rego (and data.json) into a wasm bundle (opa build -t wasm)")
    .requiredOption("-o, --output <file>", "bundle to write (.tar.gz)")
    .option("-e, --entrypoint <path>", `entrypoint; repeatable (default: ${ENTRYPOINT.violations}, ${ENTRYPOINT.defaults})`, collect, [])
    .option("--revision <rev>", "manifest revision (default: a hash of the sources)")
    .action(async (dir: string, opts: BuildOptions) => {
      const { output, revision } = await buildBundle(dir, opts);
      io.out(`built ${output} (revision ${revision})`);
      setExit(0);
    });

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
