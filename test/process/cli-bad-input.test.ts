// Bad input to every subcommand of the real executable (bin/agentgate.js on
// the project's Node, as `npx agentgate` runs it): each row is one mistake a
// user makes, and the answer must be exit 2 (bad usage or unreadable input,
// the README) with one line naming the flag or file and the problem — no stack
// trace, no help page, no "undefined". Rows already covered elsewhere are
// not repeated here: review's in test/process/review.test.ts, controller flag
// syntax in src/cli/controller.test.ts, bundle inspect in
// test/opa/bundle-inspect.test.ts, bundle check's --policy-config and YAML
// input in test/opa/fidelity-bundle-check.test.ts, signing keys in
// test/opa/bundle-signatures.test.ts, the HTTP side of serve in
// test/opa/server.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { get } from "node:https";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create as createTar } from "tar";
import { readBundleFiles, writeBundleArchive } from "../../src/policy/bundle-archive.ts";
import { DEFAULT_BUNDLE_PATH } from "../../src/policy/load.ts";
import { generateServingCertificate } from "../../src/tls/self-signed.ts";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));
const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** This process's environment without a cluster or a pod identity: what a laptop without a kubeconfig has. */
function noCluster(home: string): NodeJS.ProcessEnv {
  const { KUBECONFIG: _k, KUBERNETES_SERVICE_HOST: _h, POD_NAMESPACE: _n, POD_SERVICE_ACCOUNT: _s, ...env } = process.env;
  // HOME too: ~/.kube/config is the last place a cluster is looked for.
  return { ...env, HOME: home };
}

/** The CLI in a child process, with no cluster in its environment; killed (code null) if it is still up after `limitMs`. */
function agentgate(args: string[], stdin = "", limitMs = 90_000, home = f("home-without-kube")): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"], env: noCluster(home) });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

let dir = "";
let busy: Server;
let busyAddress = "";
const f = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-bad-input-"));
  await writeFile(f("empty.yaml"), "");
  await writeFile(f("comments.yaml"), "# nothing here\n---\n---\n");
  // An archive's bytes: a NUL early on, as in any gzip or image.
  await writeFile(f("binary.bin"), Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from("not text at all")]));
  await writeFile(f("scalar.yaml"), "hello\n");
  await writeFile(f("numbers.yaml"), "- 1\n- 2\n");
  await writeFile(f("no-kind.yaml"), "a: 1\n");
  await writeFile(f("second-no-kind.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# the second\napiVersion: v1\nmetadata: {name: b}\n");
  await writeFile(f("syntax.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n");
  await writeFile(f("configmap.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n");
  await writeFile(f("run-unfinished.yaml"), "apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: r1}\nspec: {goal: g, configRef: {name: c}}\n");
  await writeFile(f("run-bad-provenance.yaml"), "apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentRun\nmetadata: {name: r1}\nstatus: {provenance: {payload: 5}}\n");
  await mkdir(f("a-directory"));
  await mkdir(f("home-without-kube"));
  await mkdir(f("home-with-kube/.kube"), { recursive: true });
  await writeFile(f("home-with-kube/.kube/config"), "clusters: [\n");

  // Keys and certificates of the wrong kind.
  const pem = (k: { export(o: { type: "spki"; format: "pem" }): string | Buffer }) => k.export({ type: "spki", format: "pem" });
  await writeFile(f("rsa.pub.pem"), pem(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey));
  await writeFile(f("ed25519.pub.pem"), pem(generateKeyPairSync("ed25519").publicKey));
  await writeFile(f("p384.pub.pem"), pem(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey));
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  await writeFile(f("ec.key.pem"), ec.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(f("not-a-key.pem"), "-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n");
  await writeFile(f("serving.crt"), generateServingCertificate(["localhost"]).cert);

  // Archives that are not bundles, and a bundle whose data.json is broken.
  await mkdir(f("loose"));
  await writeFile(f("loose/notes.txt"), "a tarball, but no bundle\n");
  await createTar({ gzip: true, cwd: f("loose"), file: f("not-a-bundle.tar.gz") }, ["notes.txt"]);
  const files = await readBundleFiles(DEFAULT_BUNDLE_PATH, "default");
  files.set("data.json", Buffer.from("{ nope"));
  await writeBundleArchive(files, f("bad-data.tar.gz"));

  await mkdir(f("rego"));
  await writeFile(f("rego/p.rego"), "package agentgate\n\nviolations contains v if { false; v := 1 }\n\ndefaults := {}\n");
  await mkdir(f("broken-rego"));
  await writeFile(f("broken-rego/p.rego"), "package agentgate\n\nviolations contains v if {{{\n");
  await writeFile(f("input.json"), JSON.stringify({ request: { operation: "CREATE" }, context: {} }));

  // Kubeconfigs: one that is not YAML, one without contexts, one pointing nowhere, one at a closed port.
  await writeFile(f("malformed.kubeconfig"), "this: is: not: a kubeconfig\n");
  await writeFile(f("dangling.kubeconfig"), "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: b\n");
  await writeFile(f("unreachable.kubeconfig"), "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n");

  // An address someone else already listens on.
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  const address = busy.address();
  busyAddress = `127.0.0.1:${String(typeof address === "object" && address ? address.port : 0)}`;
});

after(async () => {
  await new Promise((r) => busy.close(r));
  await rm(dir, { recursive: true, force: true });
});

interface Case {
  name: string;
  /** the arguments; F(name) is a fixture file, BUSY an address already in use */
  args: string[];
  stdin?: string;
  /** what the one line says */
  err: RegExp;
  /**
   * "one": stderr is that line and nothing else. "last": a long-running
   * command had started logging (JSON records, one per line) when it failed:
   * the error is the one line that is not a log record, and the last.
   */
  lines?: "one" | "last";
  /** HOME for the command (a fixture directory); default: one without .kube */
  home?: string;
}

const F = (name: string) => `F:${name}`;
const BUSY = "BUSY";
const UNREACHABLE = ["--kubeconfig", F("unreachable.kubeconfig")];
/** The key a controller verifies decisions with (it refuses to start without one). */
const VERIFY = ["--signing-public-key-file", F("ed25519.pub.pem")];

const cases: Case[] = [
  // Usage: commander's errors, in one line, pointing at the command's help.
  { name: "an unknown flag with a near miss: one line with the suggestion", args: ["serve", "--listn", "x"], err: /^agentgate: unknown option '--listn' \(did you mean --listen\?\); see agentgate serve --help$/ },
  { name: "no command at all: exit 2 naming the commands, not a help page", args: [], err: /^agentgate: no command given; one of serve, review, bundle, controller, provenance, audit, capabilities, logs, version, completion \(see agentgate --help\)$/ },
  { name: "bundle without its subcommand", args: ["bundle"], err: /^agentgate: bundle needs a command: build, sign, verify, check, inspect \(see agentgate bundle --help\)$/ },
  { name: "provenance without its subcommand", args: ["provenance"], err: /^agentgate: provenance needs a command: verify \(see agentgate provenance --help\)$/ },
  { name: "an unknown subcommand", args: ["bundle", "unpack"], err: /^agentgate: unknown command 'unpack'; see agentgate bundle --help$/ },
  { name: "completion for a shell it does not write", args: ["completion", "powershell"], err: /^agentgate: command-argument value 'powershell' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish; see agentgate completion --help$/ },
  { name: "help of a command that does not exist", args: ["help", "deploy"], err: /^agentgate: unknown command 'deploy'; one of serve, review, bundle, controller, provenance, audit, capabilities, logs, version, completion \(see agentgate --help\)$/ },
  { name: "a flag without its value", args: ["review", "-f"], err: /^agentgate: option '-f, --file <file>' argument missing; see agentgate review --help$/ },
  { name: "-o yaml where text or json are allowed", args: ["review", "-o", "yaml", "-f", F("configmap.yaml")], err: /^agentgate: option '-o, --output <format>' argument 'yaml' is invalid\. Allowed choices are text, json; see agentgate review --help$/ },
  { name: "--drain-seconds abc", args: ["serve", "--offline", "--drain-seconds", "abc"], err: /^agentgate: option '--drain-seconds <n>' argument 'abc' is invalid\. expected a whole number of seconds; see agentgate serve --help$/ },
  { name: "--listen nonsense", args: ["serve", "--offline", "--listen", "nonsense"], err: /^agentgate: --listen "nonsense": expected HOST:PORT, e\.g\. 0\.0\.0\.0:8443$/ },
  { name: "--interval abc", args: ["audit", "--interval", "abc"], err: /^agentgate: --interval "abc": time: invalid duration "abc"; e\.g\. 10m, 30s, 1h$/ },
  { name: "--page-size 0", args: ["audit", "--page-size", "0"], err: /^agentgate: --page-size "0": expected a whole number from 1 to 10000$/ },
  { name: "too many arguments", args: ["provenance", "verify", "--key", F("rsa.pub.pem"), F("a"), F("b")], err: /^agentgate: too many arguments for 'verify'\. Expected 1 argument but got 2: .*; see agentgate provenance verify --help$/ },

  // A flag that takes one value, given twice: commander would keep the last and drop the first unsaid.
  { name: "--policy-config twice: the first would be dropped", args: ["review", "-f", F("configmap.yaml"), "--policy-config", "a.yaml", "--policy-config", "b.yaml"], err: /^agentgate: --policy-config given twice \("a\.yaml", then "b\.yaml"\); it takes one value$/ },
  { name: "-o twice", args: ["review", "-f", F("configmap.yaml"), "-o", "json", "-o", "text"], err: /^agentgate: --output given twice \("json", then "text"\); it takes one value$/ },
  { name: "--listen twice", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:1"], err: /^agentgate: --listen given twice \("127\.0\.0\.1:0", then "127\.0\.0\.1:1"\); it takes one value$/ },
  { name: "--key twice", args: ["provenance", "verify", "--key", "a.pem", "--key", "b.pem", "x"], err: /^agentgate: --key given twice \("a\.pem", then "b\.pem"\); it takes one value$/ },
  { name: "--leader-elect twice, contradicting itself", args: ["controller", "--leader-elect=false", "--leader-elect=true"], err: /^agentgate: --leader-elect given twice \("false", then "true"\); it takes one value$/ },

  // review: files that are not manifests.
  { name: "review of an empty file admits nothing: an error, as kubectl's \"no objects passed to apply\"", args: ["review", "-f", F("empty.yaml")], err: /^agentgate: \S+empty\.yaml: no objects to admit \(only empty documents\)$/ },
  { name: "review of a file of comments and empty documents", args: ["review", "-f", F("comments.yaml")], err: /^agentgate: \S+comments\.yaml: no objects to admit/ },
  { name: "review of stdin with nothing on it", args: ["review", "-f", "-"], err: /^agentgate: -: no objects to admit/ },
  { name: "review of binary garbage", args: ["review", "-f", F("binary.bin")], err: /^agentgate: \S+binary\.bin: binary data \(a NUL byte at offset 3\), not YAML or JSON text$/ },
  { name: "review of binary garbage on stdin", args: ["review", "-f", "-"], stdin: "\u0000\u0001\u0002", err: /^agentgate: -: binary data \(a NUL byte at offset 0\), not YAML or JSON text$/ },
  { name: "review of a YAML scalar", args: ["review", "-f", F("scalar.yaml")], err: /^agentgate: \S+scalar\.yaml: document 1 \(line 1\) is a string, not a Kubernetes object \(a mapping with apiVersion and kind\)$/ },
  { name: "review of a list of numbers", args: ["review", "-f", F("numbers.yaml")], err: /^agentgate: \S+numbers\.yaml: document 1 \(line 1\) is a list, not a Kubernetes object/ },
  { name: "review of an object without apiVersion and kind", args: ["review", "-f", F("no-kind.yaml")], err: /^agentgate: \S+no-kind\.yaml: document 1 \(line 1\) has no apiVersion and kind: not a Kubernetes object$/ },
  { name: "review: the second document lacks a kind: its number and line", args: ["review", "-f", F("second-no-kind.yaml")], err: /^agentgate: \S+second-no-kind\.yaml: document 2 \(line 6\) has no kind: not a Kubernetes object$/ },
  { name: "review --admission-review of YAML: the parser's quote of it stays on one line", args: ["review", "--admission-review", F("no-kind.yaml")], err: /^agentgate: \S+no-kind\.yaml: request body is not JSON: Unexpected token 'a', "a: 1\\n" is not valid JSON$/ },
  { name: "review --admission-review of a directory", args: ["review", "--admission-review", F("a-directory")], err: /^agentgate: \S+a-directory: cannot read: EISDIR \(a directory, not a file\)$/ },
  { name: "review --bundle of a .tar.gz that is not a bundle", args: ["review", "-f", F("configmap.yaml"), "--bundle", F("not-a-bundle.tar.gz")], err: /^agentgate: bundle "not-a-bundle": has no policy\.wasm$/ },
  { name: "review --bundle of a URL: review reads files, serve and audit poll URLs", args: ["review", "-f", F("configmap.yaml"), "--bundle", "https://bundles.example/b.tar.gz"], err: /^agentgate: --bundle https:\/\/bundles\.example\/b\.tar\.gz: review reads bundle files and directories; a URL is for serve and audit/ },
  { name: "review --bundle whose data.json is not JSON", args: ["review", "-f", F("configmap.yaml"), "--bundle", F("bad-data.tar.gz")], err: /^agentgate: bundle "bad-data": data\.json is not valid JSON: .*position 2/ },
  { name: "review --policy-config with a YAML syntax error: file, line and column", args: ["review", "-f", F("configmap.yaml"), "--policy-config", F("syntax.yaml")], err: /^agentgate: policy config \S+syntax\.yaml: not valid YAML: .* at line 4, column 9$/ },
  { name: "review --policy-config of a YAML scalar", args: ["review", "-f", F("configmap.yaml"), "--policy-config", F("scalar.yaml")], err: /^agentgate: policy config \S+scalar\.yaml: must be a YAML mapping \(the keys of data\.agentgate\.config\), got a string$/ },

  // --kubeconfig, for every command that talks to a cluster.
  { name: "controller --kubeconfig that does not exist", args: ["controller", "--kubeconfig", F("missing.kubeconfig")], err: /^agentgate: --kubeconfig \S+missing\.kubeconfig: cannot read: ENOENT \(no such file\)$/ },
  { name: "controller --kubeconfig that is not YAML: the reason and where, not the parser's excerpt", args: ["controller", "--kubeconfig", F("malformed.kubeconfig")], err: /^agentgate: --kubeconfig \S+malformed\.kubeconfig: not valid YAML: Nested mappings are not allowed in compact mappings at line 1, column 7$/ },
  { name: "controller --kubeconfig whose current-context is not among its contexts", args: ["controller", "--kubeconfig", F("dangling.kubeconfig")], err: /^agentgate: --kubeconfig \S+dangling\.kubeconfig: current-context "b" is not one of its contexts \(a\)$/ },
  { name: "controller without any cluster: no --offline suggested, it has none", args: ["controller"], err: /^agentgate: no cluster to watch: pass --kubeconfig FILE \(or set KUBECONFIG, or write ~\/\.kube\/config\)$/ },
  { name: "logs without a run", args: ["logs"], err: /^agentgate: missing required argument 'run'; see agentgate logs --help$/ },
  { name: "logs -o in a format it does not print", args: ["logs", "r1", "-o", "yaml"], err: /^agentgate: .*-o, --output <format>' argument 'yaml' is invalid\. Allowed choices are text, json/ },
  // --context, as kubectl's: a context of the kubeconfig, not its current one.
  { name: "controller --context that the kubeconfig does not have: names those it has", args: ["controller", "--kubeconfig", F("dangling.kubeconfig"), "--context", "prod"], err: /^agentgate: --context prod: --kubeconfig \S+dangling\.kubeconfig has no such context \(it has a\)$/ },
  { name: "audit --context without any kubeconfig to take it from", args: ["audit", "--once", "--context", "prod"], err: /^agentgate: --context prod: no kubeconfig to take it from: pass --kubeconfig FILE/ },
  { name: "audit --namespace of agentgate's own namespace: an empty scan would read as a clean one", args: ["audit", "--once", "--namespace", "kube-system"], err: /^agentgate: --namespace kube-system: agentgate judges nothing there \(it is exempt\); --namespace scopes the scan, agentgate's own namespace is --agentgate-namespace$/ },
  { name: "logs --kubeconfig that does not exist", args: ["logs", "r1", "--kubeconfig", F("missing.kubeconfig")], err: /^agentgate: --kubeconfig \S+missing\.kubeconfig: cannot read: ENOENT \(no such file\)$/ },
  { name: "controller without --kubeconfig or $KUBECONFIG reads ~/.kube/config, as kubectl does, and names it", args: ["controller"], home: "home-with-kube", err: /^agentgate: ~\/\.kube\/config \(\S+home-with-kube\/\.kube\/config\): not valid YAML: .* at line 2, column 1$/ },
  { name: "audit --kubeconfig of binary garbage", args: ["audit", "--once", "--kubeconfig", F("binary.bin")], err: /^agentgate: --kubeconfig \S+binary\.bin: binary data, not a kubeconfig \(YAML\)$/ },
  { name: "serve --kubeconfig of an empty file: refused before a bundle loads or a certificate is made", args: ["serve", "--listen", "127.0.0.1:0", "--kubeconfig", F("empty.yaml")], err: /^agentgate: --kubeconfig \S+empty\.yaml: is empty, not a kubeconfig$/ },
  { name: "serve --kubeconfig of a list of numbers", args: ["serve", "--listen", "127.0.0.1:0", "--kubeconfig", F("numbers.yaml")], err: /^agentgate: --kubeconfig \S+numbers\.yaml: defines no contexts; is it a kubeconfig/ },
  { name: "serve --kubeconfig of a directory", args: ["serve", "--listen", "127.0.0.1:0", "--kubeconfig", F("a-directory")], err: /^agentgate: --kubeconfig \S+a-directory: cannot read: EISDIR \(a directory, not a file\)$/ },

  // serve: its files, before anything starts.
  { name: "serve --tls-cert-file that is not a certificate", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--tls-cert-file", F("binary.bin"), "--tls-key-file", F("ec.key.pem")], err: /^agentgate: --tls-cert-file\/--tls-key-file: \S+binary\.bin: not a PEM certificate \(expected "-----BEGIN CERTIFICATE-----"\)$/ },
  { name: "serve --tls-key-file that is not a key", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--tls-cert-file", F("serving.crt"), "--tls-key-file", F("scalar.yaml")], err: /^agentgate: --tls-cert-file\/--tls-key-file: \S+scalar\.yaml: not a PEM private key/ },
  { name: "serve --ca-out into a directory that does not exist", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--ca-out", F("no-dir/ca.pem")], err: /^agentgate: --ca-out \S+no-dir\/ca\.pem: cannot write: ENOENT \(no such directory\)$/ },
  { name: "serve --webhook-path-token-file that does not exist", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--webhook-path-token-file", F("no-such-token")], err: /^agentgate: --webhook-path-token-file: \S+no-such-token: cannot read: ENOENT \(no such file\)$/ },
  { name: "serve --webhook-path-token-file of a directory", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--webhook-path-token-file", F("a-directory")], err: /^agentgate: --webhook-path-token-file: \S+a-directory: cannot read: EISDIR \(a directory, not a file\)$/ },
  { name: "serve --webhook-path-token-file of a token too short", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--webhook-path-token-file", F("scalar.yaml")], err: /^agentgate: --webhook-path-token-file: \S+scalar\.yaml: line 1: the webhook path token must be 32 to 253 lowercase letters and digits/ },
  { name: "serve --require-webhooks offline: refused before a bundle loads", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--require-webhooks", "agentgate"], err: /^agentgate: --require-webhooks needs a cluster: it reads the webhook configurations \(drop --offline\)$/ },
  { name: "serve --require-webhooks of something that is no name (it would sign nothing, ever)", args: ["serve", "--listen", "127.0.0.1:0", "--kubeconfig", F("unreachable.kubeconfig"), "--require-webhooks", "Bad_Name/x"], err: /^agentgate: --require-webhooks "Bad_Name\/x": not a webhook configuration name/ },
  { name: "serve --calls-listen offline: refused before a bundle loads (a call is checked against the cluster)", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--calls-listen", "127.0.0.1:0"], err: /^agentgate: --calls-listen needs a cluster: a run's calls are checked with TokenReview against its AgentRun \(drop --offline\)$/ },
  { name: "serve --calls-listen that is no address", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--calls-listen", "8090"], err: /^agentgate: --calls-listen "8090": expected HOST:PORT, e\.g\. 0\.0\.0\.0:8443$/ },
  { name: "serve --metrics-listen that is no address: refused before a bundle loads", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--metrics-listen", "9090"], err: /^agentgate: --metrics-listen "9090": expected HOST:PORT, e\.g\. 0\.0\.0\.0:8443$/ },
  { name: "serve --metrics-listen on an address in use: exit 2 naming the flag, not a crash", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--metrics-listen", BUSY], err: /^agentgate: --metrics-listen 127\.0\.0\.1:\d+: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/, lines: "last" },
  { name: "serve --require-webhooks empty", args: ["serve", "--listen", "127.0.0.1:0", "--kubeconfig", F("unreachable.kubeconfig"), "--require-webhooks", ""], err: /^agentgate: --require-webhooks "": not a webhook configuration name/ },
  { name: "serve --bundle with a scheme that is not fetched", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle", "ftp://bundles.example/b.tar.gz"], err: /^agentgate: --bundle ftp:\/\/bundles\.example\/b\.tar\.gz: ftp:\/\/ is not fetched; give an http\(s\) URL of a bundle service, an oci:\/\/ reference, or a file or directory path$/ },
  { name: "serve --bundle of binary garbage: the store logs it, then the one error line", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle", F("binary.bin")], err: /^agentgate: bundle "binary\.bin": not a readable \.tar\.gz: zlib: /, lines: "last" },
  // Remote bundles: the reference and the authentication files, before anything is fetched.
  { name: "serve --bundle oci:// whose repository is no name: refused before it is polled as a 404", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle", "oci://ghcr.io/Acme/Policy:1"], err: /^agentgate: --bundle oci:\/\/ghcr\.io\/Acme\/Policy:1: "Acme\/Policy" is not a repository name \(lowercase letters and digits, separated by \. _ __ - or \/\)$/ },
  { name: "serve --bundle oci:// with a digest that is none", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle", "oci://ghcr.io/acme/policy@sha256:abc"], err: /^agentgate: --bundle oci:\/\/ghcr\.io\/acme\/policy@sha256:abc: "sha256:abc" is not a digest; expected sha256: and 64 lowercase hex digits/ },
  { name: "serve --bundle-bearer-token-file that does not exist", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle", "https://bundles.example/b.tar.gz", "--bundle-bearer-token-file", F("no-such-token")], err: /^agentgate: --bundle-bearer-token-file \S+no-such-token: cannot read: ENOENT \(no such file\)$/ },
  { name: "serve --bundle-bearer-token-file of a directory", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle-bearer-token-file", F("a-directory")], err: /^agentgate: --bundle-bearer-token-file \S+a-directory: cannot read: EISDIR \(a directory, not a file\)$/ },
  { name: "serve --bundle-client-cert without --bundle-client-key", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle-client-cert", F("serving.crt")], err: /^agentgate: --bundle-client-cert and --bundle-client-key go together: give both, the certificate and its private key$/ },
  { name: "serve --bundle-client-key that is not the certificate's key", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle-client-cert", F("serving.crt"), "--bundle-client-key", F("ec.key.pem")], err: /^agentgate: --bundle-client-key \S+ec\.key\.pem: is not the key of --bundle-client-cert \S+serving\.crt$/ },
  { name: "serve --bundle-client-cert that is not a certificate", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle-client-cert", F("binary.bin"), "--bundle-client-key", F("ec.key.pem")], err: /^agentgate: --bundle-client-cert \S+binary\.bin: not a PEM certificate \(expected "-----BEGIN CERTIFICATE-----"\)$/ },
  { name: "serve --bundle-ca that holds no certificate", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle-ca", F("scalar.yaml")], err: /^agentgate: --bundle-ca \S+scalar\.yaml: no PEM certificate \(expected "-----BEGIN CERTIFICATE-----"\)$/ },
  { name: "audit --bundle-registry-credentials that is not a docker config.json", args: ["audit", "--once", ...UNREACHABLE, "--bundle-registry-credentials", F("scalar.yaml")], err: /^agentgate: --bundle-registry-credentials \S+scalar\.yaml: not valid JSON( \(at [^)]*\))?; expected a docker config\.json$/, lines: "last" },
  { name: "serve --bundle-insecure-registry of a URL, not a host", args: ["serve", "--offline", "--listen", "127.0.0.1:0", "--bundle-insecure-registry", "http://registry.local:5000"], err: /^agentgate: --bundle-insecure-registry "http:\/\/registry\.local:5000": expected a registry's host\[:port\] as in its oci:\/\/ references, e\.g\. 127\.0\.0\.1:5000$/ },

  { name: "controller without keys to verify decisions: it would act on nothing", args: ["controller", ...UNREACHABLE], err: /^agentgate: no decision verification keys: give --signing-keys NS\/NAME \(the ConfigMap the gateway publishes\) or --signing-public-key-file; without them no run can be verified$/ },
  { name: "controller --signing-public-key-file of an RSA key", args: ["controller", ...UNREACHABLE, "--signing-public-key-file", F("rsa.pub.pem")], err: /^agentgate: --signing-public-key-file \S+rsa\.pub\.pem: PEM block 1 is a rsa key; decisions are signed with Ed25519$/ },
  { name: "controller --signing-keys that is not NAMESPACE/NAME", args: ["controller", ...UNREACHABLE, "--signing-keys", "just-a-name"], err: /^agentgate: --signing-keys "just-a-name": expected NAMESPACE\/NAME, e\.g\. agentgate-system\/agentgate-signing$/ },
  { name: "serve --signing-keys and --signing-key-file together", args: ["serve", "--offline", "--signing-keys", "a/b", "--signing-key-file", F("rsa.pub.pem")], err: /^agentgate: --signing-keys and --signing-key-file exclude each other: the keys come from the cluster or from a file$/ },
  { name: "serve --signing-key-file that is a public key", args: ["serve", "--offline", "--signing-key-file", F("ed25519.pub.pem")], err: /^agentgate: --signing-key-file \S+ed25519\.pub\.pem: not a PEM private key/ },
  // controller and audit: listening, and a cluster that does not answer.
  { name: "controller --health-listen on an address in use: exit 2, not a crash", args: ["controller", ...UNREACHABLE, ...VERIFY, "--health-listen", BUSY, "--metrics-listen", "127.0.0.1:0"], err: /^agentgate: --health-listen 127\.0\.0\.1:\d+: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/ },
  { name: "controller --metrics-listen in use: the health endpoint already open is closed, and the process ends", args: ["controller", ...UNREACHABLE, ...VERIFY, "--health-listen", "127.0.0.1:0", "--metrics-listen", BUSY], err: /^agentgate: --metrics-listen 127\.0\.0\.1:\d+: listen EADDRINUSE/ },
  { name: "controller --provenance-key-secret on a cluster that does not answer: which Secret, which server", args: ["controller", ...UNREACHABLE, ...VERIFY, "--provenance-key-secret", "agentgate-system/provenance-key", "--health-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"], err: /^agentgate: --provenance-key-secret agentgate-system\/provenance-key: cannot read it from https:\/\/127\.0\.0\.1:1: fetch failed/ },
  { name: "audit --metrics-listen nonsense: refused before the scanner starts", args: ["audit", ...UNREACHABLE, "--metrics-listen", "nonsense"], err: /^agentgate: --metrics-listen "nonsense": expected HOST:PORT/ },
  { name: "audit --once on a cluster that does not answer: names the server", args: ["audit", "--once", "--dry-run", ...UNREACHABLE], err: /^agentgate: audit --once against https:\/\/127\.0\.0\.1:1: cannot list \S+: fetch failed/, lines: "last" },

  // bundle build | sign | check.
  { name: "bundle build of a directory that does not exist", args: ["bundle", "build", F("no-such-dir"), "--output-file", F("out.tar.gz")], err: /^agentgate: bundle build \S+no-such-dir: cannot read: ENOENT \(no such file\)$/ },
  { name: "bundle build of Rego v0 sources without --v0-compatible: opa's reason, then the flag", args: ["bundle", "build", fileURLToPath(new URL("../../examples/tep-gate1/v0", import.meta.url)), "--output-file", F("out.tar.gz")], err: /^agentgate: opa parse failed: .*goals\.rego:\d+: rego_parse_error: `if` keyword is required before rule body.* \(Rego v0 sources\? build them with --v0-compatible\)$/ },
  { name: "bundle build of a directory defining none of agentgate's entrypoints", args: ["bundle", "build", fileURLToPath(new URL("../fixtures", import.meta.url)), "--output-file", F("out.tar.gz")], err: /^agentgate: bundle build \S+: defines none of agentgate's entrypoints \(agentgate\/violations, .*\): write rules under those packages, or name others with -e$/ },
  { name: "bundle build of a file", args: ["bundle", "build", F("scalar.yaml"), "--output-file", F("out.tar.gz")], err: /^agentgate: bundle build \S+scalar\.yaml: not a directory; give the directory of the bundle's \.rego files \(and data\.json\)$/ },
  { name: "bundle build --output-file into a directory that does not exist: names the flag, not a temporary file", args: ["bundle", "build", F("rego"), "--output-file", F("no-dir/out.tar.gz")], err: /^agentgate: --output-file \S+no-dir\/out\.tar\.gz: cannot write: ENOENT \(no such directory\)$/ },
  { name: "bundle sign of a .tar.gz that is not a bundle: refused, not signed", args: ["bundle", "sign", F("not-a-bundle.tar.gz"), "--signing-key", F("ec.key.pem"), "--output-file", F("signed.tar.gz")], err: /^agentgate: bundle "not-a-bundle": has no policy\.wasm$/ },
  { name: "bundle sign --output-file into a directory that does not exist", args: ["bundle", "sign", DEFAULT_BUNDLE_PATH, "--signing-key", F("ec.key.pem"), "--output-file", F("no-dir/signed.tar.gz")], err: /^agentgate: --output-file \S+no-dir\/signed\.tar\.gz: cannot write: ENOENT \(no such directory\)$/ },
  { name: "bundle check -f of binary garbage", args: ["bundle", "check", DEFAULT_BUNDLE_PATH, "--source", POLICIES, "-f", F("binary.bin")], err: /^agentgate: input \S+binary\.bin: binary data, not JSON or YAML$/ },
  { name: "bundle check -f of a scalar: not compared as if it were an input", args: ["bundle", "check", DEFAULT_BUNDLE_PATH, "--source", POLICIES, "-f", F("scalar.yaml")], err: /^agentgate: input \S+scalar\.yaml: is a string, not a policy input document \(a mapping: \{request, context\}\)$/ },
  { name: "bundle check -f of an empty file", args: ["bundle", "check", DEFAULT_BUNDLE_PATH, "--source", POLICIES, "-f", F("empty.yaml")], err: /^agentgate: input \S+empty\.yaml: is empty; expected a policy input document \{request, context\}$/ },
  { name: "bundle check --source with a Rego syntax error: file and line, not opa's JSON", args: ["bundle", "check", DEFAULT_BUNDLE_PATH, "--source", F("broken-rego"), "-f", F("input.json")], err: /^agentgate: opa eval failed: --source p\.rego:4: rego_parse_error: unexpected eof token$/ },

  // provenance verify: the key and the file.
  { name: "provenance verify --key of an RSA key", args: ["provenance", "verify", "--key", F("rsa.pub.pem"), F("run-unfinished.yaml")], err: /^agentgate: --key \S+rsa\.pub\.pem: an RSA key; provenance is signed with ECDSA P-256 \(prime256v1\): give the public half of the controller's signing key$/ },
  { name: "provenance verify --key of a P-384 key: bad usage, not a failed verification", args: ["provenance", "verify", "--key", F("p384.pub.pem"), F("run-unfinished.yaml")], err: /^agentgate: --key \S+p384\.pub\.pem: an ECDSA secp384r1 key; provenance is signed with ECDSA P-256/ },
  { name: "provenance verify --key of a PEM that is not a key: no OpenSSL code", args: ["provenance", "verify", "--key", F("not-a-key.pem"), F("run-unfinished.yaml")], err: /^agentgate: --key \S+not-a-key\.pem: not a PEM public key \(expected "-----BEGIN PUBLIC KEY-----"\)$/ },
  { name: "provenance verify --key that does not exist", args: ["provenance", "verify", "--key", F("missing.pem"), F("run-unfinished.yaml")], err: /^agentgate: --key \S+missing\.pem: cannot read: ENOENT \(no such file\)$/ },
  { name: "provenance verify of an AgentRun without status.provenance", args: ["provenance", "verify", "--key", F("ec.key.pem"), F("run-unfinished.yaml")], err: /^agentgate: \S+run-unfinished\.yaml: document 1 \(line 1\): AgentRun "r1" has no status\.provenance \(not finished yet, or recorded before provenance was\)$/ },
  { name: "provenance verify of an AgentRun whose status.provenance is not an envelope", args: ["provenance", "verify", "--key", F("ec.key.pem"), F("run-bad-provenance.yaml")], err: /^agentgate: \S+run-bad-provenance\.yaml: document 1 \(line 1\): AgentRun "r1" status\.provenance is not a DSSE envelope: it needs payloadType and payload \(strings\) and signatures \(a list\)$/ },
  { name: "provenance verify of a ConfigMap", args: ["provenance", "verify", "--key", F("ec.key.pem"), F("configmap.yaml")], err: /^agentgate: \S+configmap\.yaml: document 1 \(line 1\) is a ConfigMap "cm"; expected a DSSE envelope or an AgentRun with status\.provenance$/ },
  { name: "provenance verify of an object without kind", args: ["provenance", "verify", "--key", F("ec.key.pem"), F("no-kind.yaml")], err: /^agentgate: \S+no-kind\.yaml: document 1 \(line 1\) has no kind and no payload; expected a DSSE envelope/ },
  { name: "provenance verify of an empty stdin", args: ["provenance", "verify", "--key", F("ec.key.pem"), "-"], err: /^agentgate: -: is empty; expected a DSSE envelope or an AgentRun with status\.provenance$/ },
  { name: "provenance verify of a list", args: ["provenance", "verify", "--key", F("ec.key.pem"), F("numbers.yaml")], err: /^agentgate: \S+numbers\.yaml: document 1 \(line 1\) is a list; expected a DSSE envelope/ },

  { name: "capabilities -o in a format it does not print", args: ["capabilities", "-o", "xml"], err: /^agentgate: -o xml: not an output format; use json or yaml \(and --output-file FILE to write a file\)$/ },
  { name: "bundle build without --output-file", args: ["bundle", "build", F("rego")], err: /^agentgate: bundle build needs --output-file FILE: where to write the bundle \(\.tar\.gz\)$/ },
  { name: "capabilities --output-file into a directory that does not exist", args: ["capabilities", "--output-file", F("no-dir/capabilities.json")], err: /^agentgate: --output-file \S+no-dir\/capabilities\.json: cannot write: ENOENT \(no such directory\)$/ },
];

describe("exit 2 with one line naming the flag or file and the problem", { concurrency: 4 }, () => {
  for (const c of cases) {
    test(c.name, async () => {
      const args = c.args.map((a) => (a === BUSY ? busyAddress : a.startsWith("F:") ? f(a.slice(2)) : a));
      const r = await agentgate(args, c.stdin, undefined, c.home === undefined ? undefined : f(c.home));
      assert.equal(r.code, 2, `exit status (null: still running, killed)\n${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.doesNotMatch(r.stderr, /^\s+at |\[object Object\]|\bundefined\b|Usage:/m, "no stack trace, [object Object], undefined or help page");
      if ((c.lines ?? "one") === "one") {
        assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
      } else {
        const notLogs = lines.filter((l) => !l.startsWith("{"));
        assert.equal(notLogs.length, 1, `one line besides the JSON log records:\n${r.stderr}`);
        assert.equal(lines.at(-1), notLogs[0], "the error comes last");
      }
      assert.match(lines.at(-1) ?? "", c.err);
    });
  }
});

test("a flag that repeats is still collected: review -f A -f B admits both", async () => {
  await writeFile(f("second.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n");
  const r = await agentgate(["review", "-o", "json", "-f", f("configmap.yaml"), "-f", f("second.yaml")]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { name: string }[]).map((e) => e.name), ["cm", "other"]);
});

test("serve with a cluster that does not answer stays up: healthy, not ready (saying why), and stops cleanly on SIGTERM", async () => {
  const child = spawn(process.execPath, [BIN, "serve", "--listen", "127.0.0.1:0", "--kubeconfig", f("unreachable.kubeconfig"), "--ca-out", f("serve-ca.pem")], { stdio: ["ignore", "ignore", "pipe"], env: noCluster(f("home-without-kube")) });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.setEncoding("utf8").on("data", (s: string) => {
        stderr += s;
        const m = /"message":"agentgate serving"[^\n]*"listen":"127\.0\.0\.1:(\d+)"|"listen":"127\.0\.0\.1:(\d+)"[^\n]*"message":"agentgate serving"/.exec(stderr);
        if (m) resolve(Number(m[1] ?? m[2]));
      });
      void exited.then((code) => reject(new Error(`serve exited (${String(code)}) before serving:\n${stderr}`)));
    });
    const ca = await readFile(f("serve-ca.pem"), "utf8");
    const fetchPath = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      get({ host: "127.0.0.1", port, path, ca, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (s: string) => (body += s));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      }).on("error", reject);
    });
    assert.equal((await fetchPath("/healthz")).status, 200);
    const ready = await fetchPath("/readyz");
    assert.equal(ready.status, 503, ready.body);
    assert.match(ready.body, /^not ready: watch caches not synced: AgentConfig \(/);
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exited, 0, stderr);
});
