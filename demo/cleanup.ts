// Whatever ends the demo (its last step, a failed one, an error, Ctrl-C or
// SIGTERM), nothing it started outlives it: its child processes, the
// servers in its own process, the control plane and its temporary
// directories. The orderly path (run) awaits each stop in reverse order; a
// signal gets the synchronous path (now), because the control plane's own
// signal handler exits the process right after ours
// (test/support/control-plane.ts).
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

export class Cleanup {
  private readonly stops: { what: string; stop: () => Promise<void> }[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly dirs: string[] = [];
  private done = false;

  /** True once the demo is stopping what it started: an exit then is expected. */
  get stopping(): boolean {
    return this.done;
  }

  /** Stopped in reverse order of registration by run(). */
  onStop(what: string, stop: () => Promise<void>): void {
    this.stops.push({ what, stop });
  }

  /** A child process: SIGTERM on the way out (run() waits for it). */
  child<C extends ChildProcess>(c: C): C {
    this.children.add(c);
    c.once("exit", () => this.children.delete(c));
    return c;
  }

  /** A directory removed last. */
  dir(path: string): string {
    this.dirs.push(path);
    return path;
  }

  /** The orderly path; returns what could not be stopped. */
  async run(): Promise<string[]> {
    if (this.done) return [];
    this.done = true;
    const problems: string[] = [];
    for (const c of this.children) c.kill("SIGTERM");
    await Promise.all([...this.children].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once("exit", r)))));
    for (const { what, stop } of [...this.stops].reverse()) {
      try {
        await stop();
      } catch (err) {
        problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    return problems;
  }

  /** The synchronous path, for a signal or the process's exit. */
  now(): void {
    if (this.done) return;
    this.done = true;
    for (const c of this.children) c.kill("SIGKILL");
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
