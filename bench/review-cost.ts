// node bench/review-cost.ts: what one AdmissionReview costs the gateway, for
// the largest and the deepest reviews the API server would send, for an
// ordinary one, and for the largest and deepest the gateway still evaluates
// (and agent-isolation's worst NetworkPolicy at that size). BENCH_RUNS
// (default 3) runs each; the figures are medians. Each input goes to a fresh gateway process (bench/gateway-
// server.ts: the real server and evaluation path), warmed with ordinary
// reviews; the figures are that process's CPU time for the one request and
// its peak RSS while answering it (VmHWM, reset first through clear_refs), then
// its RSS after 20 more ordinary reviews and a second's rest: memory a big
// review leaves behind. The last line is the figures as one JSON object.
//
// The inputs are shaped by what kube-apiserver v1.37 itself accepts:
// - a request body of at most 3 MiB (k8s.io/apiserver pkg/server/config.go,
//   MaxRequestBodyBytes: 3 * 1024 * 1024; no flag changes it). etcd's 1.5 MiB
//   does not apply to --dry-run=server, which stores nothing.
// - JSON nesting of at most 10,000 levels (sigs.k8s.io/json's scanner,
//   maxNestingDepth = 10000; k8s.io/apimachinery pkg/util/json maxDepth).
// A preserve-unknown field (an Agent's spec.skills) takes anything within
// those, and the API server passes it on to the webhook inside the review.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { generateServingCertificate } from "../src/tls/self-signed.ts";
import type { AdmissionRequest, AdmissionReview } from "../src/types/admission.ts";
import type { KubeObject } from "../src/types/kube.ts";
import { scanJson } from "../src/wire/json-scan.ts";
import { DEFAULT_REVIEW_LIMITS } from "../src/wire/parse.ts";
import { admissionReviews } from "./fixtures.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const API_SERVER_MAX_BODY = 3 * 1024 * 1024;
const API_SERVER_MAX_DEPTH = 10_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function agentReview(skills: unknown, name: string): AdmissionReview {
  const object: KubeObject = {
    apiVersion: "kagent.dev/v1alpha2",
    kind: "Agent",
    metadata: {
      name,
      namespace: "qe",
      uid: randomUUID(),
      creationTimestamp: "2026-11-25T09:00:00Z",
      generation: 1,
      managedFields: [{ manager: "kubectl-create", operation: "Update", apiVersion: "kagent.dev/v1alpha2", time: "2026-11-25T09:00:00Z", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { ".": {}, "f:declarative": {}, "f:skills": {}, "f:type": {} } } }],
    },
    spec: {
      type: "Declarative",
      declarative: { modelConfig: "claude", systemMessage: "You answer questions about the cluster.", tools: [] },
      skills,
    },
  };
  const request: AdmissionRequest = {
    uid: randomUUID(),
    kind: { group: "kagent.dev", version: "v1alpha2", kind: "Agent" },
    resource: { group: "kagent.dev", version: "v1alpha2", resource: "agents" },
    requestKind: { group: "kagent.dev", version: "v1alpha2", kind: "Agent" },
    requestResource: { group: "kagent.dev", version: "v1alpha2", resource: "agents" },
    name,
    namespace: "qe",
    operation: "CREATE",
    userInfo: { username: "alice@example.com", groups: ["system:authenticated"] },
    object,
    oldObject: null,
    dryRun: true,
    options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions", dryRun: ["All"], fieldManager: "kubectl-create" },
  };
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request };
}

/** spec.skills.blob of `count` empty arrays. */
function wide(count: number): string {
  return JSON.stringify(agentReview({ blob: "@@" }, "wide")).replace('"@@"', `[${"[],".repeat(count - 1)}[]]`);
}

/** As many `[]` as fit an object of just under the API server's body limit. */
function widest(): string {
  const probe = JSON.stringify(agentReview({ blob: [] }, "wide").request?.object);
  return wide(Math.floor((API_SERVER_MAX_BODY - probe.length - 1024) / 3));
}

/** spec.skills.nest: `levels` arrays, one inside the other. */
function deep(levels: number): string {
  return JSON.stringify(agentReview({ nest: "@@" }, "deep")).replace('"@@"', `${"[".repeat(levels)}${"]".repeat(levels)}`);
}

/**
 * A NetworkPolicy an editor may create, whose pod selector names one
 * unknown key `n` times in two NotIn lists (after an Exists): what
 * agent-isolation's selector check costs at its worst.
 */
function selectorReview(n: number): string {
  const values = (tag: string) => Array.from({ length: n }, (_, i) => `${tag}${String(i)}`);
  const object: KubeObject = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "wide-selector", namespace: "qe", uid: randomUUID(), creationTimestamp: "2026-11-25T09:00:00Z" },
    spec: { podSelector: { matchExpressions: [{ key: "x", operator: "Exists" }, { key: "x", operator: "NotIn", values: values("a") }, { key: "x", operator: "NotIn", values: values("b") }] }, egress: [{}], policyTypes: ["Egress"] },
  };
  const request: AdmissionRequest = {
    uid: randomUUID(),
    kind: { group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy" },
    resource: { group: "networking.k8s.io", version: "v1", resource: "networkpolicies" },
    operation: "CREATE",
    namespace: "qe",
    name: "wide-selector",
    userInfo: { username: "alice@example.com", groups: ["system:authenticated"] },
    object,
  };
  return JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request });
}

function ordinary(): string {
  const agent = admissionReviews().find((r) => r.review.request?.kind.kind === "Agent" && r.admitted);
  if (!agent) throw new Error("bench/fixtures.ts has no admitted Agent review");
  return JSON.stringify(agent.review);
}

interface Answer {
  status: number;
  allowed?: boolean;
  message: string;
}

function post(port: number, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path: "/validate", method: "POST", rejectUnauthorized: false, agent: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: { response?: { allowed?: boolean; status?: { message?: string } }; error?: string } = {};
        try {
          parsed = JSON.parse(text) as typeof parsed;
        } catch {
          // an answer that is not JSON is reported as text
        }
        const allowed = parsed.response?.allowed;
        resolve({ status: res.statusCode ?? 0, ...(allowed === undefined ? {} : { allowed }), message: (parsed.response?.status?.message ?? parsed.error ?? (parsed.response ? "" : text)).slice(0, 200) });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function procStatus(pid: number): Promise<{ rssMb: number; hwmMb: number }> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssMb: Math.round(kb("VmRSS") / 1024), hwmMb: Math.round(kb("VmHWM") / 1024) };
}

/**
 * Time the process has spent on a CPU, in ms: schedstat's first field (ns,
 * finer than utime's 10 ms ticks) summed over its threads, since V8 collects
 * garbage on threads of its own.
 */
async function cpuMs(pid: number): Promise<number> {
  let ns = 0;
  for (const task of await readdir(`/proc/${pid}/task`)) {
    ns += Number((await readFile(`/proc/${pid}/task/${task}/schedstat`, "utf8").catch(() => "0")).split(" ")[0]);
  }
  return ns / 1e6;
}

interface Figures {
  cpuMs: number;
  peakRssMb: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  answer: Answer;
}

async function startGateway(certFile: string, keyFile: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(ROOT, "bench/gateway-server.ts"), certFile, keyFile], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`bench/gateway-server.ts exited (${String(code)}) before it listened`)));
    createInterface({ input: child.stdout }).once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  return { child, port };
}

async function measure(input: string, normal: string, certFile: string, keyFile: string): Promise<Figures> {
  const { child, port } = await startGateway(certFile, keyFile);
  const pid = child.pid ?? 0;
  try {
    for (let i = 0; i < 50; i++) await post(port, normal);
    await new Promise((r) => setTimeout(r, 500));
    const before = await procStatus(pid);
    // Writing 5 resets VmHWM to the current RSS (proc(5)): the peak is this request's.
    await writeFile(`/proc/${pid}/clear_refs`, "5");
    const cpuBefore = await cpuMs(pid);
    const answer = await post(port, input);
    const cpuAfter = await cpuMs(pid);
    const during = await procStatus(pid);
    for (let i = 0; i < 20; i++) await post(port, normal);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await procStatus(pid);
    return { cpuMs: Math.round((cpuAfter - cpuBefore) * 10) / 10, peakRssMb: during.hwmMb, rssBeforeMb: before.rssMb, rssAfterMb: after.rssMb, answer };
  } finally {
    child.kill("SIGKILL");
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const dir = await mkdtemp(join(tmpdir(), "agentgate-review-cost-"));
try {
  const tls = generateServingCertificate(["127.0.0.1"]);
  const certFile = join(dir, "tls.crt");
  const keyFile = join(dir, "tls.key");
  await writeFile(certFile, tls.cert);
  await writeFile(keyFile, tls.key);
  const normal = ordinary();
  // The object's own levels (object, spec, skills, nest) count towards the API server's depth.
  const deepest = deep(API_SERVER_MAX_DEPTH - 4);
  // The largest review the gateway's defaults still evaluate: what it costs is the bound.
  const atValues = wide(DEFAULT_REVIEW_LIMITS.maxValues - (scanJson(Buffer.from(wide(1))).values - 1));
  const atSelector = selectorReview(Math.floor((DEFAULT_REVIEW_LIMITS.maxValues - (scanJson(Buffer.from(selectorReview(0))).values + 10)) / 2));
  // The nest only sets the review's depth once it is deeper than the rest of it (managedFields): count up to the limit.
  let nest = 1;
  while (scanJson(Buffer.from(deep(nest))).depth < DEFAULT_REVIEW_LIMITS.maxDepth) nest++;
  const atDepth = deep(nest);
  const inputs = [
    { name: "wide", what: "an Agent whose spec.skills holds a million-odd empty arrays, the review just under 3 MiB", body: widest() },
    { name: "deep", what: `an Agent whose spec.skills nests arrays to ${API_SERVER_MAX_DEPTH} levels (the API server's limit)`, body: deepest },
    { name: "normal", what: "an ordinary Agent as kubectl apply sends it", body: normal },
    { name: "at-value-limit", what: `the same wide Agent with ${DEFAULT_REVIEW_LIMITS.maxValues} values in all, the most the gateway evaluates`, body: atValues },
    { name: "at-depth-limit", what: `the same deep Agent nested ${DEFAULT_REVIEW_LIMITS.maxDepth} levels, the deepest the gateway evaluates`, body: atDepth },
    { name: "selector-at-value-limit", what: "a NetworkPolicy whose pod selector lists one unknown label key in two NotIn lists, as many values as the gateway evaluates (agent-isolation's worst case)", body: atSelector },
  ];
  const summary: Record<string, { bytes: number; cpuMs: number; peakRssMb: number; rssBeforeMb: number; rssAfterMb: number; status: number; allowed?: boolean; message: string }> = {};
  for (const input of inputs) {
    const scanned = scanJson(Buffer.from(input.body));
    process.stderr.write(`${input.name}: ${scanned.values} values, ${scanned.depth} levels\n`);
    const runs: Figures[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await measure(input.body, normal, certFile, keyFile));
    const last = runs[runs.length - 1] as Figures;
    const row = {
      bytes: Buffer.byteLength(input.body),
      cpuMs: median(runs.map((r) => r.cpuMs)),
      peakRssMb: median(runs.map((r) => r.peakRssMb)),
      rssBeforeMb: median(runs.map((r) => r.rssBeforeMb)),
      rssAfterMb: median(runs.map((r) => r.rssAfterMb)),
      status: last.answer.status,
      ...(last.answer.allowed === undefined ? {} : { allowed: last.answer.allowed }),
      message: last.answer.message,
    };
    summary[input.name] = row;
    process.stdout.write(
      `${input.name} (${input.what}; ${row.bytes} bytes): CPU ${row.cpuMs} ms (runs ${runs.map((r) => r.cpuMs).join(", ")}), peak RSS ${row.peakRssMb} MB (from ${row.rssBeforeMb} MB), RSS after ${row.rssAfterMb} MB; answer ${row.status}${row.allowed === undefined ? "" : ` allowed=${String(row.allowed)}`}${row.message === "" ? "" : `: ${row.message}`}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
