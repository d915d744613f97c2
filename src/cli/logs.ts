// `agentgate logs RUN [-f]`: a run as it happens and after (README,
// "Following a run"). Everything is read with the caller's own
// credentials: a run they may not read gets the API server's answer.
import * as k8s from "@kubernetes/client-node";
import type { Command } from "commander";
import { Option } from "commander";
import { statusCode } from "../api-errors.ts";
import { describeError } from "../context/cluster-lookup.ts";
import { AGENT_GROUP, AGENT_VERSION, type AgentRun } from "../types/agent.ts";
import { loadKubeConfig } from "./environment.ts";
import type { Io } from "./review.ts";
import { endLine, eventLine, isOver, phaseLine, renderJson, renderText, traceLines, type LogLine } from "./run-log.ts";

export interface LogsOptions {
  kubeconfig?: string;
  namespace?: string;
  follow: boolean;
  output: "text" | "json";
  /** how often a followed run is read again for its phase (default 1 s) */
  pollMs?: number;
}

/** The API server refused: its own words, which say what the caller may not do. */
export class ApiAnswer extends Error {
  override name = "ApiAnswer";
}

function apiAnswer(err: unknown): never {
  const code = statusCode(err);
  if (err instanceof k8s.ApiException && (code === 403 || code === 404 || code === 401)) {
    const text = describeError(err).replace(/^HTTP \d+: /, "");
    throw new ApiAnswer(`Error from server: ${text}`);
  }
  throw err;
}

export async function runLogs(runName: string, opts: LogsOptions, io: Io, stop: AbortSignal = new AbortController().signal): Promise<number> {
  const kc = loadKubeConfig(opts.kubeconfig);
  const namespace = opts.namespace ?? (kc.getContextObject(kc.getCurrentContext())?.namespace || "default");
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const print = (line: LogLine) => { io.out(opts.output === "json" ? renderJson(line) : renderText(line)); };
  const readRun = async (): Promise<AgentRun> => {
    try {
      return (await custom.getNamespacedCustomObject({ group: AGENT_GROUP, version: AGENT_VERSION, namespace, plural: "agentruns", name: runName })) as AgentRun;
    } catch (err) {
      return apiAnswer(err);
    }
  };
  let run = await readRun();
  const uid = run.metadata?.uid ?? "";
  const fieldSelector = `involvedObject.kind=AgentRun,involvedObject.name=${runName}`;
  let listed: k8s.CoreV1EventList;
  try {
    listed = await core.listNamespacedEvent({ namespace, fieldSelector });
  } catch (err) {
    return apiAnswer(err);
  }
  const seen = new Set<string>();
  // Events of an earlier run of the same name are not this run's.
  const ours = (ev: k8s.CoreV1Event) => ev.involvedObject.uid === undefined || ev.involvedObject.uid === uid;
  const lines = listed.items.filter(ours).map((ev) => {
    seen.add(ev.metadata.uid ?? "");
    return eventLine(ev);
  });
  lines.sort((a, b) => a.time.localeCompare(b.time));
  for (const line of lines) print(line);
  const finish = (r: AgentRun) => {
    // Events expire (an hour by default): the signed trace outlives them.
    if (!lines.some((l) => l.reason.startsWith("ToolCall") || l.reason.startsWith("ModelCall"))) for (const line of traceLines(r)) print(line);
    print(endLine(r));
    return 0;
  };
  if (isOver(run)) return finish(run);
  if (!opts.follow) {
    const now = phaseLine(run, new Date().toISOString());
    if (now) print(now);
    return 0;
  }

  // Following: Events as they are written, the phase as it changes.
  let lastPhase = run.status?.phase;
  const watch = new k8s.Watch(kc);
  let watchError: unknown;
  const aborter = await watch.watch(
    `/api/v1/namespaces/${namespace}/events`,
    { fieldSelector, resourceVersion: listed.metadata?.resourceVersion ?? "", allowWatchBookmarks: false },
    (phase: string, ev: k8s.CoreV1Event) => {
      if (phase !== "ADDED" && phase !== "MODIFIED") return;
      if (!ours(ev) || seen.has(ev.metadata.uid ?? "")) return;
      seen.add(ev.metadata.uid ?? "");
      const line = eventLine(ev);
      lines.push(line);
      print(line);
    },
    (err: unknown) => { if (err) watchError = err; },
  );
  try {
    while (!stop.aborted) {
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
      if (watchError !== undefined) return apiAnswer(watchError);
      run = await readRun();
      if (run.status?.phase !== lastPhase) {
        lastPhase = run.status?.phase;
        const line = phaseLine(run, new Date().toISOString());
        if (line && !isOver(run)) print(line);
      }
      if (isOver(run)) {
        // the outcome's own Events are written just after the status
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
        return finish(run);
      }
    }
    return 0;
  } finally {
    aborter.abort();
  }
}

export function registerLogsCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("logs <run>")
    .description("what an AgentRun did: its phases, progress, approvals it waits for and every call through the run-time gateway; with -f, as it happens")
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, then ~/.kube/config)")
    .option("-n, --namespace <ns>", "the run's namespace (default: the kubeconfig context's)")
    .option("-f, --follow", "keep printing until the run ends", false)
    .addOption(new Option("-o, --output <format>", "text, or json: one JSON object per line").choices(["text", "json"]).default("text"))
    .action(async (run: string, opts: LogsOptions) => {
      const stop = new AbortController();
      const onSignal = () => { stop.abort(); };
      process.once("SIGINT", onSignal);
      try {
        setExit(await runLogs(run, opts, io, stop.signal));
      } catch (err) {
        if (!(err instanceof ApiAnswer)) throw err;
        io.err(err.message);
        setExit(1);
      } finally {
        process.off("SIGINT", onSignal);
      }
    });
}
