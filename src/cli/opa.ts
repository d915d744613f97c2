// Finding and running the opa binary for authoring commands (never at
// admission time: the gateway only evaluates wasm).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { InputError } from "../errors.ts";

const BUILT = fileURLToPath(new URL("../../.tools/bin/opa", import.meta.url));

export function findOpa(): string {
  const fromEnv = process.env.AGENTGATE_OPA;
  if (fromEnv) return fromEnv;
  if (existsSync(BUILT)) return BUILT;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(`${dir}/opa`)) return `${dir}/opa`;
  }
  throw new InputError("opa not found: install it on PATH, set AGENTGATE_OPA, or run tools/install.sh");
}

/**
 * What opa said when it failed, in one line. `-f json` puts its errors on
 * stdout as {"errors": [{message, code, location}]}: each becomes
 * "file:row: code: message", not eight lines of pretty-printed JSON.
 */
function opaFailure(output: string): string {
  try {
    const parsed = JSON.parse(output) as { errors?: { message?: unknown; code?: unknown; location?: { file?: unknown; row?: unknown } }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return parsed.errors
        .map((e) => {
          const at = typeof e.location?.file === "string" ? `${e.location.file}${typeof e.location.row === "number" ? `:${String(e.location.row)}` : ""}: ` : "";
          return `${at}${typeof e.code === "string" ? `${e.code}: ` : ""}${typeof e.message === "string" ? e.message : ""}`;
        })
        .join("; ");
    }
  } catch {
    // not JSON: opa's text output
  }
  return output.trim().split("\n").slice(0, 8).join(" | ");
}

export function runOpa(args: string[], opts: { input?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  const opa = findOpa();
  return new Promise((resolve, reject) => {
    const child = execFile(opa, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new InputError(`opa ${args[0] ?? ""} failed: ${opaFailure(stderr || stdout || err.message)}`));
      else resolve({ stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
