// Writes the seed corpus of every target into fuzz/corpus/<target>/ (the
// committed seeds come from here: run it again after changing a seed).
//   node fuzz/make-corpus.ts
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { STAMP } from "../src/types/agent.ts";
import { SEED_OBJECTS, GATEWAY_USER, reviewOf } from "./admission-seeds.ts";
import { signed, signClaims } from "./bundle-archive.fuzz.ts";
import { corpusDir, FUZZ_DIR } from "./files.ts";
import { packTar, type TarEntry } from "./tar.ts";

type Seeds = Record<string, string | Buffer>;

const json = (v: unknown): string => JSON.stringify(v);

function admissionSeeds(): Seeds {
  const [config, run, forged, agent, model, server, mcp, netpol, pod, pipelineRun, account] = SEED_OBJECTS;
  const seeds: Seeds = {};
  SEED_OBJECTS.forEach((o, i) => { seeds[`create-${String(i).padStart(2, "0")}-${(o.kind ?? "").toLowerCase()}.json`] = json(reviewOf(o, "CREATE")); });
  if (!config || !run || !forged || !agent || !model || !server || !mcp || !netpol || !pod || !pipelineRun || !account) throw new Error("seed objects changed");
  seeds["update-agentrun.json"] = json(reviewOf({ ...run, spec: { ...(run.spec as object), goal: "Another goal" } }, "UPDATE", { old: run }));
  seeds["update-agentrun-approval.json"] = json(reviewOf({ ...run, metadata: { ...run.metadata, annotations: { [STAMP.approvedBy]: "bob" } } }, "UPDATE", { old: run, user: "bob" }));
  seeds["update-agentconfig.json"] = json(reviewOf({ ...config, spec: { ...(config.spec as object), tokenBudget: 999999999 } }, "UPDATE", { old: config }));
  seeds["delete-agentrun.json"] = json(reviewOf(run, "DELETE"));
  seeds["status-agentrun.json"] = json(reviewOf({ ...run, status: { conditions: [] } }, "UPDATE", { subResource: "status", old: run }));
  seeds["exempt-namespace.json"] = json(reviewOf({ ...run, metadata: { name: "x", namespace: "agentgate-system" } }, "CREATE"));
  seeds["warn-profile.json"] = json(reviewOf({ ...config, metadata: { name: "w", namespace: "rollout" }, spec: { tokenBudget: -1 } }, "CREATE"));
  seeds["gateway-user.json"] = json(reviewOf(forged, "CREATE", { user: GATEWAY_USER }));
  seeds["token-request.json"] = json(reviewOf({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "agentrun-run", namespace: "qe" } }, "CREATE", { subResource: "token" }));
  seeds["unknown-resource.json"] = json(reviewOf({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "qe" } }, "CREATE"));
  seeds["not-a-review.json"] = json({ apiVersion: "v1", kind: "Status" });
  return seeds;
}

function jsonScanSeeds(): Seeds {
  const reviews = admissionSeeds();
  return {
    "review-agentrun.json": reviews["create-01-agentrun.json"] ?? "{}",
    "review-update.json": reviews["update-agentconfig.json"] ?? "{}",
    "escapes.json": '{"apiVersion":"admission.k8s.io\\/v1","kind":"Admission\\u0052eview","request":{"uid":"a\\"b\\\\","kind":{"group":"","version":"v1","kind":"Pod"}}}',
    "duplicates.json": '{"request":{"uid":"1"},"request":{"name":"x"},"kind":"A","kind":"B"}',
    "arrays.json": '[[],[{}],[[1,2,[3]]],"x",-1.5e3,true,false,null]',
    "scalars.json": '"just a string"',
    "deep.json": `${"[".repeat(40)}${"]".repeat(40)}`,
  };
}

function regoSeeds(): Seeds {
  return {
    "object.txt": '{"a": 1, "b": [true, null, "x"]}',
    "set.txt": '{1, 2, "three"}',
    "empty-set.txt": "set()",
    "non-string-keys.txt": '{1: "one", [2]: {3}, {"k": 1}: set()}',
    "numbers.txt": "[0, -0, 1.50, 1e400, 12345678901234567890, -7.25E-3]",
    "escapes.txt": '["\\n\\t\\u00e9\\ud83d\\ude00", "plain", "\\"quoted\\""]',
    "nested.txt": '{"a": {"b": {"c": [{"d": {1, 2}}]}}}',
    "scalar.txt": '"x"',
  };
}

function sseSeeds(): Seeds {
  return {
    "one.txt": 'data: {"a":1}\n\n',
    "crlf.txt": "event: update\r\nid: 7\r\ndata: x\r\ndata: y\r\n\r\ndata: z\r\n\r\n",
    "cr.txt": "data: x\r\rdata: y\r\r",
    "comments.txt": ": keep-alive\nretry: 10\nfoo: bar\ndata:x\ndata\n\n: ping\n\n",
    "bom.txt": "\uFEFFdata: x\n\nid\nid: a\u0000b\ndata: é😀\n\n",
    "unterminated.txt": "data: x\n\ndata: partial",
  };
}

function a2aSeeds(): Seeds {
  const rpc = (result: unknown): string => `data: ${json({ jsonrpc: "2.0", id: "1", result })}\n\n`;
  const text = (t: string): unknown => ({ kind: "text", text: t });
  return {
    "v03-stream.txt":
      rpc({ kind: "task", id: "t1", contextId: "c1", status: { state: "submitted" }, history: [{ kind: "message", messageId: "m0", role: "user", parts: [text("go")] }] }) +
      rpc({ kind: "status-update", taskId: "t1", contextId: "c1", status: { state: "working", message: { kind: "message", messageId: "m1", role: "agent", parts: [text("thinking")] } }, final: false }) +
      rpc({ kind: "artifact-update", taskId: "t1", contextId: "c1", artifact: { artifactId: "a1", parts: [text("result"), { kind: "data", data: { tokens: 12 } }, { kind: "file", file: { name: "f", bytes: "AA==" } }] }, lastChunk: true }) +
      rpc({ kind: "status-update", taskId: "t1", contextId: "c1", status: { state: "completed", timestamp: "2026-01-01T00:00:00Z" }, final: true, metadata: { kagent_usage_metadata: { totalTokenCount: 42 } } }),
    "v10-stream.txt":
      rpc({ task: { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED" } } }) +
      rpc({ statusUpdate: { taskId: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING", message: { messageId: "m1", role: "ROLE_AGENT", parts: [{ text: "hi" }] } } } }) +
      rpc({ artifactUpdate: { taskId: "t1", contextId: "c1", artifact: { artifactId: "a", parts: [{ data: [1, 2] }, { raw: "AA==", filename: "x", mediaType: "text/plain" }, { url: "http://x" }] } } }) +
      rpc({ statusUpdate: { taskId: "t1", contextId: "c1", status: { state: "TASK_STATE_INPUT_REQUIRED" } } }),
    "message.txt": rpc({ kind: "message", messageId: "m9", role: "agent", parts: [text("done")], contextId: "c", taskId: "t", referenceTaskIds: ["x", 1] }),
    "error.txt": `data: ${json({ jsonrpc: "2.0", id: "1", error: { code: -32603, message: "Internal error", data: "OnCancelTask failed" } })}\n\n`,
    "keepalive.txt": ": ping\n\ndata: \n\n" + rpc({ id: "t1", status: { state: "working" } }),
  };
}

async function manifestSeeds(): Promise<Seeds> {
  const run = SEED_OBJECTS[1];
  return {
    "agentconfig-allowed.yaml": await readFile(join(FUZZ_DIR, "..", "examples", "agentconfig-allowed.yaml"), "utf8"),
    "list.yaml": `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: agent.tekton.dev/v1alpha1\n    kind: AgentRunList\n    items:\n      - ${json(run)}\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c}\n`,
    "json.json": JSON.stringify(SEED_OBJECTS[0], null, 2),
    "anchors.yaml": "base: &b\n  tokenBudget: 10\n---\napiVersion: agent.tekton.dev/v1alpha1\nkind: AgentConfig\nmetadata: {name: a, namespace: qe}\nspec:\n  <<: *b\n  modelConfigRef: {name: claude}\n",
    "empty-docs.yaml": "---\n# nothing\n---\n...\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: qe\n",
    "block-scalars.yaml": "apiVersion: agent.tekton.dev/v1alpha1\nkind: AgentRun\nmetadata:\n  name: r\nspec:\n  configRef: {name: writer}\n  goal: |\n    Write tests\n    for the refunds.\n",
  };
}

function bundleSeeds(): Seeds {
  const file = (name: string, content: string | Buffer): TarEntry => ({ name, type: "0", content: Buffer.from(content) });
  const wasm = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const manifest = json({ revision: "7", roots: ["agentgate"], wasm: [{ entrypoint: "agentgate/violations", module: "/policy.wasm" }], metadata: { by: "fuzz" } });
  const base = [file("/.manifest", manifest), file("/policy.wasm", wasm), file("/data.json", json({ agentgate: { config: { maxTokenBudget: 10 } } }))];
  const schema = {
    agentgate: {
      config_schema: { type: "object", properties: { maxTokenBudget: { type: "integer", minimum: 0 }, timeout: { type: "string", format: "go-duration" }, profiles: { type: "object" } }, additionalProperties: false },
      config: { maxTokenBudget: 5, profiles: { p: { namespaces: ["a"], maxTokenBudget: -1 } } },
    },
  };
  const nested = [...base.slice(0, 2), file("/agentgate/config/data.json", json({ maxTokenBudget: 3 })), file("/x/data.yaml", "a: 1\nb: [2, 3]\n")];
  return {
    "signed.tar": packTar(signed(base)),
    "signed.tar.gz": gzipSync(packTar(signed(base))),
    "unsigned.tar": packTar(base),
    "schema.tar": packTar(signed([...base.slice(0, 2), file("/data.json", json(schema))])),
    "nested-data.tar": packTar(signed(nested)),
    "rego-only.tar": packTar([file("/policy.rego", "package agentgate\n"), file("/.signatures.json", json({ signatures: [signClaims(json({ files: [] }))] }))]),
    "no-manifest.tar": packTar([file("policy.wasm", wasm), file("data.json", "{}")]),
  };
}

async function write(target: string, seeds: Seeds): Promise<void> {
  const dir = corpusDir(target);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(seeds)) await writeFile(join(dir, name), content);
  process.stdout.write(`${target}: ${Object.keys(seeds).length} seeds\n`);
}

await write("admission-review", admissionSeeds());
await write("json-scan", jsonScanSeeds());
await write("rego-value", regoSeeds());
await write("sse", sseSeeds());
await write("a2a-stream", a2aSeeds());
await write("manifests", await manifestSeeds());
await write("bundle-archive", bundleSeeds());
