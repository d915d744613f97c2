// The commands a user would type, run for real and shown as typed: the
// built kubectl (.tools/bin) and agentgate's own CLI (bin/agentgate.js), as
// one of the demo's identities (a kubeconfig with that user's client
// certificate). Paths are shown relative to the repository, where the demo
// runs them from.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { toolPath } from "../test/support/control-plane.ts";
import type { Cleanup } from "./cleanup.ts";
import { command, output } from "./output.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const AGENTGATE = fileURLToPath(new URL("../bin/agentgate.js", import.meta.url));

export interface Identity {
  /** the prompt's name: "dana", "alex", "admin" */
  name: string;
  kubeconfig: string;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export class Commands {
  private readonly cleanup: Cleanup;
  private readonly kubectlCache: string;

  constructor(cleanup: Cleanup, kubectlCache: string) {
    this.cleanup = cleanup;
    this.kubectlCache = kubectlCache;
  }

  /** Runs a program to its end, output collected; stdin optional. */
  private run(file: string, args: string[], env: Record<string, string>, stdin?: string): Promise<Result> {
    return new Promise((resolve, reject) => {
      const child = this.cleanup.child(spawn(file, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] }));
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.on("error", () => undefined);
      child.stdin.end(stdin ?? "");
    });
  }

  /** A command shown without being run here (the demo ran its parts itself, e.g. a redirect). */
  echo(who: Identity, line: string): void {
    command(who.name, line);
  }

  /** kubectl as `who`, shown as typed (`shown` replaces the arguments in the echo, e.g. for a redirect), output printed beneath. */
  async kubectl(who: Identity, args: string[], opts: { quiet?: boolean; shown?: string } = {}): Promise<Result> {
    if (!opts.quiet) command(who.name, `kubectl ${opts.shown ?? args.join(" ")}`);
    const r = await this.run(toolPath("kubectl"), ["--kubeconfig", who.kubeconfig, "--cache-dir", this.kubectlCache, ...args], {});
    if (!opts.quiet) output(`${r.stdout}${r.stderr}`);
    return r;
  }

  /** agentgate's CLI as `who` (KUBECONFIG), shown as `npx agentgate …`. */
  async agentgate(who: Identity, args: string[], opts: { shown?: string } = {}): Promise<Result> {
    command(who.name, `npx agentgate ${opts.shown ?? args.join(" ")}`);
    const r = await this.run(process.execPath, [AGENTGATE, ...args], { KUBECONFIG: who.kubeconfig });
    output(`${r.stdout}${r.stderr}`);
    return r;
  }

  /**
   * agentgate's CLI as `who`, its lines printed as they come (a command that
   * follows something, `logs -f`); resolves with its exit status and lines.
   */
  stream(who: Identity, args: string[], shown: string, onFirstLine?: () => void): Promise<{ code: number; lines: string[] }> {
    command(who.name, `npx agentgate ${shown}`);
    const child = this.cleanup.child(spawn(process.execPath, [AGENTGATE, ...args], { cwd: ROOT, env: { ...process.env, KUBECONFIG: who.kubeconfig }, stdio: ["ignore", "pipe", "pipe"] }));
    const lines: string[] = [];
    const each = (l: string): void => {
      lines.push(l);
      output(l);
      if (lines.length === 1) onFirstLine?.();
    };
    createInterface({ input: child.stdout }).on("line", each);
    createInterface({ input: child.stderr }).on("line", each);
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? 1, lines }));
    });
  }
}
