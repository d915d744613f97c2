// A Server-Sent Events parser after the WHATWG event-stream grammar. Network
// chunks split anywhere: inside a field, between CR and LF, inside a UTF-8
// sequence; the parser keeps state across pushes so none of that shows.
import { AgentgateError } from "../errors.ts";

export interface SseEvent {
  /** `event:` field; "message" when absent */
  event: string;
  /** `data:` lines joined with "\n" */
  data: string;
  id?: string;
}

/** A stream whose event (or line) outgrew what its reader holds: refused rather than buffered without end. */
export class SseLimitError extends AgentgateError {
  readonly limit: number;
  constructor(limit: number, held: number) {
    super("input", `server-sent event over the limit of ${limit} characters (${held} held without a blank line ending the event)`);
    this.name = "SseLimitError";
    this.limit = limit;
  }
}

export interface SseParserOptions {
  /**
   * Characters one event may hold (its data lines and the line not yet
   * ended) before the stream is refused with SseLimitError; unbounded by
   * default, for callers that already hold the whole body.
   */
  maxEventChars?: number;
}

/** What readSse lets one event hold: far above any A2A event, far below what would exhaust the controller. */
export const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

export class SseParser {
  /** the line not yet ended, in the pieces it arrived in: joined once, when its end comes (appending would copy it on every chunk) */
  private partial: string[] = [];
  private partialChars = 0;
  /** the previous chunk ended in CR: a leading LF of the next one belongs to it */
  private pendingCR = false;
  private started = false;
  private dataLines: string[] = [];
  private dataChars = 0;
  private hasData = false;
  private eventType = "";
  private lastId: string | undefined;
  private readonly maxEventChars: number;

  constructor(opts: SseParserOptions = {}) {
    this.maxEventChars = opts.maxEventChars ?? Infinity;
  }

  /** Characters held for the event being read: its data lines and the line not yet ended. */
  get held(): number {
    return this.dataChars + this.partialChars;
  }

  push(chunk: string): SseEvent[] {
    // An empty chunk (a decoder holding half a character) must not forget a pending CR.
    if (chunk === "") return [];
    let text = chunk;
    if (!this.started) {
      this.started = true;
      if (text.startsWith("\uFEFF")) text = text.slice(1);
    }
    if (this.pendingCR && text.startsWith("\n")) text = text.slice(1);
    this.pendingCR = false;
    const events: SseEvent[] = [];
    let start = 0;
    // Only the new text is scanned: what is held has no line end in it.
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      let line = text.slice(start, i);
      if (this.partial.length > 0) {
        line = this.partial.join("") + line;
        this.partial = [];
        this.partialChars = 0;
      }
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) events.push(ev);
    }
    if (start < text.length) {
      this.partial.push(text.slice(start));
      this.partialChars += text.length - start;
    }
    if (this.held > this.maxEventChars) throw new SseLimitError(this.maxEventChars, this.held);
    return events;
  }

  /** End of stream: an event not terminated by a blank line is discarded, as the standard says. */
  end(): SseEvent[] {
    this.partial = [];
    this.partialChars = 0;
    this.dataLines = [];
    this.dataChars = 0;
    this.hasData = false;
    this.eventType = "";
    return [];
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.dataLines.push(value);
        this.dataChars += value.length + 1;
        this.hasData = true;
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      default:
        // `retry` and unknown fields do not matter to a client that never reconnects by itself
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const hadData = this.hasData;
    const ev: SseEvent = { event: this.eventType || "message", data: this.dataLines.join("\n") };
    if (this.lastId !== undefined) ev.id = this.lastId;
    this.dataLines = [];
    this.dataChars = 0;
    this.hasData = false;
    this.eventType = "";
    return hadData ? ev : undefined;
  }
}

/**
 * Events of a response body, decoded as UTF-8 across chunk boundaries. The
 * body comes from another party: an event over maxEventChars (default
 * DEFAULT_MAX_EVENT_CHARS) ends the stream with SseLimitError.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, opts: SseParserOptions = {}): AsyncGenerator<SseEvent> {
  const parser = new SseParser({ maxEventChars: opts.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS });
  const decoder = new TextDecoder("utf-8");
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    // Leaving early (the consumer stopped) must release the connection.
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
