// What the admission benchmarks share: the inputs (the fixture reviews as
// the API server sends them to /validate), the gateway as deployed
// (compiled), child processes that print their port, and the machine's
// side of a measurement (RSS from /proc, CPU time stolen by the hypervisor).
import { staticKeyring } from "../src/signing/keyring.ts";
import { generateSigningKey } from "../src/signing/keys.ts";
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyPatch } from "rfc6902";
import { StaticLookup } from "../src/context/static-lookup.ts";
import { resolveContext } from "../src/context/resolve.ts";
import { admit, type GatewayDeps } from "../src/gateway/admit.ts";
import { makeIdentity } from "../src/guardrails/identity.ts";
import { loadEngine } from "../src/policy/load.ts";
import type { AdmissionReview } from "../src/types/admission.ts";
import { admissionReviews, agentConfig, contextObjects } from "./fixtures.ts";
export { freePort } from "../src/testing/free-port.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * A positive number from the environment (a whole one with `whole`), or a
 * one-line refusal naming the bench and the variable, exit 2, before
 * anything starts.
 */
export function positiveEnv(bench: string, name: string, fallback: number, whole = false): number {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n))) {
    process.stderr.write(`${bench}: ${name}=${raw ?? ""} is not a positive ${whole ? "whole " : ""}number\n`);
    process.exit(2);
  }
  return n;
}


export function post(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method: "POST", rejectUnauthorized: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    req.on("error", reject);
    req.end(body);
  });
}

export async function waitFor(port: number, path: string, probe: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await post(port, path, probe);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The machine's CPU time so far (all CPUs, in clock ticks) and the part the hypervisor gave to others (steal). */
export async function cpuTimes(): Promise<{ total: number; steal: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7] ?? 0 };
}

/** Runs `phase` and says what share of the machine's CPU time was stolen meanwhile: stalls no process on this machine caused. */
export async function withSteal<T>(phase: () => Promise<T>): Promise<{ result: T; stolen: number }> {
  const before = await cpuTimes();
  const result = await phase();
  const after = await cpuTimes();
  const total = after.total - before.total;
  return { result, stolen: total > 0 ? Math.round(((after.steal - before.steal) / total) * 1000) / 10 : 0 };
}

/** A child that prints {"port":N} on its first line of output when it listens. */
export function listeningPort(child: ChildProcess & { stdout: NodeJS.ReadableStream }, name: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`${name} exited with ${String(code)}`)));
  });
}

/** A field of /proc/<pid>/status in MB (VmRSS: resident now; VmHWM: the peak so far). */
export async function procMb(pid: number | undefined, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await readFile(`/proc/${String(pid ?? 0)}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

export function peakRssMb(child: ChildProcess): Promise<number> {
  return procMb(child.pid, "VmHWM");
}

/**
 * The gateway as it is deployed: compiled JavaScript (the image runs dist/),
 * not the sources through Node's type stripping, whose compiler alone costs
 * ~25 MB of RSS. Emitted under .bench-build/ so node_modules, package.json
 * and the default bundle's relative path resolve as in the repository.
 */
export async function compiledGatewayServer(): Promise<string> {
  const out = join(ROOT, ".bench-build");
  await rm(out, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.json"), "--noEmit", "false", "--outDir", out, "--rootDir", ROOT, "--declaration", "false", "--sourceMap", "false"], { stdio: "inherit" });
  if (tsc.status !== 0) throw new Error("bench: tsc could not compile the gateway");
  await symlink(join(ROOT, "policies"), join(out, "policies"));
  // src/version.ts reads ../package.json, as it does in dist/.
  await symlink(join(ROOT, "package.json"), join(out, "package.json"));
  // @agentgate/opa-host is compiled here too (packages/opa-host/src/*.js);
  // without this the lookup would reach the workspace link, whose exports
  // serve TypeScript, and the bench would measure the type stripper again.
  const host = join(out, "packages/opa-host");
  const manifest = JSON.parse(await readFile(join(ROOT, "packages/opa-host/package.json"), "utf8")) as { name: string; exports: Record<string, string | { default: string }> };
  const exports = Object.fromEntries(Object.entries(manifest.exports).map(([path, target]) => [path, (typeof target === "string" ? target : target.default).replace(/\.ts$/, ".js")]));
  await writeFile(join(host, "package.json"), JSON.stringify({ name: manifest.name, type: "module", exports }));
  await mkdir(join(out, "node_modules/@agentgate"), { recursive: true });
  await symlink(host, join(out, "node_modules/@agentgate/opa-host"));
  return join(out, "bench/gateway-server.js");
}

export interface ValidateInputs {
  /** the fixture reviews as /validate is sent them: AgentRuns already mutated (stamped) */
  reviews: AdmissionReview[];
  /** their bytes */
  bodies: string[];
  /** each review's context by uid, as the gateway resolves it (what OPA is given as data) */
  contexts: Record<string, unknown>;
  /** the key the runs were stamped with, PKCS#8 PEM, for the gateway to verify them with */
  signingFile: string;
}

/** Prepares the inputs in `dir`: the key the runs are stamped with is the gateway's too, as its mutating webhook signed them. */
export async function validateInputs(dir: string): Promise<ValidateInputs> {
  const engine = await loadEngine([]);
  const lookup = new StaticLookup([...contextObjects, agentConfig]);
  const signing = generateSigningKey();
  const signingFile = join(dir, "signing.pem");
  await writeFile(signingFile, signing.privateKey.export({ type: "pkcs8", format: "pem" }));
  const deps: GatewayDeps = { engine: () => engine, lookup, identity: makeIdentity([]), exemptNamespaces: new Set(), keyring: staticKeyring(signing) };
  const reviews: AdmissionReview[] = [];
  const contexts: Record<string, unknown> = {};
  for (const { review } of admissionReviews()) {
    const request = review.request;
    if (!request) continue;
    const mutation = await admit(request, deps, "mutate");
    if (request.object && mutation.patch.length > 0) applyPatch(request.object, mutation.patch);
    contexts[request.uid] = await resolveContext(request, lookup);
    reviews.push(review);
  }
  return { reviews, bodies: reviews.map((r) => JSON.stringify(r)), contexts, signingFile };
}
