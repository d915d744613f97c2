// `agentgate capabilities`: the OPA capabilities of this gateway, for
// `opa check|build --capabilities` and linters while a bundle is written.
// Its flags are registered in capabilities-command.ts.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { agentgateCapabilities, asCapabilities, probeModules, type Capabilities } from "@agentgate/opa-host";
import { readBundle } from "../policy/bundle.ts";
import { calledBuiltins } from "../policy/wasm-policy.ts";
import { describeFileError } from "../file-errors.ts";
import { InputError } from "../errors.ts";
import { findOpa, runOpa } from "./opa.ts";
import type { Io } from "./review.ts";

/** The builtins a policy.wasm built by this opa calls the host for: measured, by compiling a call to every builtin. */
export async function hostCalledBuiltins(opa: Capabilities): Promise<Set<string>> {
  const dir = await mkdtemp(join(tmpdir(), "agentgate-probe-"));
  try {
    const called = new Set<string>();
    const { current, deprecated } = probeModules(opa);
    for (const [name, text, extra] of [["current", current, []], ["deprecated", deprecated, ["--v0-compatible"]]] as const) {
      await writeFile(join(dir, `${name}.rego`), text);
      const out = join(dir, `${name}.tar.gz`);
      try {
        await runOpa(["build", "-t", "wasm", ...extra, "-e", "probe", "-o", out, join(dir, `${name}.rego`)]);
      } catch (err) {
        throw new InputError(`cannot tell which builtins opa's wasm leaves to the host (a probe calling every builtin does not build): ${err instanceof Error ? err.message : String(err)}`);
      }
      for (const b of await calledBuiltins((await readBundle(out)).wasm)) called.add(b);
    }
    return called;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const measured = new Map<string, Promise<Capabilities>>();

async function measure(): Promise<Capabilities> {
  const { stdout } = await runOpa(["capabilities", "--current"]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (err) {
    throw new InputError(`opa capabilities --current printed no JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const opa = asCapabilities(parsed);
  return agentgateCapabilities(opa, await hostCalledBuiltins(opa));
}

/**
 * `opa capabilities --current` of the opa that builds bundles, narrowed to
 * what agentgate evaluates. Measured once per process and opa binary.
 */
export function currentCapabilities(): Promise<Capabilities> {
  const opa = findOpa();
  let doc = measured.get(opa);
  if (!doc) {
    doc = measure();
    doc.catch(() => measured.delete(opa));
    measured.set(opa, doc);
  }
  return doc.then((d) => structuredClone(d));
}

/** `agentgate capabilities [-o json|yaml] [--output-file FILE]`. */
export async function runCapabilities(opts: { output: string; outputFile?: string }, io: Io): Promise<number> {
  let format = opts.output;
  let file = opts.outputFile;
  if (format !== "json" && format !== "yaml") {
    // Until this release -o named the file: still taken, for one release, when it is not a format.
    if (file !== undefined || !/[./]/.test(format)) throw new InputError(`-o ${format}: not an output format; use json or yaml (and --output-file FILE to write a file)`);
    io.err(`agentgate: capabilities -o FILE is deprecated: use --output-file ${format} (-o names an output format on every command)`);
    file = format;
    format = "json";
  }
  const caps = await currentCapabilities();
  const text = format === "yaml" ? stringify(caps) : `${JSON.stringify(caps, null, 2)}\n`;
  if (file === undefined) io.out(text.trimEnd());
  else {
    await writeFile(file, text).catch((err: unknown) => {
      throw new InputError(`--output-file ${file}: cannot write: ${describeFileError(err, "write")}`);
    });
  }
  return 0;
}
