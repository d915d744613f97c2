// The Server-Sent Events reader every agentgate stream goes through (the
// controller's A2A streams, the run gateway's model and MCP relays). The
// input is the bytes of a response body; how the network splits them is a
// function of the input too, so a reproducer alone reproduces it.
import { isDeepStrictEqual } from "node:util";
import { SseLimitError, SseParser, readSse, type SseEvent } from "../src/streams/sse.ts";
import { seededRandom } from "../test/support/seeded-random.ts";
import { PropertyViolation, type FuzzTarget } from "./engine.ts";
import { faultOf } from "./gateway-harness.ts";

/** The limit the fuzzed parser runs with: small, so inputs of a few KB reach it. */
const LIMIT = 2048;

/** The WHATWG event-stream algorithm over a whole text, as plainly as it reads: the reference the streaming parser is held to. */
export function referenceEvents(text: string): { events: SseEvent[]; peak: number } {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = body.split(/\r\n|\r|\n/);
  // The last piece has no line end: it is never processed (nor dispatched).
  const unterminated = lines.pop() ?? "";
  const events: SseEvent[] = [];
  let data: string[] = [];
  let type = "";
  let lastId: string | undefined;
  let peak = 0;
  let held = 0;
  for (const line of lines) {
    peak = Math.max(peak, held + line.length);
    if (line === "") {
      if (data.length > 0) events.push({ event: type || "message", data: data.join("\n"), ...(lastId !== undefined ? { id: lastId } : {}) });
      data = [];
      type = "";
      held = 0;
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      data.push(value);
      held += value.length + 1;
    } else if (field === "event") type = value;
    else if (field === "id" && !value.includes("\0")) lastId = value;
  }
  peak = Math.max(peak, held + unterminated.length);
  return { events, peak };
}

/** Byte chunks as a network might deliver them: anywhere, including inside a UTF-8 sequence or a CRLF. */
function chunksOf(input: Buffer): Buffer[] {
  const rng = seededRandom(faultOf(input) * 7919 + input.length);
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; ) {
    const n = rng() < 0.3 ? 1 : 1 + Math.floor(rng() * rng() * 512);
    chunks.push(input.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

async function readAll(chunks: readonly Buffer[], maxEventChars?: number): Promise<SseEvent[]> {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(new Uint8Array(chunk));
    },
  });
  const events: SseEvent[] = [];
  for await (const e of readSse(body, maxEventChars === undefined ? {} : { maxEventChars })) events.push(e);
  return events;
}

export const DICTIONARY = ["data:", "data: ", "event:", "event: message", "id:", "id: 1", "retry: 10", ":", ": comment", "\n", "\r", "\r\n", "\n\n", "\r\n\r\n", "\uFEFF", "\u0000", "é", "😀", '{"jsonrpc":"2.0","id":1,"result":{}}', "data", "event", " "];

export function create(): Promise<FuzzTarget> {
  return Promise.resolve({
    name: "sse",
    property:
      "the events read from a body split anywhere (inside a CRLF, inside a UTF-8 sequence) are the events the WHATWG algorithm reads from the whole body; with a limit, the parser never holds more than it, and refuses (SseLimitError) only a body whose event or line outgrows it",
    maxLength: 4 * 1024,
    dictionary: DICTIONARY,
    async run(input: Buffer): Promise<string> {
      const text = new TextDecoder("utf-8").decode(input);
      const reference = referenceEvents(text);
      const chunks = chunksOf(input);

      const unlimited = await readAll(chunks);
      if (!isDeepStrictEqual(unlimited, reference.events)) {
        throw new PropertyViolation(`split into ${chunks.length} chunks, the body reads as ${unlimited.length} event(s); whole, the standard reads ${reference.events.length}`);
      }

      // Bounded: pushed chunk by chunk, what the parser holds stays within the limit.
      const parser = new SseParser({ maxEventChars: LIMIT });
      const decoder = new TextDecoder("utf-8");
      const bounded: SseEvent[] = [];
      try {
        for (const chunk of chunks) {
          bounded.push(...parser.push(decoder.decode(chunk, { stream: true })));
          if (parser.held > LIMIT) throw new PropertyViolation(`the parser holds ${parser.held} characters, over its limit of ${LIMIT}`);
        }
        bounded.push(...parser.push(decoder.decode()), ...parser.end());
      } catch (err) {
        if (!(err instanceof SseLimitError)) throw err;
        if (reference.peak <= LIMIT) throw new PropertyViolation(`refused as over the limit of ${LIMIT}, but no event or line of the body exceeds ${reference.peak}`);
        return "over the limit";
      }
      if (!isDeepStrictEqual(bounded, reference.events)) throw new PropertyViolation("within the limit, the bounded parser read other events than the standard");
      return `${Math.min(reference.events.length, 4)} events${reference.events.some((e) => e.id !== undefined) ? " with id" : ""}${reference.events.some((e) => e.event !== "message") ? " typed" : ""}`;
    },
  });
}
