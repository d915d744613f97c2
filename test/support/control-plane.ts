// A local Kubernetes control plane for tests, in the manner of
// controller-runtime's envtest: etcd and kube-apiserver (and optionally
// kube-controller-manager, for garbage collection) built from source by
// tools/install.sh, on free loopback ports, with certificates made here.
// Another tool built there (Tekton's controller, test/support/tekton.ts) can
// run beside it as one of its children (startTool).
//
// Process hygiene: every child runs in its own process group and is killed
// when the test process ends, however it ends: stop(), normal exit (an
// 'exit' hook), SIGINT/SIGTERM (handlers that exit 130/143) and even SIGKILL
// of the test process (a small shell watchdog per plane that outlives it).
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import forge from "node-forge";
import { freePort } from "../../src/testing/free-port.ts";

const BIN = fileURLToPath(new URL("../../.tools/bin/", import.meta.url));

/** Absolute path of a tool built by tools/install.sh; throws if it is not built. */
export const toolPath = (name: string): string => {
  const path = join(BIN, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run tools/install.sh to build the test tools`);
  return path;
};

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (garbagecollector, namespace, and clusterrole-aggregation, which fills edit/view/admin). */
  controllerManager?: boolean;
  /** CRD files or directories (*.yaml, *.yml, *.json; multi-document) to install before returning. */
  crds?: string[];
  /**
   * CRD files or directories too large for client-side apply's
   * last-applied annotation (Tekton's), applied server-side after `crds` and
   * before kube-controller-manager starts, so its garbage collector knows them.
   */
  serverSideCrds?: string[];
  /**
   * More kube-apiserver flags, after the plane's own (a flag given twice
   * takes the later value), e.g. `--admission-control-config-file=PATH`.
   * Paths must be absolute: the plane's dir does not exist yet.
   */
  apiServerArgs?: string[];
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  stdin?: string;
  /** Resolve with a non-zero code instead of rejecting. */
  allowFail?: boolean;
}

export interface ControlPlane {
  /** Temp dir with certificates, kubeconfigs, logs (<tool>.log) and etcd data; removed by stop(). */
  readonly dir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** Admin kubeconfig (CN=admin, O=system:masters) for kubectl and client-node. */
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  /** PEM of the CA that signed the apiserver serving certificate and every client certificate. */
  readonly caPem: string;
  /** Process ids of the children (etcd, kube-apiserver[, kube-controller-manager]). */
  readonly pids: number[];
  /** Runs the built kubectl with the admin kubeconfig (a later --kubeconfig in args wins). */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** kubectl apply -f - (client-side). */
  applyYaml(yaml: string): Promise<void>;
  /** Applies CRD files/directories (server-side if asked: for CRDs too large for client-side apply) and waits until every CRD is Established. */
  installCRDs(paths: string[], opts?: { serverSide?: boolean }): Promise<void>;
  /**
   * Starts another tool built by tools/install.sh beside the plane, as its
   * own children are (own process group, logged to dir/<name>.log, killed by
   * the watchdog if the test process dies); stop() stops it first.
   */
  startTool(name: string, args: string[], env?: Record<string, string>): ChildProcess;
  /** Writes a client-certificate kubeconfig for another identity (O = groups); returns its path. */
  kubeconfigFor(user: string, groups?: string[]): Promise<string>;
  /**
   * Stops kube-apiserver, runs `whileDown`, then starts it again with the
   * same flags, port and certificates; resolves once /readyz answers 200.
   */
  restartApiServer(opts?: RestartOptions): Promise<void>;
  /**
   * Stops etcd, waits until kube-apiserver reports it gone (/readyz/etcd),
   * runs `whileDown`, then starts it again on the same ports and data dir;
   * resolves once kube-apiserver's /readyz answers 200.
   */
  restartEtcd(opts?: RestartOptions): Promise<void>;
  /** Stops every child (SIGTERM, SIGKILL after 5 s) and removes dir. Idempotent. */
  stop(): Promise<void>;
}

export interface RestartOptions {
  /** SIGTERM (default: a rolling restart) or SIGKILL (a crash) */
  signal?: "SIGTERM" | "SIGKILL";
  /** runs while the component is down */
  whileDown?: () => Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

// ---------------------------------------------------------------------------
// Process bookkeeping, once per process.

interface Running {
  dir: string;
  children: Set<ChildProcess>;
  watchdog: ChildProcess | undefined;
}

const running = new Set<Running>();
let hooked = false;

function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Synchronous: usable from an 'exit' hook. */
function killEverything(): void {
  for (const r of running) {
    for (const child of r.children) killGroup(child, "SIGKILL");
    killGroup(r.watchdog, "SIGKILL");
    rmSync(r.dir, { recursive: true, force: true });
  }
  running.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killEverything);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      killEverything();
      process.exit(code);
    });
  }
}

// If the test process is SIGKILLed no hook runs; this shell notices the
// parent is gone and kills the process groups listed in dir/pgids. It exits
// by itself once stop() has removed dir. (/bin/sh may be dash: its kill takes
// neither "--" nor "-s KILL" before a negative pid; "-9 -<pgid>" works.)
const WATCHDOG = `
while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
[ -d "$2" ] || exit 0
for g in $(cat "$2/pgids" 2>/dev/null); do kill -9 "-$g" 2>/dev/null; done
rm -rf "$2"
`;

function startWatchdog(dir: string): ChildProcess {
  const child = spawn("/bin/sh", ["-c", WATCHDOG, "watchdog", String(process.pid), dir], { detached: true, stdio: "ignore" });
  child.unref();
  return child;
}


// ---------------------------------------------------------------------------
// Certificates.

interface Pki {
  caCert: forge.pki.Certificate;
  caKey: forge.pki.rsa.PrivateKey;
  caPem: string;
  saPrivate: string;
  saPublic: string;
  leafKeys: forge.pki.rsa.KeyPair;
}

interface KeyPairPem {
  cert: string;
  key: string;
}

// One CA per test process: key generation is the slow part of certificate
// work (node-forge uses node's native generator when it can, ~0.1 s a key).
let pki: Pki | undefined;

function serialNumber(): string {
  // Positive (Go rejects negative serials since 1.23) and unique.
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString("hex");
}

function makePki(): Pki {
  if (pki) return pki;
  const caKeys = forge.pki.rsa.generateKeyPair(2048);
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = serialNumber();
  caCert.validity.notBefore = new Date(Date.now() - 3_600_000);
  caCert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  const name = [{ name: "commonName", value: "agentgate-test-ca" }];
  caCert.setSubject(name);
  caCert.setIssuer(name);
  caCert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const sa = forge.pki.rsa.generateKeyPair(2048);
  pki = {
    caCert,
    caKey: caKeys.privateKey,
    caPem: forge.pki.certificateToPem(caCert),
    saPrivate: forge.pki.privateKeyToPem(sa.privateKey),
    saPublic: forge.pki.publicKeyToPem(sa.publicKey),
    // One key pair for every leaf certificate: tests need distinct
    // identities, not distinct keys.
    leafKeys: forge.pki.rsa.generateKeyPair(2048),
  };
  return pki;
}

function issue(p: Pki, cn: string, orgs: string[], server: boolean): KeyPairPem {
  const cert = forge.pki.createCertificate();
  cert.publicKey = p.leafKeys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  cert.setSubject([{ name: "commonName", value: cn }, ...orgs.map((o) => ({ name: "organizationName", value: o }))]);
  cert.setIssuer(p.caCert.subject.attributes);
  const extensions: object[] = [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: server, clientAuth: !server },
  ];
  if (server) {
    extensions.push({
      name: "subjectAltName",
      altNames: [
        { type: 7, ip: "127.0.0.1" },
        { type: 2, value: "localhost" },
        { type: 2, value: "kubernetes.default.svc" },
        { type: 2, value: "kubernetes.default.svc.cluster.local" },
        { type: 7, ip: "10.0.0.1" },
      ],
    });
  }
  cert.setExtensions(extensions);
  cert.sign(p.caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(p.leafKeys.privateKey) };
}

function kubeconfigText(server: string, caPem: string, user: string, creds: KeyPairPem): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  // JSON is YAML; kubectl and client-node read it as a kubeconfig.
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "local", cluster: { server, "certificate-authority-data": b64(caPem) } }],
    users: [{ name: user, user: { "client-certificate-data": b64(creds.cert), "client-key-data": b64(creds.key) } }],
    contexts: [{ name: "local", context: { cluster: "local", user, namespace: "default" } }],
    "current-context": "local",
  });
}

// ---------------------------------------------------------------------------
// Helpers.

function httpsGet(url: string, opts: { creds?: KeyPairPem; ca?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { cert: opts.creds?.cert, key: opts.creds?.key, ca: opts.ca, rejectUnauthorized: opts.ca !== undefined, timeout: 2000, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }); });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

function logTail(dir: string, name: string, lines = 20): string {
  try {
    const text = readFileSync(join(dir, `${name}.log`), "utf8").trimEnd();
    return `--- ${name}.log (tail) ---\n${text.split("\n").slice(-lines).join("\n")}`;
  } catch {
    return `--- ${name}.log: none ---`;
  }
}

function yamlFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (/\.(ya?ml|json)$/.test(f)) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class StartError extends Error {
  readonly portClash: boolean;
  constructor(message: string, portClash: boolean) {
    super(message);
    this.name = "StartError";
    this.portClash = portClash;
  }
}

// ---------------------------------------------------------------------------

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  // Free ports are found by listening on port 0 and closing: another process
  // can take one before the child binds it. Retry the whole start then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (!(err instanceof StartError && err.portClash && attempt < 3)) throw err;
    }
  }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  hookExit();
  const p = makePki();
  const dir = mkdtempSync(join(tmpdir(), "agentgate-cp-"));
  const r: Running = { dir, children: new Set(), watchdog: undefined };
  running.add(r);
  r.watchdog = startWatchdog(dir);
  const ordered: ChildProcess[] = [];

  const files = {
    ca: join(dir, "ca.crt"),
    cert: join(dir, "apiserver.crt"),
    key: join(dir, "apiserver.key"),
    saKey: join(dir, "sa.key"),
    saPub: join(dir, "sa.pub"),
    kubeconfig: join(dir, "admin.kubeconfig"),
    kcmKubeconfig: join(dir, "kube-controller-manager.kubeconfig"),
    kubectlCache: join(dir, "kubectl-cache"),
  };
  const serving = issue(p, "kube-apiserver", [], true);
  const admin = issue(p, "admin", ["system:masters"], false);
  writeFileSync(files.ca, p.caPem);
  writeFileSync(files.cert, serving.cert);
  writeFileSync(files.key, serving.key, { mode: 0o600 });
  writeFileSync(files.saKey, p.saPrivate, { mode: 0o600 });
  writeFileSync(files.saPub, p.saPublic);
  const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const server = `https://127.0.0.1:${apiPort}`;
  writeFileSync(files.kubeconfig, kubeconfigText(server, p.caPem, "admin", admin), { mode: 0o600 });

  const launched = new Map<string, string[]>();
  const launch = (name: string, args: string[], env?: Record<string, string>): ChildProcess => {
    launched.set(name, args);
    const log = openSync(join(dir, `${name}.log`), "a");
    let child: ChildProcess;
    try {
      child = spawn(toolPath(name), args, { detached: true, stdio: ["ignore", log, log], ...(env ? { env: { ...process.env, ...env } } : {}) });
    } finally {
      closeSync(log);
    }
    // Unreferenced: a test that forgets stop() still lets its process exit,
    // and the 'exit' hook then kills the child.
    child.unref();
    r.children.add(child);
    ordered.push(child);
    child.once("exit", () => r.children.delete(child));
    writeFileSync(join(dir, "pgids"), ordered.map((c) => c.pid ?? "").join("\n"));
    return child;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Reverse start order: controller-manager, apiserver, then etcd.
      for (const child of [...ordered].reverse()) {
        if (!child.pid || child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise<void>((resolve) => child.once("exit", () => { resolve(); }));
        killGroup(child, "SIGTERM");
        const timer = setTimeout(() => { killGroup(child, "SIGKILL"); }, STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      killGroup(r.watchdog, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      running.delete(r);
    })();
    return stopping;
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  const waitFor = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    for (;;) {
      const dead = ordered.find((c) => c.exitCode !== null || c.signalCode !== null);
      const logs = () => ordered.map((c) => logTail(dir, c.spawnfile.split("/").pop() ?? "")).join("\n");
      if (dead) {
        const text = logs();
        throw new StartError(
          `control plane: ${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode ?? "?"}) while waiting for ${what}\n${text}`,
          /address already in use/.test(text),
        );
      }
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new StartError(`control plane: ${what} not ready within ${START_TIMEOUT_MS / 1000} s\n${logs()}`, false);
      await sleep(100);
    }
  };
  const apiOk = async (path: string) => (await httpsGet(`${server}${path}`, { creds: admin, ca: p.caPem })).status === 200;

  try {
    launch("etcd", [
      "--name", "test",
      "--data-dir", join(dir, "etcd"),
      "--listen-client-urls", `http://127.0.0.1:${etcdClient}`,
      "--advertise-client-urls", `http://127.0.0.1:${etcdClient}`,
      "--listen-peer-urls", `http://127.0.0.1:${etcdPeer}`,
      "--initial-advertise-peer-urls", `http://127.0.0.1:${etcdPeer}`,
      "--initial-cluster", `test=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync",
      "--log-level", "error",
    ]);
    launch("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--secure-port=${apiPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--tls-cert-file=${files.cert}`,
      `--tls-private-key-file=${files.key}`,
      `--client-ca-file=${files.ca}`,
      "--authorization-mode=RBAC",
      "--service-cluster-ip-range=10.0.0.0/24",
      // Default plugins stay on (MutatingAdmissionWebhook and
      // ValidatingAdmissionWebhook among them); ServiceAccount would want
      // the token controller for every pod.
      "--disable-admission-plugins=ServiceAccount",
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--allow-privileged=true",
      // A loopback advertise address is refused by the endpoint reconciler.
      "--endpoint-reconciler-type=none",
      "--v=0",
      ...(opts.apiServerArgs ?? []),
    ]);
    await waitFor("kube-apiserver /readyz", () => apiOk("/readyz"));
    // The default namespaces appear a moment after readiness.
    await waitFor("namespaces default and kube-system", async () => (await apiOk("/api/v1/namespaces/default")) && (await apiOk("/api/v1/namespaces/kube-system")));

  } catch (err) {
    await stop();
    throw err;
  }

  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(files.kubeconfig);

  const kubectl = (args: string[], o: KubectlOptions = {}): Promise<KubectlResult> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        toolPath("kubectl"),
        // A cache per plane: ports are reused, and a discovery cache keyed by
        // host:port from an earlier plane would describe other CRDs.
        ["--kubeconfig", files.kubeconfig, "--cache-dir", files.kubectlCache, ...args],
        { maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
          if (code !== 0 && !o.allowFail) reject(new Error(`kubectl ${args.join(" ")} failed (${err?.signal ?? code}): ${stderr}${stdout}`));
          else resolve({ code, stdout, stderr });
        },
      );
      child.stdin?.on("error", () => { /* kubectl may exit before reading stdin */ });
      child.stdin?.end(o.stdin ?? "");
    });

  /** Stops one child and starts it again in its place (stop() keeps its order), with the flags it had. */
  const restart = async (name: "etcd" | "kube-apiserver", opts: RestartOptions, down: () => Promise<void>): Promise<void> => {
    const old = ordered.find((c) => c.spawnfile.endsWith(`/${name}`) && c.exitCode === null && c.signalCode === null);
    const args = launched.get(name);
    if (!old || !args) throw new Error(`control plane: ${name} is not running`);
    const exited = new Promise<void>((resolve) => old.once("exit", () => { resolve(); }));
    // Unreferenced since launch: without this a caller with nothing else pending would see its await never settle.
    old.ref();
    killGroup(old, opts.signal ?? "SIGTERM");
    const timer = setTimeout(() => { killGroup(old, "SIGKILL"); }, STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    await down();
    await opts.whileDown?.();
    const fresh = launch(name, args);
    ordered.splice(ordered.indexOf(fresh), 1);
    ordered.splice(ordered.indexOf(old), 1, fresh);
    writeFileSync(join(dir, "pgids"), ordered.map((c) => c.pid ?? "").join("\n"));
    const until = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (fresh.exitCode !== null || fresh.signalCode !== null) throw new Error(`control plane: ${name} exited (${String(fresh.exitCode ?? fresh.signalCode)}) after a restart\n${logTail(dir, name)}`);
      if (await apiOk("/readyz").catch(() => false)) return;
      if (Date.now() > until) throw new Error(`control plane: not ready within ${START_TIMEOUT_MS / 1000} s of restarting ${name}\n${logTail(dir, name)}`);
      await sleep(100);
    }
  };

  let identities = 0;
  const cp: ControlPlane = {
    dir,
    server,
    kubeconfigPath: files.kubeconfig,
    kubeConfig,
    caPem: p.caPem,
    get pids() {
      return ordered.flatMap((c) => (c.pid ? [c.pid] : []));
    },
    kubectl,
    async applyYaml(yaml) {
      await kubectl(["apply", "-f", "-"], { stdin: yaml });
    },
    async installCRDs(paths, o = {}) {
      const list = yamlFiles(paths);
      if (list.length === 0) return;
      const fileArgs = list.flatMap((f) => ["-f", f]);
      // --force-conflicts: a CRD applied client-side before (a test copy) is taken over.
      await kubectl(["apply", ...(o.serverSide ? ["--server-side", "--force-conflicts"] : []), ...fileArgs]);
      // kubectl wait errors ("status.conditions accessor error: <nil>") on a CRD whose status the API server has not written yet: ask again.
      for (let attempt = 1; ; attempt++) {
        const r = await kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...fileArgs], { allowFail: true });
        if (r.code === 0) break;
        if (attempt >= 20 || !/status\.conditions accessor error/.test(r.stderr)) throw new Error(`kubectl wait for CRDs failed (${String(r.code)}): ${r.stderr.trim()}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      // Established is not listable: the API server's watch cache of a new
      // resource initializes after it, and until then a list answers 429
      // "storage is (re)initializing". Tests start informers at once.
      const crds = JSON.parse((await kubectl(["get", "-o", "json", ...fileArgs])).stdout) as { items?: { spec?: { group?: string; names?: { plural?: string }; versions?: { name?: string; served?: boolean }[] } }[] };
      const listable = (crds.items ?? []).flatMap(({ spec }) => (spec?.versions ?? []).filter((v) => v.served).map((v) => `/apis/${spec?.group ?? ""}/${v.name ?? ""}/${spec?.names?.plural ?? ""}?limit=1`));
      const deadline = Date.now() + START_TIMEOUT_MS;
      for (const path of listable) {
        while (!(await apiOk(path).catch(() => false))) {
          if (Date.now() > deadline) throw new Error(`control plane: ${path} still cannot be listed after its CRD is Established`);
          await sleep(50);
        }
      }
    },
    kubeconfigFor(user, groups = []) {
      const path = join(dir, `user-${++identities}-${user.replace(/[^A-Za-z0-9_.-]/g, "_")}.kubeconfig`);
      writeFileSync(path, kubeconfigText(server, p.caPem, user, issue(p, user, groups, false)), { mode: 0o600 });
      return Promise.resolve(path);
    },
    restartApiServer: (opts = {}) => restart("kube-apiserver", opts, () => Promise.resolve()),
    restartEtcd: (opts = {}) =>
      restart("etcd", opts, async () => {
        // Until kube-apiserver has noticed, its /readyz would still say ready.
        const until = Date.now() + START_TIMEOUT_MS;
        while (await apiOk("/readyz/etcd").catch(() => false)) {
          if (Date.now() > until) throw new Error("control plane: kube-apiserver still reports etcd ready after etcd stopped");
          await sleep(100);
        }
      }),
    startTool: (name, args, env) => launch(name, args, env),
    stop,
  };
  try {
    if (opts.crds && opts.crds.length > 0) await cp.installCRDs(opts.crds);
    if (opts.serverSideCrds && opts.serverSideCrds.length > 0) await cp.installCRDs(opts.serverSideCrds, { serverSide: true });
    // After the CRDs: the garbage collector discovers resources at start, and
    // would otherwise miss owners of CRD kinds until its next resync.
    if (opts.controllerManager) {
      const kcmPort = await freePort();
      writeFileSync(files.kcmKubeconfig, kubeconfigText(server, p.caPem, "system:kube-controller-manager", issue(p, "system:kube-controller-manager", ["system:masters"], false)), { mode: 0o600 });
      launch("kube-controller-manager", [
        `--kubeconfig=${files.kcmKubeconfig}`,
        `--authentication-kubeconfig=${files.kcmKubeconfig}`,
        `--authorization-kubeconfig=${files.kcmKubeconfig}`,
        "--controllers=garbagecollector,namespace,clusterrole-aggregation",
        "--leader-elect=false",
        `--secure-port=${kcmPort}`,
        "--bind-address=127.0.0.1",
        `--root-ca-file=${files.ca}`,
        "--v=0",
      ]);
      // /healthz is always allowed; its serving certificate is self-signed.
      await waitFor("kube-controller-manager /healthz", async () => (await httpsGet(`https://127.0.0.1:${kcmPort}/healthz`, {})).status === 200);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return cp;
}
