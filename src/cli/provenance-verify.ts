// `agentgate provenance verify --key PUBLIC.pem FILE`: exit 0 when a
// signature verifies, 1 when not (one line why), 2 on bad usage. Its flags
// are registered in provenance-command.ts.
import { readFile } from "node:fs/promises";
import { loadPublicKey, verifyEnvelope } from "../provenance/envelope.ts";
import { KeyMaterialError } from "../signing/keys.ts";
import { isRecord } from "../types/kube.ts";
import type { DsseEnvelope } from "../types/agent.ts";
import { describeFileError } from "../file-errors.ts";
import { kindOfValue, parseDocuments, readText } from "./manifests.ts";
import { InputError } from "../errors.ts";
import type { Io } from "./review.ts";
import { renderText, statementTrace } from "./run-log.ts";

function asEnvelope(value: unknown): DsseEnvelope | undefined {
  if (!isRecord(value) || typeof value.payload !== "string" || typeof value.payloadType !== "string" || !Array.isArray(value.signatures)) return undefined;
  return value as unknown as DsseEnvelope;
}

const ENVELOPE_FIELDS = "payloadType and payload (strings) and signatures (a list)";

/** The DSSE envelope FILE holds, itself or as an AgentRun's status.provenance; otherwise one line saying what FILE holds instead. */
export function findEnvelope(text: string, file: string): DsseEnvelope {
  let value: unknown;
  let where = file;
  try {
    value = JSON.parse(text);
  } catch {
    const [first] = parseDocuments(text, file);
    value = first?.value;
    if (first) where = first.where;
  }
  const wanted = "expected a DSSE envelope or an AgentRun with status.provenance";
  if (value === undefined || value === null) throw new InputError(`${file}: is empty; ${wanted}`);
  if (!isRecord(value)) throw new InputError(`${where} is ${kindOfValue(value)}; ${wanted}`);
  const direct = asEnvelope(value);
  if (direct) return direct;
  if (typeof value.kind === "string") {
    const metadata = isRecord(value.metadata) ? value.metadata : {};
    const name = typeof metadata.name === "string" ? ` ${JSON.stringify(metadata.name)}` : "";
    if (value.kind !== "AgentRun") throw new InputError(`${where} is a ${value.kind}${name}; ${wanted}`);
    const status = isRecord(value.status) ? value.status : undefined;
    if (status?.provenance === undefined) throw new InputError(`${where}: AgentRun${name} has no status.provenance (not finished yet, or recorded before provenance was)`);
    const nested = asEnvelope(status.provenance);
    if (nested) return nested;
    throw new InputError(`${where}: AgentRun${name} status.provenance is not a DSSE envelope: it needs ${ENVELOPE_FIELDS}`);
  }
  if ("payload" in value || "signatures" in value || "payloadType" in value) throw new InputError(`${where} is not a DSSE envelope: it needs ${ENVELOPE_FIELDS}`);
  throw new InputError(`${where} has no kind and no payload; ${wanted}`);
}

/** `provenance verify FILE --key PEM`: 0 verified, 1 not (one line why). */
export async function runProvenanceVerify(file: string, opts: { key: string }, io: Io): Promise<number> {
  let keyPem: string;
  try {
    keyPem = await readFile(opts.key, "utf8");
  } catch (err) {
    throw new InputError(`--key ${opts.key}: cannot read: ${describeFileError(err)}`);
  }
  let key;
  try {
    key = loadPublicKey(keyPem, `--key ${opts.key}`);
  } catch (err) {
    throw new InputError(err instanceof KeyMaterialError ? err.message : String(err));
  }
  const envelope = findEnvelope(await readText(file), file);
  const result = verifyEnvelope(envelope, key);
  if (!result.ok) {
    io.err(`verification failed: ${result.reason}`);
    return 1;
  }
  io.out(`verified (keyid ${result.keyid}): predicateType ${result.statement.predicateType ?? "?"}; subjects: ${(result.statement.subject ?? []).map((s) => s.name).join(", ")}`);
  // What the signature covers of the run's calls, when it went through the run-time gateway.
  const trace = statementTrace(result.statement);
  if (trace) {
    const r = trace.record;
    io.out(`trace: ${String(r.calls)} calls through agentgate's run-time gateway${r.untraced > 0 ? ` (${String(r.untraced)} after the first ${String(r.trace.length)} counted, not kept)` : ""}; ${String(r.used)} of ${String(r.budget)} tokens used`);
    for (const line of trace.lines) io.out(renderText(line));
  }
  return 0;
}
