// `agentgate controller` as the process the Deployment runs: SIGTERM stops it
// (exit 0) and hands the Lease back so a standby takes over at once; a
// replica whose Lease another took stops acting and exits 1 (the Deployment
// restarts it as a standby) instead of lingering.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../support/control-plane.ts";
import { until } from "../support/until.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LEASE_NS = "agentgate-system";

let cp: ControlPlane;
let leases: k8s.CoordinationV1Api;
const children: ChildProcess[] = [];
/** the public key decisions are verified with (nothing is signed here: no run is made) */
let verifyKey = "";

before(async () => {
  cp = await startControlPlane({ crds: [join(ROOT, "charts/agentgate/files/crds")] });
  verifyKey = join(cp.dir, "decisions.pub.pem");
  writeFileSync(verifyKey, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }));
  await cp.kubectl(["create", "namespace", LEASE_NS]);
  leases = cp.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await cp.stop();
});

interface Controller {
  child: ChildProcess;
  identity: string;
  exit: Promise<number | null>;
  log: () => string;
}

function startControllerProcess(): Controller {
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin/agentgate.js"), "controller", "--kubeconfig", cp.kubeconfigPath, "--kagent-url", "http://127.0.0.1:9", "--signing-public-key-file", verifyKey, "--leader-elect=true", "--lease-namespace", LEASE_NS, "--health-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let output = "";
  child.stdout?.on("data", (c: Buffer) => { output += c.toString(); });
  child.stderr?.on("data", (c: Buffer) => { output += c.toString(); });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => { resolve(code); }));
  return { child, identity: `${hostname()}_${String(child.pid)}`, exit, log: () => output };
}

const lease = () => leases.readNamespacedLease({ name: "agentgate-controller", namespace: LEASE_NS });
const leads = (c: Controller) => until(`${c.identity} to hold the Lease`, async () => ((await lease()).spec?.holderIdentity === c.identity ? true : undefined));
const exited = (c: Controller) => until(`${c.identity} to exit`, () => Promise.race([c.exit.then((code) => ({ code })), new Promise<undefined>((r) => setTimeout(() => { r(undefined); }, 500))]));

test("SIGTERM: the controller exits 0 and releases the Lease", async () => {
  const c = startControllerProcess();
  await leads(c);
  c.child.kill("SIGTERM");
  const { code } = await exited(c);
  assert.equal(code, 0, c.log());
  const released = await lease();
  assert.equal(released.spec?.holderIdentity ?? "", "", "no holder: a standby takes it at its next try");
  assert.equal(released.spec?.leaseDurationSeconds, 1);
  assert.match(c.log(), /released the Lease/);
});

test("a controller whose Lease another replica took stops acting and exits 1", async () => {
  const c = startControllerProcess();
  await leads(c);
  const held = await lease();
  const now = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
  await leases.replaceNamespacedLease({
    name: "agentgate-controller",
    namespace: LEASE_NS,
    body: { metadata: { name: "agentgate-controller", namespace: LEASE_NS, resourceVersion: held.metadata?.resourceVersion }, spec: { holderIdentity: "another-replica", leaseDurationSeconds: 60, acquireTime: now, renewTime: now, leaseTransitions: (held.spec?.leaseTransitions ?? 0) + 1 } },
  });
  const { code } = await exited(c);
  assert.equal(code, 1, c.log());
  assert.match(c.log(), /lost the Lease agentgate-controller; stopping/);
  assert.equal((await lease()).spec?.holderIdentity, "another-replica", "it did not take the Lease back");
});
