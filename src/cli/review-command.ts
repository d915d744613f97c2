// `agentgate review`: its flags and help, and the checks of their
// combinations. What it runs (review.ts) is imported only when it runs
// (src/cli/main.ts says why).
import type { Command } from "commander";
import { Option } from "commander";
import { exemptNamespaces } from "../gateway/exemptions.ts";
import type { Io, ReviewOptions } from "./review.ts";
import { InputError } from "../errors.ts";
import { defaultNamespace, defaultServiceAccount } from "./environment.ts";
import { collect, collectChecked } from "./flag-values.ts";

/** review evaluates once, offline: a bundle service's URL is for serve and audit, which poll it. */
function bundleFile(value: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new InputError(`--bundle ${value}: review reads bundle files and directories; a URL is for serve and audit (download the bundle and pass the file)`);
}

export function registerReviewCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("review")
    .description("admit manifests offline, as kubectl apply would submit them, against the same bundles")
    .option("-f, --file <file>", "manifest file (multi-document YAML or JSON; - for stdin); repeatable; documents are admitted in order, and each admitted one is context for the next", collect, [])
    .option("--cluster-objects <file>", "objects already in the cluster that references resolve to (AgentConfig, ModelConfig, RemoteMCPServer, Namespace); repeatable", collect, [])
    .addOption(new Option("--context <file>", "deprecated: the old name of --cluster-objects").argParser(collect).default([]).hideHelp())
    .option("--bundle <path>", "OPA bundle (.tar.gz or directory); repeatable; each is stacked on the embedded default bundle (see --no-default-bundle)", collectChecked(bundleFile), [])
    .option("--no-default-bundle", "the --bundle values replace the embedded default bundle instead of stacking on it")
    .option("--policy-config <file>", "YAML merged into data.agentgate.config")
    .option("--user <name>", "requesting user", "kubernetes-admin")
    .option("--group <group>", "requesting user's group; repeatable", collect, [])
    .addOption(new Option("--operation <op>", "admission operation").choices(["CREATE", "UPDATE"]).default("CREATE"))
    .option("--old <file>", "the objects as stored before, for UPDATE; repeatable", collect, [])
    .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
    .option("--admission-review <file>", "answer a raw AdmissionReview exactly as the webhook would (- for stdin)")
    .addOption(new Option("--webhook <which>", "with --admission-review: which webhook answers").choices(["validate", "mutate"]).default("validate"))
    .option("-n, --namespace <ns>", "the namespace of manifests that name none (default: default); a manifest in another is refused, as with kubectl apply -n")
    .option("--agentgate-namespace <ns>", "agentgate's own namespace, exempt from admission as with serve --namespace (with kube-system)", defaultNamespace())
    .option("--service-account <user>", "agentgate's own identity, allowed to change stamps and managed objects (as with serve)", defaultServiceAccount())
    .option("--trusted-user <user>", "another identity trusted like agentgate's own (as with serve); repeatable", collect, [])
    .option("--signing-key-file <file>", "sign stamps with this Ed25519 private key (PEM), as a gateway given it would; default: a key made for this review")
    .action(async (opts: ReviewOptions) => {
      if (opts.file.length === 0 && opts.admissionReview === undefined) throw new InputError("review needs -f FILE (or - for stdin), or --admission-review FILE");
      if (opts.file.length > 0 && opts.admissionReview !== undefined) throw new InputError("review takes -f FILE or --admission-review FILE, not both");
      if (opts.namespace !== undefined && exemptNamespaces(opts.agentgateNamespace).has(opts.namespace)) {
        // Before this flag scoped manifests it named agentgate's own namespace: refuse, never judge nothing and pass.
        throw new InputError(`--namespace ${opts.namespace}: agentgate judges nothing there (it is exempt); --namespace is the manifests' namespace, agentgate's own is --agentgate-namespace`);
      }
      if (opts.context.length > 0) {
        io.err(`agentgate: --context FILE is deprecated: use --cluster-objects ${opts.context.join(" --cluster-objects ")} (--context will name a kubeconfig context, as in kubectl)`);
        opts.clusterObjects.push(...opts.context);
      }
      const { runReview } = await import("./review.ts");
      setExit(await runReview(opts, io));
    });
}
