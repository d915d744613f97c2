// What a kagent task's event stream says about the task, folded as the
// events arrive: its id and context, state, artifacts and a direct reply.
// followTask (run.ts) decides when to stop; this only keeps the view, so
// its reading of A2A events can be followed apart from the stopping logic.
import type { A2AEvent, Artifact, Message, Part, Result, TaskState } from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";
import { metadataValue } from "./usage.ts";

function textOf(parts: Part[]): string {
  return parts
    .filter((p): p is Extract<Part, { kind: "text" }> => p.kind === "text" && metadataValue(p.metadata, "thought") !== true)
    .map((p) => p.text)
    .join("");
}

/** What the events say about the task: id, state, artifacts, a direct reply. */
export class TaskView {
  taskId: string | undefined;
  contextId: string | undefined;
  state: TaskState = "unknown";
  statusMessage: Message | undefined;
  /** a bare Message answer: the agent replied without creating a task */
  reply: Message | undefined;
  readonly artifacts = new Map<string, Artifact>();

  /** Returns the task id when this event revealed it for the first time. */
  observe(ev: A2AEvent): string | undefined {
    const before = this.taskId;
    switch (ev.kind) {
      case "task":
        this.taskId ??= ev.id;
        this.contextId ??= ev.contextId;
        this.setStatus(ev.status.state, ev.status.message);
        for (const a of ev.artifacts ?? []) this.artifacts.set(a.artifactId, a);
        break;
      case "status-update":
        if (ev.taskId) this.taskId ??= ev.taskId;
        if (ev.contextId) this.contextId ??= ev.contextId;
        this.setStatus(ev.status.state, ev.status.message);
        break;
      case "artifact-update": {
        if (ev.taskId) this.taskId ??= ev.taskId;
        const existing = this.artifacts.get(ev.artifact.artifactId);
        this.artifacts.set(ev.artifact.artifactId, ev.append && existing ? { ...existing, parts: [...existing.parts, ...ev.artifact.parts] } : ev.artifact);
        break;
      }
      case "message":
        if (ev.role === "agent") this.reply = ev;
        if (ev.taskId) this.taskId ??= ev.taskId;
        break;
    }
    return before === undefined && this.taskId !== undefined ? this.taskId : undefined;
  }

  private setStatus(state: TaskState, message: Message | undefined): void {
    // A late event must not reopen a finished task.
    if (TERMINAL_STATES.has(this.state)) return;
    this.state = state;
    if (message) this.statusMessage = message;
  }

  get done(): boolean {
    return TERMINAL_STATES.has(this.state) || (this.reply !== undefined && this.state === "unknown");
  }

  get paused(): boolean {
    return INTERRUPTED_STATES.has(this.state);
  }

  /** The tool an `adk_request_confirmation` call in the status message asks a human to approve. */
  get toolAwaitingApproval(): string | undefined {
    for (const p of this.statusMessage?.parts ?? []) {
      if (p.kind !== "data" || p.data.name !== "adk_request_confirmation") continue;
      const args = p.data.args;
      const original = typeof args === "object" && args !== null ? (args as Record<string, unknown>).originalFunctionCall : undefined;
      const name = typeof original === "object" && original !== null ? (original as Record<string, unknown>).name : undefined;
      if (typeof name === "string" && name !== "") return name;
    }
    return undefined;
  }

  get statusText(): string {
    return this.statusMessage ? textOf(this.statusMessage.parts).trim() : "";
  }

  /**
   * Named artifacts become results of that name. The answer is the text of the
   * last unnamed artifact (kagent writes its final answer unnamed), else the
   * direct reply, else the completed status message; it is the result "result".
   */
  results(): Result[] {
    const byName = new Map<string, string>();
    let answer: string | undefined;
    for (const a of this.artifacts.values()) {
      const text = textOf(a.parts);
      if (a.name) byName.set(a.name, text);
      else if (text.trim() !== "") answer = text;
    }
    if (answer === undefined && this.reply) answer = textOf(this.reply.parts);
    if (answer === undefined && this.state === "completed" && this.statusText) answer = this.statusText;
    if (answer !== undefined && !byName.has("result")) byName.set("result", answer);
    return [...byName].map(([name, value]) => ({ name, value }));
  }
}
