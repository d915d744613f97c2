// A real OCI registry for tests: distribution's `registry` (built by
// tools/install.sh from tools/registry/go.mod) on 127.0.0.1, a free port
// and a temporary storage directory; optionally serving TLS (with client
// certificates required) and token authentication (realm, service, and the
// key that signs its tokens, test/support/registry-token.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch } from "undici";
import { stringify } from "yaml";
import { freePort } from "../../src/testing/free-port.ts";

const BINARY = fileURLToPath(new URL("../../.tools/bin/registry", import.meta.url));

export interface RegistryTls {
  cert: string;
  key: string;
  /** when set, a client certificate signed by this CA is required */
  clientCa?: string;
  /** the CA that signed `cert`, for the registry's own clients (push) */
  ca: string;
}

export interface RegistryTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  /** a JSON Web Key Set of the keys that sign tokens */
  jwks: object;
}

export interface RegistryOptions {
  tls?: RegistryTls;
  token?: RegistryTokenAuth;
}

export interface TestRegistry {
  /** http(s)://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, as oci:// references name it */
  host: string;
  /** the filesystem driver's root: docker/registry/v2/… */
  storage: string;
  /** "METHOD /path STATUS" of every request so far, from its access log */
  requests(): Promise<string[]>;
  /** where a blob's bytes lie on disk (to corrupt them) */
  blobPath(digest: string): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;


export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run tools/install.sh to build the test tools`);
  if (!hooked) {
    hooked = true;
    process.on("exit", () => { for (const child of live) child.kill("SIGKILL"); });
  }
  const dir = await mkdtemp(join(tmpdir(), "agentgate-registry-"));
  const storage = join(dir, "storage");
  const port = await freePort();
  const http: Record<string, unknown> = { addr: `127.0.0.1:${String(port)}`, secret: "agentgate-test" };
  if (opts.tls) {
    await writeFile(join(dir, "tls.crt"), opts.tls.cert);
    await writeFile(join(dir, "tls.key"), opts.tls.key, { mode: 0o600 });
    const tls: Record<string, unknown> = { certificate: join(dir, "tls.crt"), key: join(dir, "tls.key") };
    if (opts.tls.clientCa !== undefined) {
      await writeFile(join(dir, "client-ca.crt"), opts.tls.clientCa);
      tls.clientcas = [join(dir, "client-ca.crt")];
    }
    http.tls = tls;
  }
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: "warn", formatter: "text", accesslog: { disabled: false } },
    storage: { filesystem: { rootdirectory: storage }, maintenance: { uploadpurging: { enabled: false } } },
    http,
  };
  if (opts.token) {
    await writeFile(join(dir, "jwks.json"), JSON.stringify(opts.token.jwks));
    config.auth = { token: { realm: opts.token.realm, service: opts.token.service, issuer: opts.token.issuer, jwks: join(dir, "jwks.json"), signingalgorithms: ["ES256"] } };
  }
  await writeFile(join(dir, "config.yml"), stringify(config));
  const accessLog = join(dir, "access.log");
  const out = openSync(accessLog, "a");
  const err = openSync(join(dir, "registry.log"), "a");
  let child: ChildProcess;
  try {
    // OTEL_*: distribution exports traces when told where; told nothing, it must not try.
    child = spawn(BINARY, ["serve", join(dir, "config.yml")], { stdio: ["ignore", out, err], env: { ...process.env, OTEL_TRACES_EXPORTER: "none", OTEL_SDK_DISABLED: "true" } });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  live.add(child);
  child.unref();
  const exited = new Promise<void>((resolve) => child.once("exit", () => { live.delete(child); resolve(); }));
  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${String(port)}`;
  const dispatcher = opts.tls ? new Agent({ connect: { ca: opts.tls.ca } }) : undefined;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`registry exited (${String(child.exitCode ?? child.signalCode)}):\n${await readFile(join(dir, "registry.log"), "utf8").catch(() => "")}`);
    }
    try {
      // Any HTTP answer means it listens (401 with token auth, or a TLS alert without a client certificate).
      await fetch(`${url}/v2/`, { ...(dispatcher ? { dispatcher } : {}) });
      break;
    } catch (e) {
      const code = (e as { cause?: { code?: string } }).cause?.code;
      if (code !== undefined && code !== "ECONNREFUSED") break;
    }
    if (Date.now() > deadline) throw new Error(`registry did not listen on ${url} within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await dispatcher?.close();
  return {
    url,
    host: `127.0.0.1:${String(port)}`,
    storage,
    requests: async () => (await readFile(accessLog, "utf8"))
      .split("\n")
      .map((line) => /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d+)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1] ?? ""} ${m[2] ?? ""} ${m[3] ?? ""}`),
    blobPath: (digest: string) => {
      const [algorithm, hex] = digest.split(":") as [string, string];
      return join(storage, "docker/registry/v2/blobs", algorithm, hex.slice(0, 2), hex, "data");
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
