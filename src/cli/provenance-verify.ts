// `agentgate provenance verify --key PUBLIC.pem FILE`: exit 0 when a
// signature verifies, 1 when not (one line why), 2 on bad usage.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { KeyError, loadPublicKey, verifyEnvelope } from "../provenance/envelope.ts";
import { isRecord } from "../types/kube.ts";
import type { DsseEnvelope } from "../types/agent.ts";
import { InputError, parseManifests, readText } from "./manifests.ts";
import type { Io } from "./review.ts";

function asEnvelope(value: unknown): DsseEnvelope | undefined {
  if (!isRecord(value) || typeof value.payload !== "string" || typeof value.payloadType !== "string" || !Array.isArray(value.signatures)) return undefined;
  return value as unknown as DsseEnvelope;
}

export function findEnvelope(text: string, file: string): DsseEnvelope {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = parseManifests(text, file)[0]?.object;
  }
  const direct = asEnvelope(value);
  if (direct) return direct;
  const status = isRecord(value) && isRecord(value.status) ? value.status : undefined;
  const nested = asEnvelope(status?.provenance);
  if (nested) return nested;
  throw new InputError(`${file}: neither a DSSE envelope nor an AgentRun with status.provenance`);
}

export function registerProvenanceCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const provenance = program.command("provenance").description("check the signed provenance of agent runs");
  provenance
    .command("verify <file>")
    .description("verify a DSSE envelope, or an AgentRun's status.provenance, against a public key (- reads stdin)")
    .requiredOption("--key <public.pem>", "PEM public key (ECDSA P-256)")
    .action(async (file: string, opts: { key: string }) => {
      let keyPem: string;
      try {
        keyPem = await readFile(opts.key, "utf8");
      } catch (err) {
        throw new InputError(`${opts.key}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      let key;
      try {
        key = loadPublicKey(keyPem, opts.key);
      } catch (err) {
        throw new InputError(err instanceof KeyError ? err.message : String(err));
      }
      const envelope = findEnvelope(await readText(file), file);
      const result = verifyEnvelope(envelope, key);
      if (!result.ok) {
        io.err(`verification failed: ${result.reason}`);
        setExit(1);
        return;
      }
      io.out(`verified (keyid ${result.keyid}): predicateType ${result.statement.predicateType ?? "?"}; subjects: ${(result.statement.subject ?? []).map((s) => s.name).join(", ")}`);
      setExit(0);
    });
}
