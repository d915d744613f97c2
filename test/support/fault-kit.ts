// Helpers shared by the fault-injection tests (test/e2e/faults-*.test.ts):
// the process's log lines as data, and a stand-in for kagent's controller
// that marks Agents Ready.
import { Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import winston from "winston";
import type { Logger } from "../../src/log.ts";

/** One JSON log line of the shared logger. */
export interface LogEntry {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface CapturedLogs {
  readonly entries: LogEntry[];
  /** entries with this message whose fields include `fields` */
  find(message: string | RegExp, fields?: Record<string, unknown>): LogEntry[];
  stop(): void;
}

/**
 * Records every line the logger emits at `level` or above (the in-process
 * gateway, controller and audit log through it) instead of printing it: a
 * fault test provokes errors on purpose and counts what the processes said,
 * e.g. one "run finished" per run however often the API server went away.
 */
export function captureLogs(logger: Logger, level = "debug"): CapturedLogs {
  const entries: LogEntry[] = [];
  const quieted = logger.transports.filter((t) => t.silent !== true);
  for (const t of quieted) t.silent = true;
  const levelBefore = logger.level;
  logger.level = level;
  const sink = new winston.transports.Stream({
    level,
    stream: new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (line.trim() === "") continue;
          try {
            const parsed: unknown = JSON.parse(line);
            if (typeof parsed === "object" && parsed !== null && "message" in parsed) entries.push(parsed as LogEntry);
          } catch {
            // a line that is not JSON is no log entry of ours
          }
        }
        done();
      },
    }),
  });
  logger.add(sink);
  const matches = (e: LogEntry, message: string | RegExp, fields: Record<string, unknown>): boolean =>
    (typeof message === "string" ? e.message === message : message.test(e.message)) && Object.entries(fields).every(([k, v]) => e[k] === v);
  return {
    entries,
    find: (message, fields = {}) => entries.filter((e) => matches(e, message, fields)),
    stop: () => {
      logger.remove(sink);
      for (const t of quieted) t.silent = false;
      logger.level = levelBefore;
    },
  };
}

/**
 * Plays kagent's controller for the Agents in `namespace`: each becomes
 * Ready once it exists. Survives the API server going away (a fault test's
 * point); stop() ends the loop.
 */
export function playKagentController(kc: k8s.KubeConfig, namespace: string): { stop(): Promise<void> } {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  let playing = true;
  const loop = (async () => {
    while (playing) {
      try {
        const agents = (await custom.listNamespacedCustomObject({ group: "kagent.dev", version: "v1alpha2", namespace, plural: "agents" })) as { items: { metadata: { name: string }; status?: { conditions?: unknown[] } }[] };
        for (const a of agents.items) {
          if (a.status?.conditions?.length) continue;
          await custom.patchNamespacedCustomObjectStatus(
            { group: "kagent.dev", version: "v1alpha2", namespace, plural: "agents", name: a.metadata.name, body: { status: { conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: new Date().toISOString() }] } } },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
          );
        }
      } catch {
        // the API server is away (the fault under test) or the Agent went meanwhile
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    stop: async () => {
      playing = false;
      await loop;
    },
  };
}
