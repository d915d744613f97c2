// Fault injection on the bundle service and the bundle cache (issue 18, item
// 2), against the real gateway (startGateway, --offline) answering HTTPS
// AdmissionReviews the whole time: the service going down, answering
// nothing, trickling its body; the cache directory unwritable. The last good
// version answers every request meanwhile, /readyz stays ready and says what
// fails, a restart never starts from an older version than the one in force
// (nor from nothing, silently). Garbage and an older revision from the
// service are test/opa/bundle-swap.test.ts's (refused, and followed: a
// rollback is the service's to make).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { admissionReviews } from "../../bench/fixtures.ts";
import { type RunningGateway } from "../../src/cli/serve.ts";
import { logger } from "../../src/log.ts";
import type { AdmissionReview } from "../../src/types/admission.ts";
import { builtBundle } from "../fixtures/bundles.ts";
import { captureLogs, type CapturedLogs } from "../support/fault-kit.ts";
import { until } from "../support/until.ts";
import { gatewayOverBundle } from "../support/gateway.ts";
import { httpsCall } from "../support/https-call.ts";

const answer = (action: "deny" | "warn", text: string) => `package agentgate
violations contains {"policy": "fault", "field": "spec", "message": "${text}", "action": "${action}"} if input.request.kind.kind == "AgentConfig"
`;

let dir: string;
let logs: CapturedLogs;
const versions: Record<"v1" | "v2", Buffer> = { v1: Buffer.alloc(0), v2: Buffer.alloc(0) };

/** The bundle service: ETags and 304 as OPA's protocol has them, and a fault of the test's choosing. */
type Mode = "serve" | "hang" | "trickle";
let mode: Mode = "serve";
let served: Buffer = Buffer.alloc(0);
let service: Server;
let servicePort = 0;
const sockets = new Set<Socket>();
const held: ServerResponse[] = [];

function listen(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    service.once("error", reject);
    service.listen(port, "127.0.0.1", () => {
      service.off("error", reject);
      const address = service.address();
      servicePort = typeof address === "object" && address ? address.port : 0;
      resolve();
    });
  });
}

/** Down: nothing listens on the port, connections are refused. */
function serviceDown(): Promise<void> {
  return new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    service.close(() => { resolve(); });
  });
}

before(async () => {
  logs = captureLogs(logger, "info");
  dir = await mkdtemp(join(tmpdir(), "agentgate-faults-bundles-"));
  versions.v1 = await builtBundle(answer("deny", "v1 says no"), { revision: "v1" });
  versions.v2 = await builtBundle(answer("warn", "v2 says careful"), { revision: "v2" });
  service = createServer((req, res) => {
    if (mode === "hang") {
      // Taken, never answered.
      held.push(res);
      return;
    }
    const etag = `"${createHash("sha256").update(served).digest("hex").slice(0, 16)}"`;
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { etag, "content-type": "application/gzip" });
    if (mode === "serve") {
      res.end(served);
      return;
    }
    // A byte now and then: the headers came, the body never finishes.
    res.write(served.subarray(0, 1));
    held.push(res);
  });
  service.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await listen(0);
});

after(async () => {
  for (const r of held) r.destroy();
  await serviceDown().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  logs.stop();
});

const url = () => `http://127.0.0.1:${String(servicePort)}/bundles/team.tar.gz`;

/** `agentgate serve --offline --no-default-bundle --bundle <service> --bundle-poll-interval 200ms --bundle-cache-dir <cacheDir>` */
const gatewayOn = (cacheDir: string): Promise<RunningGateway> => gatewayOverBundle(url(), { pollInterval: "200ms", cacheDir });

const agent = new Agent({ keepAlive: true, maxSockets: 2, rejectUnauthorized: false });

const call = (gateway: RunningGateway, method: string, path: string, body?: string) => httpsCall(gateway.port, method, path, body, { agent });

const template = admissionReviews().find((r) => r.review.request?.kind.kind === "AgentConfig")?.review;

/** Which version decided one AgentConfig review: "v1" (denied), "v2" (warned), or what went wrong. */
async function decidedBy(gateway: RunningGateway, uid: string): Promise<string> {
  assert.ok(template?.request);
  let res: { status: number; body: string };
  try {
    res = await call(gateway, "POST", "/validate", JSON.stringify({ ...template, request: { ...template.request, uid } }));
  } catch (err) {
    return `request error: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (res.status !== 200) return `HTTP ${String(res.status)}: ${res.body.slice(0, 200)}`;
  const response = (JSON.parse(res.body) as AdmissionReview).response;
  if (response?.uid !== uid) return `uid ${String(response?.uid)} for ${uid}`;
  if (!response.allowed && (response.status?.message ?? "").includes("[fault] spec: v1 says no")) return "v1";
  if (response.allowed && (response.warnings ?? []).some((w) => w.includes("[fault] spec: v2 says careful"))) return "v2";
  return `unexpected answer: ${res.body.slice(0, 300)}`;
}

/** Reviews sent one after another until stopped: every answer, by what decided it. */
function underLoad(gateway: RunningGateway): { answers: Record<string, number>; stop(): Promise<Record<string, number>> } {
  const answers: Record<string, number> = {};
  let going = true;
  const loop = (async () => {
    for (let i = 0; going; i++) {
      const outcome = await decidedBy(gateway, `fault-${String(i)}`);
      answers[outcome] = (answers[outcome] ?? 0) + 1;
    }
  })();
  return {
    answers,
    stop: async () => {
      going = false;
      await loop;
      return answers;
    },
  };
}

const readyz = (gateway: RunningGateway) => call(gateway, "GET", "/readyz");

test("the bundle service down, then silent past the poll's bound, then trickling its body: the last good version answers every request, /readyz stays ready and says why; the next good version takes over once it serves again", async () => {
  mode = "serve";
  served = versions.v1;
  const gateway = await gatewayOn(join(dir, "cache-a"));
  const load = underLoad(gateway);
  try {
    await until("v1 in force", () => (load.answers.v1 ?? 0) > 10);
    const port = servicePort;
    await serviceDown();
    const down = await until("readiness to say the service is down", async () => {
      const r = await readyz(gateway);
      return /its source fails: .*GET failed: connect ECONNREFUSED/.test(r.body) ? r : undefined;
    });
    assert.equal(down.status, 200, "ready: the last good version answers");
    assert.match(down.body, /^ok\nbundle "team" \(http:\/\/\S+\): its source fails: .*; revision v1 stays in force\n$/);
    await listen(port);

    mode = "hang";
    await until("readiness to say the service answers nothing", async () => /its source fails: .*no answer within \d+ ms/.test((await readyz(gateway)).body));
    mode = "trickle";
    // A new version, so a download starts (and never finishes) instead of a 304.
    served = versions.v2;
    const heldBefore = held.length;
    await until("a download to start", () => held.length > heldBefore);
    const failuresBefore = logs.find("bundle source failed; the last good version stays in force").length;
    const gaveUp = await until("the download to be given up", () => logs.find("bundle source failed; the last good version stays in force").slice(failuresBefore).at(0));
    assert.match(String(gaveUp.error), /no answer within \d+ ms/);
    const r = await readyz(gateway);
    assert.equal(r.status, 200);
    assert.match(r.body, /its source fails: .*no answer within \d+ ms.*; revision v1 stays in force\n$/);
    assert.equal(load.answers.v2, undefined, "a version never fully downloaded decided nothing");

    mode = "serve";
    await until("v2 to take over", async () => (await decidedBy(gateway, "after")) === "v2");
    await until("readiness to clear", async () => (await readyz(gateway)).body === "ok\n");
  } finally {
    const answers = await load.stop();
    await gateway.close();
    const failed = Object.entries(answers).filter(([k]) => k !== "v1" && k !== "v2");
    process.stdout.write(`# bundle service down, silent, trickling: ${String(Object.values(answers).reduce((a, b) => a + b, 0))} reviews, ${String(failed.reduce((a, [, n]) => a + n, 0))} failed\n`);
    assert.deepEqual(failed, [], "every review answered by a whole version");
  }
});

test("a restart with the service down starts from the newest version it had in force, never an older one", async () => {
  mode = "serve";
  served = versions.v1;
  const cacheDir = join(dir, "cache-b");
  const first = await gatewayOn(cacheDir);
  try {
    assert.equal(await decidedBy(first, "first-v1"), "v1");
    served = versions.v2;
    await until("v2 to take over", async () => (await decidedBy(first, "first-v2")) === "v2");
    // The copy on disk is written just after the swap: wait for it, as a restart would find it.
    await until("v2 kept on disk", async () => {
      const metas = (await readdir(cacheDir).catch(() => [] as string[])).filter((f) => f.endsWith(".json"));
      const saved = await Promise.all(metas.map(async (f) => (JSON.parse(await readFile(join(cacheDir, f), "utf8")) as { revision: string }).revision));
      return saved.includes("v2");
    });
  } finally {
    await first.close();
  }
  const port = servicePort;
  await serviceDown();
  try {
    const second = await gatewayOn(cacheDir);
    try {
      assert.equal((await readyz(second)).status, 200, "ready from the copy on disk");
      assert.equal(await decidedBy(second, "restarted"), "v2");
      assert.match((await readyz(second)).body, /its source fails: .*; revision v2 stays in force\n$/);
    } finally {
      await second.close();
    }
  } finally {
    await listen(port);
  }
});

test("the cache directory unwritable: the gateway serves from the service and logs why no copy is kept; a restart with the service down is not ready and says why", async () => {
  mode = "serve";
  served = versions.v1;
  // Under a regular file, no directory can be made: writes fail whoever runs the test (root included).
  const blocker = join(dir, "not-a-directory");
  await writeFile(blocker, "");
  const cacheDir = join(blocker, "cache");
  const gateway = await gatewayOn(cacheDir);
  try {
    assert.equal(await decidedBy(gateway, "unwritable"), "v1");
    assert.equal((await readyz(gateway)).status, 200);
    const warned = await until("the gateway to say the copy is not kept", () => logs.find("could not keep the bundle's last good copy on disk; a restart will need its source", { bundle: "team" }).at(-1));
    assert.equal(warned.cacheDir, cacheDir);
    assert.match(String(warned.error), /ENOTDIR|EEXIST/);
  } finally {
    await gateway.close();
  }
  const port = servicePort;
  await serviceDown();
  try {
    const restarted = await gatewayOn(cacheDir);
    try {
      const r = await readyz(restarted);
      assert.equal(r.status, 503);
      assert.match(r.body, /^not ready: no policy bundle in force yet; team \(http:\/\/\S+\): bundle http:\/\/\S+: GET failed: connect ECONNREFUSED/);
      const refused = await decidedBy(restarted, "no-bundle");
      assert.match(refused, /^unexpected answer: .*"allowed":false,"status":\{"code":500,"reason":"InternalError","message":"\[gateway-error\] agentgate could not evaluate this request: no policy bundle in force yet; /, "refused (fail closed), not admitted");
    } finally {
      await restarted.close();
    }
  } finally {
    await listen(port);
  }
});
