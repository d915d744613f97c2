// `agentgate logs RUN [-f]`: a run as it happens and after (README,
// "Following a run"). Everything is read with the caller's own
// credentials: a run they may not read gets the API server's answer.
// Its flags are registered in logs-command.ts.
import * as k8s from "@kubernetes/client-node";
import { describeError, statusCode } from "../kube/errors.ts";
import type { AgentRun } from "../types/agent.ts";
import { gvrOf, RESOURCES } from "../kube/resources.ts";
import { loadKubeConfig } from "./client-node-config.ts";
import type { Io } from "./review.ts";
import { endLine, eventLine, isOver, phaseLine, renderJson, renderText, traceLines, unannouncedPhase, type LogLine } from "./run-log.ts";
import { A2AClient, kagentAgentUrl } from "../controller/a2a/client.ts";
import { tokenFromFile } from "../controller/a2a/token.ts";
import { TERMINAL_STATES } from "../controller/a2a/types.ts";
import { Transcript } from "./transcript.ts";
import { AgentgateError } from "../errors.ts";

export interface LogsOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  follow: boolean;
  output: "text" | "json";
  /** how often a followed run is read again for its phase (default 1 s) */
  pollMs?: number;
  /** kagent's controller (as the agentgate controller's --kagent-url): the agent's own transcript is read from its task there */
  kagentUrl?: string;
  /** a bearer token for kagent's trusted-proxy auth */
  kagentTokenFile?: string;
}

const now = () => new Date().toISOString();

/**
 * Follows the run's kagent task until it ends or `stop` aborts: its event
 * stream (tasks/resubscribe), again after each pause (the stream ends when
 * the task waits for a human), or by reading the task every second where
 * kagent will not stream it.
 */
async function followTask(client: A2AClient, taskId: string, transcript: Transcript, print: (l: LogLine) => void, stop: AbortSignal, pollMs: number): Promise<void> {
  // a function: the signal changes behind the type checker's back
  const stopped = (): boolean => stop.aborted;
  let streaming = true;
  while (!stop.aborted) {
    if (streaming) {
      try {
        for await (const ev of client.resubscribe(taskId, { signal: stop })) for (const l of transcript.observe(ev, now())) print(l);
      } catch {
        if (stopped()) return;
        streaming = false;
      }
    }
    try {
      const task = await client.getTask(taskId, undefined, stop);
      for (const l of transcript.observe(task, now())) print(l);
      if (TERMINAL_STATES.has(task.status.state)) return;
    } catch {
      if (stopped()) return;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The API server refused: its own words, which say what the caller may not do. */
export class ApiAnswer extends AgentgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, options);
  }
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
  const kc = loadKubeConfig(opts);
  const namespace = opts.namespace ?? (kc.getContextObject(kc.getCurrentContext())?.namespace || "default");
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const print = (line: LogLine) => { io.out(opts.output === "json" ? renderJson(line) : renderText(line)); };
  const readRun = async (): Promise<AgentRun> => {
    try {
      return (await custom.getNamespacedCustomObject({ ...gvrOf(RESOURCES.agentRuns), namespace, name: runName })) as AgentRun;
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
  // Events of an earlier run of the same name, or naming no run, are not this run's.
  const ours = (ev: k8s.CoreV1Event) => ev.involvedObject.uid === uid;
  // Anyone who may write Events in the namespace may write one that looks
  // like a call: for a run that ended, its calls are read from the signed
  // trace instead (agentgate provenance verify checks the signature).
  const ended = isOver(run);
  const isCall = (l: LogLine) => l.reason.startsWith("ToolCall") || l.reason.startsWith("ModelCall");
  // Event times have whole seconds: within one, the order they were written (resourceVersion) decides.
  const written = (ev: k8s.CoreV1Event) => Number(ev.metadata.resourceVersion ?? 0);
  const events = listed.items.filter(ours).map((ev) => ({ ev, line: eventLine(ev) }));
  events.sort((a, b) => a.line.time.localeCompare(b.line.time) || written(a.ev) - written(b.ev));
  const lines = events.map(({ ev, line }) => {
    seen.add(ev.metadata.uid ?? "");
    return line;
  });
  for (const line of lines) if (!(ended && isCall(line))) print(line);
  const transcript = new Transcript();
  const kagentClient = (r: AgentRun): A2AClient | undefined => {
    if (opts.kagentUrl === undefined) return undefined;
    const agent = r.status?.agentRef?.name ?? `${runName}-agent`;
    return new A2AClient(kagentAgentUrl(opts.kagentUrl, namespace, agent), opts.kagentTokenFile !== undefined ? { bearerToken: tokenFromFile(opts.kagentTokenFile) } : {});
  };
  /** The agent's transcript as kagent's task history holds it now. */
  const readTask = async (r: AgentRun): Promise<void> => {
    const client = kagentClient(r);
    const taskId = r.status?.taskId;
    if (!client || taskId === undefined) return;
    try {
      const task = await client.getTask(taskId, undefined, AbortSignal.timeout(30_000));
      // kagent's history keeps no time per message: they are shown at the task's last change
      for (const l of transcript.observe(task, task.status.timestamp ?? now())) print(l);
    } catch (err) {
      io.err(`kagent: cannot read task ${taskId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const finish = async (r: AgentRun, followed: boolean) => {
    await readTask(r);
    // The calls as the signed trace has them (Events expire, and anyone may write one); a run followed
    // live has shown them as they happened, so only their number is repeated.
    const trace = traceLines(r);
    if (followed) {
      if (trace.length > 0) print({ time: r.status?.completionTime ?? now(), kind: "call", type: "Normal", reason: "SignedTrace", message: `${String(trace.length)} calls in the run's signed provenance (agentgate provenance verify prints them)` });
    } else for (const line of trace) print(line);
    print(endLine(r));
    return 0;
  };
  if (ended) return finish(run, false);
  if (!opts.follow) {
    await readTask(run);
    const phase = phaseLine(run, now());
    if (phase) print(phase);
    return 0;
  }

  // Following: Events as they are written, the phase as it changes.
  let lastPhase = run.status?.phase;
  let pendingPhase: { phase: string; seenAt: string; printed: number } | undefined;
  let linesAtLastPoll = lines.length;
  const watch = new k8s.Watch(kc);
  let watchError: unknown;
  // an object, not a `let`: the watch's callback sets it behind the type checker's back
  const watchState = { ended: false };
  const onEvent = (ev: k8s.CoreV1Event): void => {
    if (!ours(ev) || seen.has(ev.metadata.uid ?? "")) return;
    seen.add(ev.metadata.uid ?? "");
    const line = eventLine(ev);
    lines.push(line);
    print(line);
  };
  const startWatch = (resourceVersion: string) =>
    watch.watch(
      `/api/v1/namespaces/${namespace}/events`,
      { fieldSelector, resourceVersion, allowWatchBookmarks: false },
      (phase: string, ev: k8s.CoreV1Event) => { if (phase === "ADDED" || phase === "MODIFIED") onEvent(ev); },
      (err: unknown) => {
        if (err) watchError = err;
        else watchState.ended = true;
      },
    );
  let aborter = await startWatch(listed.metadata?.resourceVersion ?? "");
  const following = new AbortController();
  const onStop = () => { following.abort(); };
  stop.addEventListener("abort", onStop, { once: true });
  let agentFollower: Promise<void> | undefined;
  try {
    while (!stop.aborted) {
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
      if (watchError !== undefined) return apiAnswer(watchError);
      if (watchState.ended) {
        // The API server ends watches now and then: list what came meanwhile, watch again.
        watchState.ended = false;
        const again = await core.listNamespacedEvent({ namespace, fieldSelector }).catch(apiAnswer);
        for (const ev of again.items) onEvent(ev);
        aborter = await startWatch(again.metadata?.resourceVersion ?? "");
      }
      run = await readRun();
      // The agent's own stream, once kagent has named the run's task.
      const client = agentFollower === undefined && run.status?.taskId !== undefined ? kagentClient(run) : undefined;
      if (client && run.status?.taskId !== undefined) agentFollower = followTask(client, run.status.taskId, transcript, print, following.signal, opts.pollMs ?? 1000);
      // A change seen at the last poll, unless its Event has come since.
      if (pendingPhase) {
        const line = unannouncedPhase(pendingPhase, run, lines.slice(pendingPhase.printed));
        if (line && run.status?.phase === pendingPhase.phase && !isOver(run)) print(line);
        pendingPhase = undefined;
      }
      if (run.status?.phase !== lastPhase) {
        lastPhase = run.status?.phase;
        // Its Event may already have come, since the last poll: the status is written first, but the watch may be quicker than this poll.
        if (lastPhase !== undefined && !isOver(run)) pendingPhase = { phase: lastPhase, seenAt: new Date().toISOString(), printed: linesAtLastPoll };
      }
      linesAtLastPoll = lines.length;
      if (isOver(run)) {
        // the outcome's own Events are written just after the status
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
        following.abort();
        await agentFollower;
        return await finish(run, true);
      }
    }
    return 0;
  } finally {
    following.abort();
    stop.removeEventListener("abort", onStop);
    aborter.abort();
  }
}
