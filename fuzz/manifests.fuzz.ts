// The manifests `agentgate review -f` reads (multi-document YAML or JSON,
// Lists flattened), read from a file as review reads them, then each object
// admitted as review admits it: the mutating pass, its patch, the validating
// pass, against the real default bundle.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { readManifests } from "../src/cli/manifests.ts";
import { InputError } from "../src/errors.ts";
import { findResource } from "../src/kube/resources.ts";
import { admitLikeApiServer } from "../src/gateway/review.ts";
import type { StaticLookup } from "../src/context/static-lookup.ts";
import { requestFromManifest } from "../src/wire/from-manifest.ts";
import { REVIEW_DICTIONARY } from "./admission-seeds.ts";
import { PropertyViolation, gist, mutateJsonText, type FuzzTarget, type Rng } from "./engine.ts";
import { createHarness, deliberateRefusal } from "./gateway-harness.ts";

const MAX_LENGTH = 8 * 1024;

/** Objects admitted per input at most: each costs both webhook passes. */
const MAX_OBJECTS = 4;

export const YAML_DICTIONARY = [
  "---\n",
  "...\n",
  "--- |\n",
  "&a ",
  "*a",
  "<<: *a\n",
  "!!binary ",
  "!!str ",
  "!!int ",
  "!!map ",
  "!!set ",
  "!!omap ",
  "!custom ",
  "%YAML 1.1\n",
  "%TAG ! tag:x,2000:\n",
  "? ",
  "- ",
  ": ",
  "|\n  ",
  ">-\n  ",
  "kind: List\n",
  "kind: AgentRunList\n",
  "items:\n",
  "apiVersion: v1\n",
  "apiVersion: agent.tekton.dev/v1alpha1\n",
  "kind: AgentRun\n",
  "metadata:\n  name: x\n",
  "  namespace: qe\n",
  "0x1F",
  "0o17",
  "1e1000",
  ".inf",
  ".nan",
  "~",
  "yes",
  "no",
  "null",
  "2001-12-14t21:59:43.10-05:00",
  '"\\u0000"',
  "\t",
  "#",
  "{",
  "}",
  "[",
  "]",
  ",",
];

const WORDS = [...REVIEW_DICTIONARY, "List", "items"];

/** One document's tree changed, the stream written back as YAML (or, at times, JSON). */
function mutateDocuments(input: Buffer, rng: Rng): Buffer | undefined {
  let values: unknown[];
  try {
    const parsed = parseAllDocuments(input.toString("utf8"));
    const docs = Array.isArray(parsed) ? parsed : [parsed];
    // A document with errors is one readManifests refused before toJS: expanding its aliases here can take minutes.
    if (docs.some((d) => d.errors.length > 0)) return undefined;
    values = docs.map((d) => d.toJS({ maxAliasCount: 20 }) as unknown);
  } catch {
    return undefined;
  }
  if (values.length === 0) return undefined;
  const i = rng.int(values.length);
  const json = JSON.stringify(values[i] ?? null);
  // Aliases expand in toJS: a small document can stand for a large tree, too slow to mutate and write back.
  if (json.length > MAX_LENGTH) return undefined;
  const text = mutateJsonText(json, rng, WORDS, MAX_LENGTH);
  if (text === undefined) return undefined;
  values[i] = JSON.parse(text) as unknown;
  if (rng.chance(0.15)) return Buffer.from(values.map((v) => JSON.stringify(v, null, 2)).join("\n"));
  return Buffer.from(values.map((v) => stringify(v)).join("---\n"));
}

export async function create(): Promise<FuzzTarget> {
  const harness = await createHarness();
  const dir = join(tmpdir(), `agentgate-fuzz-manifests-${process.pid}-${String(process.hrtime.bigint())}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "manifests.yaml");
  return {
    name: "manifests",
    property:
      "a manifest file reads as Kubernetes objects (string apiVersion and kind, Lists flattened) or is refused with InputError naming the file; each object is then admitted as review admits it, refused by a deliberate error at worst (never a TypeError or the like), and never allowed when policy evaluation failed",
    maxLength: MAX_LENGTH,
    dictionary: [...YAML_DICTIONARY, ...WORDS.map((w) => `${w}: `)],
    structureRate: 0.85,
    mutate: mutateDocuments,
    async run(input: Buffer): Promise<string> {
      writeFileSync(file, input);
      let manifests;
      try {
        manifests = await readManifests([file]);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        if (!err.message.startsWith(`${file}: `)) throw new PropertyViolation(`an InputError that does not name the file: ${err.message}`);
        return `refused ${gist(err.message.slice(file.length + 2).replace(/^document \d+( \(line \d+\))?/, "document"))}`;
      }
      const labels: string[] = [];
      const { deps, fired } = harness.depsFor(input);
      const user = { username: "alice", groups: ["developers", "system:authenticated"] };
      for (const m of manifests.slice(0, MAX_OBJECTS)) {
        if (typeof m.object.apiVersion !== "string" || typeof m.object.kind !== "string") throw new PropertyViolation("a manifest without string apiVersion and kind");
        const request = requestFromManifest(m.object, { operation: "CREATE", user, oldObject: m.object });
        const failedBefore = fired();
        let outcome;
        try {
          outcome = await admitLikeApiServer(request, deps);
        } catch (err) {
          // review stops there, exit 2 with the message: a refusal, if one the code meant
          const refusal = deliberateRefusal(err);
          if (refusal === undefined) throw err;
          labels.push(`refused ${refusal}`);
          break;
        }
        const { result, object } = outcome;
        if (typeof result.allowed !== "boolean") throw new PropertyViolation("a review result without allowed");
        if (fired() > failedBefore && result.allowed && findResource(request.resource)) throw new PropertyViolation(`policy evaluation failed and review admitted ${m.object.kind}`);
        // As review does: what was admitted is context for the documents after it.
        if (result.allowed && object) (deps.lookup as StaticLookup).add(object);
        labels.push(`${findResource(request.resource)?.kind ?? "other"}:${result.allowed ? "allow" : "deny"}`);
      }
      return `${manifests.length > MAX_OBJECTS ? "many" : manifests.length} ${labels.join(",")}`;
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
