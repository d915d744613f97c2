// `agentgate bundle build|sign|verify|check|inspect`: their flags and help.
// What each runs (bundle.ts, bundle-check.ts) is imported only when it runs
// (src/cli/main.ts says why).
import type { Command } from "commander";
import { Option } from "commander";
import type { BuildFlags, SignFlags, VerifyFlags } from "./bundle.ts";
import type { CheckFlags } from "./bundle-check.ts";
import { collect } from "./flag-values.ts";
import { addOutputFileFlags } from "./output-file.ts";
import type { Io } from "./review.ts";

export function registerBundleCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const bundle = program.command("bundle").description("build and examine OPA bundles for agentgate");

  const build = bundle
    .command("build <dir>")
    .description("compile a directory of Rego (and data.json) into a wasm bundle (opa build -t wasm)");
  addOutputFileFlags(build, "bundle to write (.tar.gz)")
    .addOption(new Option("-e, --entrypoint <path>", "entrypoint; repeatable").default([], "those of agentgate's the sources define").argParser(collect))
    .option("--revision <rev>", "manifest revision (default: a hash of the sources)")
    .option("--v0-compatible", "the sources are Rego v0 (OPA 0.x syntax): built with opa's v0 compatibility, recorded in the manifest as rego_version 0")
    .action(async (dir: string, opts: BuildFlags) => {
      const { runBundleBuild } = await import("./bundle.ts");
      setExit(await runBundleBuild(dir, opts, io));
    });

  const sign = bundle
    .command("sign <bundle>")
    .description("sign every file of a bundle into its .signatures.json (OPA's format; opa run --verification-key accepts it)")
    .requiredOption("--signing-key <pem>", "PEM private key (RSA, EC or Ed25519), or the HMAC secret file with --signing-alg HS256")
    .option("--signing-alg <alg>", "RS256, PS256, ES256, ES384, ES512, EdDSA, HS256, … (default: from the key)")
    .option("--key-id <id>", "key id put in the JWT (kid and keyid)", "default")
    .option("--scope <scope>", "scope claim verifiers must be configured with");
  addOutputFileFlags(sign, "signed bundle to write (.tar.gz; default: the bundle in place)")
    .action(async (path: string, opts: SignFlags) => {
      const { runBundleSign } = await import("./bundle.ts");
      setExit(await runBundleSign(path, opts, io));
    });

  bundle
    .command("verify <bundle>")
    .description("check a bundle's .signatures.json: the JWT, its key id and scope, and every file's hash (exit 1 when refused)")
    .requiredOption("--verification-key <pem>", "PEM public key or certificate, or the HMAC secret file with --signing-alg HS256")
    .option("--signing-alg <alg>", "the algorithm the key verifies (default: from the key)")
    .option("--key-id <id>", "the key's id; a JWT naming another key is refused", "default")
    .option("--scope <scope>", "the scope the bundle must be signed for")
    .action(async (path: string, opts: VerifyFlags) => {
      const { runBundleVerify } = await import("./bundle.ts");
      setExit(await runBundleVerify(path, opts, io));
    });

  bundle
    .command("check <bundle>")
    .description("make the gateway's load-time checks and, with -f and an opa binary ($AGENTGATE_OPA, .tools/bin or PATH), compare the gateway's answers with opa eval's")
    .option("-f, --input <file>", "a policy input document (JSON or YAML: {request, context}); repeatable", collect, [])
    .option("--source <dir>", "the Rego the bundle was built from, for opa eval (needed with -f)")
    .option("--policy-config <file>", "YAML merged into data.agentgate.config (as serve and review take it), for both evaluations")
    .action(async (path: string, opts: CheckFlags) => {
      const { runBundleCheck } = await import("./bundle-check.ts");
      setExit(await runBundleCheck(path, opts, io));
    });

  bundle
    .command("inspect <bundle>")
    .description("print a bundle's revision, digest, entrypoints, host builtins and data roots")
    .action(async (path: string) => {
      const { runBundleInspect } = await import("./bundle.ts");
      setExit(await runBundleInspect(path, io));
    });
}
