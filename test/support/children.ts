// Child processes a test started (agentgate's processes from the chart's
// arguments, a registry): stopped before the control plane they talk to, and
// waited for, so none outlives its test or logs into the next one.
import type { ChildProcess } from "node:child_process";

/** Sends `signal` to each child still running and resolves once all have exited. */
export async function stopChildren(children: Iterable<ChildProcess>, signal: NodeJS.Signals): Promise<void> {
  for (const child of children) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  }
}
