// A local Kubernetes control plane for tests, in the manner of
// controller-runtime's envtest: etcd and kube-apiserver (and optionally
// kube-controller-manager, for garbage collection) built from source by
// tools/install.sh, on free loopback ports, with certificates made here.
// Every child runs in its own process group and is killed when the test
// process ends, however it ends.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync, openSync, readFileSync, statSync, readdirSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import forge from "node-forge";

const BIN = fileURLToPath(new URL("../../.tools/bin/", import.meta.url));

export function toolPath(name: string): string {
  const path = join(BIN, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run tools/install.sh to build the test tools`);
  return path;
}

export interface ControlPlaneOptions {
  controllerManager?: boolean;
  crds?: string[];
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ControlPlane {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  readonly caPem: string;
  readonly pids: number[];
  kubectl(args: string[], opts?: { stdin?: string; allowFail?: boolean }): Promise<KubectlResult>;
  applyYaml(yaml: string): Promise<void>;
  installCRDs(paths: string[]): Promise<void>;
  kubeconfigFor(user: string, groups?: string[]): Promise<string>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAll);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(code);
    });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => { resolve(typeof address === "object" && address ? address.port : 0); });
    });
    srv.on("error", reject);
  });
}

interface Pki {
  caCert: forge.pki.Certificate;
  caKey: forge.pki.rsa.PrivateKey;
  caPem: string;
  saPrivate: string;
  saPublic: string;
}

// Key generation is the slow part of a start; one CA per test process.
let pki: Pki | undefined;

function makePki(): Pki {
  if (pki) return pki;
  const caKeys = forge.pki.rsa.generateKeyPair(2048);
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = "01";
  caCert.validity.notBefore = new Date(Date.now() - 3_600_000);
  caCert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  const name = [{ name: "commonName", value: "agentgate-test-ca" }];
  caCert.setSubject(name);
  caCert.setIssuer(name);
  caCert.setExtensions([{ name: "basicConstraints", cA: true, critical: true }, { name: "keyUsage", keyCertSign: true, digitalSignature: true, critical: true }]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const sa = forge.pki.rsa.generateKeyPair(2048);
  pki = {
    caCert,
    caKey: caKeys.privateKey,
    caPem: forge.pki.certificateToPem(caCert),
    saPrivate: forge.pki.privateKeyToPem(sa.privateKey),
    saPublic: forge.pki.publicKeyToPem(sa.publicKey),
  };
  return pki;
}

let serial = 2;
let leafKeys: forge.pki.rsa.KeyPair | undefined;

function issue(p: Pki, cn: string, orgs: string[], server: boolean): { cert: string; key: string } {
  // One leaf key pair reused for every certificate: tests need distinct
  // identities, not distinct keys, and RSA generation costs ~1 s each.
  leafKeys ??= forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = leafKeys.publicKey;
  cert.serialNumber = (serial++).toString(16).padStart(2, "0");
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  cert.setSubject([{ name: "commonName", value: cn }, ...orgs.map((o) => ({ name: "organizationName", value: o }))]);
  cert.setIssuer(p.caCert.subject.attributes);
  const extensions: Record<string, unknown>[] = [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: server, clientAuth: !server },
  ];
  if (server) {
    extensions.push({
      name: "subjectAltName",
      altNames: [{ type: 7, ip: "127.0.0.1" }, { type: 2, value: "localhost" }, { type: 2, value: "kubernetes.default.svc" }, { type: 7, ip: "10.0.0.1" }],
    });
  }
  cert.setExtensions(extensions);
  cert.sign(p.caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(leafKeys.privateKey) };
}

function kubeconfigYaml(server: string, caPem: string, user: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "local", cluster: { server, "certificate-authority-data": b64(caPem) } }],
    users: [{ name: user, user: { "client-certificate-data": b64(cert), "client-key-data": b64(key) } }],
    contexts: [{ name: "local", context: { cluster: "local", user, namespace: "default" } }],
    "current-context": "local",
  });
}

function startProcess(dir: string, name: string, args: string[]): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), "a");
  const child = spawn(toolPath(name), args, { detached: true, stdio: ["ignore", log, log] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

function tail(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, `${name}.log`), "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "";
  }
}

function get(url: string, cert: { cert: string; key: string }, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { cert: cert.cert, key: cert.key, ca, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }); });
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

async function waitUntil(what: string, deadlineMs: number, check: () => Promise<boolean>, diagnostics: () => string, children: ChildProcess[] = []): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`control plane: ${dead.spawnfile} exited while waiting for ${what}\n${diagnostics()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`control plane: ${what} not ready after ${deadlineMs / 1000}s\n${diagnostics()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function yamlFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (f.endsWith(".yaml") || f.endsWith(".yml")) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), "agentgate-cp-"));
  const p = makePki();
  const serving = issue(p, "kube-apiserver", [], true);
  const admin = issue(p, "admin", ["system:masters"], false);
  const files = {
    ca: join(dir, "ca.crt"),
    cert: join(dir, "apiserver.crt"),
    key: join(dir, "apiserver.key"),
    saKey: join(dir, "sa.key"),
    saPub: join(dir, "sa.pub"),
    kubeconfig: join(dir, "admin.kubeconfig"),
  };
  writeFileSync(files.ca, p.caPem);
  writeFileSync(files.cert, serving.cert);
  writeFileSync(files.key, serving.key);
  writeFileSync(files.saKey, p.saPrivate);
  writeFileSync(files.saPub, p.saPublic);
  const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const server = `https://127.0.0.1:${apiPort}`;
  writeFileSync(files.kubeconfig, kubeconfigYaml(server, p.caPem, "admin", admin.cert, admin.key));

  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
      const exited = new Promise<void>((r) => child.once("exit", () => { r(); }));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        continue;
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    children.push(
      startProcess(dir, "etcd", [
        "--name", "test",
        "--data-dir", join(dir, "etcd"),
        "--listen-client-urls", `http://127.0.0.1:${etcdClient}`,
        "--advertise-client-urls", `http://127.0.0.1:${etcdClient}`,
        "--listen-peer-urls", `http://127.0.0.1:${etcdPeer}`,
        "--initial-advertise-peer-urls", `http://127.0.0.1:${etcdPeer}`,
        "--initial-cluster", `test=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync",
        "--log-level", "error",
      ]),
    );
    children.push(
      startProcess(dir, "kube-apiserver", [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        `--secure-port=${apiPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--tls-cert-file=${files.cert}`,
        `--tls-private-key-file=${files.key}`,
        `--client-ca-file=${files.ca}`,
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--disable-admission-plugins=ServiceAccount",
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.saKey}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--allow-privileged=true",
        // Loopback advertise addresses are refused by the endpoint reconciler.
        "--endpoint-reconciler-type=none",
        "--v=0",
      ]),
    );
    await waitUntil("kube-apiserver /readyz", 60_000, async () => (await get(`${server}/readyz`, admin, p.caPem)).status === 200, () => `${tail(dir, "etcd")}\n${tail(dir, "kube-apiserver")}`, children);
    await waitUntil("default namespaces", 30_000, async () => (await get(`${server}/api/v1/namespaces/kube-system`, admin, p.caPem)).status === 200 && (await get(`${server}/api/v1/namespaces/default`, admin, p.caPem)).status === 200, () => tail(dir, "kube-apiserver"));
    if (opts.controllerManager) {
      const kcmPort = await freePort();
      children.push(
        startProcess(dir, "kube-controller-manager", [
          `--kubeconfig=${files.kubeconfig}`,
          `--authentication-kubeconfig=${files.kubeconfig}`,
          `--authorization-kubeconfig=${files.kubeconfig}`,
          "--controllers=garbagecollector,namespace",
          "--leader-elect=false",
          `--secure-port=${kcmPort}`,
          "--bind-address=127.0.0.1",
          `--service-account-private-key-file=${files.saKey}`,
          `--root-ca-file=${files.ca}`,
          "--v=0",
        ]),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(files.kubeconfig);

  const kubectl = (args: string[], o: { stdin?: string; allowFail?: boolean } = {}): Promise<KubectlResult> =>
    new Promise((resolve, reject) => {
      const child = execFile(toolPath("kubectl"), ["--kubeconfig", files.kubeconfig, ...args], { maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
        if (code !== 0 && !o.allowFail) reject(new Error(`kubectl ${args.join(" ")} failed (${code}): ${stderr}`));
        else resolve({ code, stdout, stderr });
      });
      child.stdin?.end(o.stdin ?? "");
    });

  const cp: ControlPlane = {
    dir,
    server,
    kubeconfigPath: files.kubeconfig,
    kubeConfig,
    caPem: p.caPem,
    get pids() {
      return children.map((c) => c.pid ?? 0);
    },
    kubectl,
    async applyYaml(yaml) {
      await kubectl(["apply", "-f", "-"], { stdin: yaml });
    },
    async installCRDs(paths) {
      const list = yamlFiles(paths);
      if (list.length === 0) return;
      await kubectl(["apply", ...list.flatMap((f) => ["-f", f])]);
      await kubectl(["wait", "--for", "condition=established", "--timeout=60s", ...list.flatMap((f) => ["-f", f])]);
    },
    kubeconfigFor(user, groups = []) {
      const c = issue(p, user, groups, false);
      const path = join(dir, `${user.replace(/[^A-Za-z0-9_.-]/g, "_")}.kubeconfig`);
      writeFileSync(path, kubeconfigYaml(server, p.caPem, user, c.cert, c.key));
      return Promise.resolve(path);
    },
    stop,
  };
  if (opts.crds && opts.crds.length > 0) {
    try {
      await cp.installCRDs(opts.crds);
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return cp;
}
