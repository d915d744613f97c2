// A Server-Sent Events parser after the WHATWG event-stream grammar. Network
// chunks split anywhere: inside a field, between CR and LF, inside a UTF-8
// sequence; the parser keeps state across pushes so none of that shows.

export interface SseEvent {
  /** `event:` field; "message" when absent */
  event: string;
  /** `data:` lines joined with "\n" */
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = "";
  /** the previous chunk ended in CR: a leading LF of the next one belongs to it */
  private pendingCR = false;
  private started = false;
  private dataLines: string[] = [];
  private hasData = false;
  private eventType = "";
  private lastId: string | undefined;

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
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 < this.buffer.length) {
          if (this.buffer.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) events.push(ev);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** End of stream: an event not terminated by a blank line is discarded, as the standard says. */
  end(): SseEvent[] {
    this.buffer = "";
    this.dataLines = [];
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
    this.hasData = false;
    this.eventType = "";
    return hadData ? ev : undefined;
  }
}

/** Events of a response body, decoded as UTF-8 across chunk boundaries. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
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
