// agentgate as the soak runs it: the real executable (bin/agentgate.js), one
// process per gateway or controller replica, each logging to a file of its
// own. The soak kills some on purpose (the controller's leader); an exit it
// did not ask for is reported to it.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const BIN = fileURLToPath(new URL("../../bin/agentgate.js", import.meta.url));

export interface AgentgateProcess {
  /** what it is to the soak, e.g. "gateway", "controller#3" */
  name: string;
  pid: number;
  log: string;
  /** ms since the epoch */
  startedAt: number;
  /** resolves when it has exited, with how */
  exited: Promise<string>;
  /** true once the soak killed it (its exit is then expected) */
  readonly killed: boolean;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it is gone */
  stop(graceMs?: number): Promise<void>;
  /** the last lines of its log */
  tail(lines?: number): string;
}

/**
 * V8 sizes its young generation from the memory it sees. In the chart's pods
 * (limits.memory 512Mi) it stops at ~25 MB (measured in a 512 MiB memory
 * cgroup); on a machine without a limit, such as this 24 GB one, it grows to
 * 128 MB over the first ~25 minutes of steady load: ~100 MB of RSS a
 * deployed process never has, which a soak would report as growth (a
 * 30-minute soak did: the gateway 221 → 305 MB while its heap in use stayed
 * at 55-80 MB). The soak's agentgate processes get a young generation near
 * the pod's: 8 MB semi-spaces cap it at ~33 MB.
 */
export const AS_DEPLOYED: readonly string[] = ["--max-semi-space-size=8"];

/**
 * The gateway as the chart deploys it: its container's NODE_OPTIONS and
 * MALLOC_ARENA_MAX, read from the chart's values.yaml (gateway.nodeOptions,
 * gateway.mallocArenaMax), so a benchmark measures the settings a cluster
 * runs rather than a copy of them.
 */
export function gatewayAsDeployed(): { flags: string[]; env: Record<string, string> } {
  const values = parse(readFileSync(fileURLToPath(new URL("../../charts/agentgate/values.yaml", import.meta.url)), "utf8")) as { gateway?: { nodeOptions?: unknown; mallocArenaMax?: unknown } };
  const { nodeOptions, mallocArenaMax } = values.gateway ?? {};
  return {
    flags: typeof nodeOptions === "string" ? nodeOptions.split(/\s+/).filter(Boolean) : [],
    env: typeof mallocArenaMax === "number" ? { MALLOC_ARENA_MAX: String(mallocArenaMax) } : {},
  };
}

export function spawnAgentgate(name: string, args: string[], logDir: string, onUnexpectedExit: (p: AgentgateProcess, how: string) => void): AgentgateProcess {
  const log = join(logDir, `${name.replace(/[^\w.-]/g, "_")}.log`);
  const fd = openSync(log, "a");
  let child: ChildProcess;
  try {
    const gateway = name.startsWith("gateway") ? gatewayAsDeployed() : undefined;
    child = spawn(process.execPath, [...(gateway?.flags ?? AS_DEPLOYED), BIN, ...args], { stdio: ["ignore", fd, fd], env: { ...process.env, ...gateway?.env } });
  } finally {
    closeSync(fd);
  }
  let killed = false;
  let stopping = false;
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => { resolve(signal !== null ? `signal ${signal}` : `exit code ${String(code)}`); });
  });
  const p: AgentgateProcess = {
    name,
    pid: child.pid ?? 0,
    log,
    startedAt: Date.now(),
    exited,
    get killed() {
      return killed || stopping;
    },
    kill(signal) {
      killed = true;
      child.kill(signal);
    },
    async stop(graceMs = 10_000) {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    tail(lines = 20) {
      try {
        return readFileSync(log, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
  };
  void exited.then((how) => {
    if (!p.killed) onUnexpectedExit(p, how);
  });
  return p;
}
