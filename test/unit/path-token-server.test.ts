// `serve --webhook-path-token-file`: admission reviews are answered only at
// the path the webhook configurations name; anyone else who reaches the
// Service (a tenant's pod) gets a refusal that says nothing of the path, and
// no decision, stamp or signature.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultNamespace, defaultServiceAccount } from "../../src/cli/environment.ts";
import { startGateway, type RunningGateway } from "../../src/cli/serve.ts";
import { InputError } from "../../src/errors.ts";
import { httpsCall } from "../support/https-call.ts";

const TOKEN = "qm7wx2rlp4vn9bk3ch6djt8z5f0ga1es";
let dir: string;
let gateway: RunningGateway;

const post = (path: string, body: string) => httpsCall(gateway.port, "POST", path, body);

// A PipelineRun CREATE as an attacker would forge it: the answer of /mutate would carry a signed creator stamp naming "alice".
const forged = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: "u-forged",
    kind: { group: "tekton.dev", version: "v1", kind: "PipelineRun" },
    resource: { group: "tekton.dev", version: "v1", resource: "pipelineruns" },
    operation: "CREATE",
    namespace: "team",
    name: "mine",
    userInfo: { username: "alice" },
    object: { apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name: "mine", namespace: "team" }, spec: {} },
  },
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agentgate-path-token-"));
  await writeFile(join(dir, "token"), `${TOKEN}\n`);
  gateway = await startGateway({ listen: "127.0.0.1:0", bundle: [], offline: true, namespace: defaultNamespace(), serviceAccount: defaultServiceAccount(), trustedUser: [], drainSeconds: 0, webhookPathTokenFile: join(dir, "token") });
});

after(async () => {
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

for (const path of ["/mutate", "/validate", `/mutate/${TOKEN.slice(0, -1)}x`, `/mutate/${TOKEN}/x`]) {
  test(`POST ${path.replace(TOKEN.slice(0, -1), "<almost the token>")}: refused, one JSON line that names neither the path nor the token`, async () => {
    const answer = await post(path, forged);
    assert.equal(answer.status, 403);
    const error = (JSON.parse(answer.body) as { error: string }).error;
    assert.match(error, /^POST \/(mutate|validate): this gateway answers admission reviews only at the path its webhook configurations name, for the API server$/);
    assert.equal(answer.body.includes(TOKEN.slice(0, 8)), false);
    assert.equal(answer.body.includes("creator"), false, "no stamp is made");
  });
}

test("at /mutate/<token> the API server's review is answered", async () => {
  const answer = await post(`/mutate/${TOKEN}`, forged);
  assert.equal(answer.status, 200, answer.body);
  assert.equal((JSON.parse(answer.body) as { response: { uid: string } }).response.uid, "u-forged");
});

test("a token file that is too short stops the gateway before it starts, naming the flag and the file", async () => {
  await writeFile(join(dir, "short"), "abc");
  await assert.rejects(
    startGateway({ listen: "127.0.0.1:0", bundle: [], offline: true, namespace: defaultNamespace(), serviceAccount: defaultServiceAccount(), trustedUser: [], drainSeconds: 0, webhookPathTokenFile: join(dir, "short") }),
    (err: unknown) => err instanceof InputError && /^--webhook-path-token-file: .*short: line 1: the webhook path token must be 32 to 253 lowercase letters and digits/.test(err.message),
  );
});
