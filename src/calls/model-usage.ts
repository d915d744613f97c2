// Model calls as the budget sees them (docs/run-time-gateway.md, "Model
// calls"): the request is held to the pinned model and to the tokens the
// ledger granted, and the response is read for what it spent. Providers
// report usage once, at the end (OpenAI's last stream chunk when
// stream_options.include_usage is set; Anthropic's message_start and
// message_delta); while a stream runs, each content delta counts as one
// token, so a provider that ignores the output limit is cut off anyway.
import { isRecord } from "../types/kube.ts";
import type { TokenCount } from "./ledger.ts";
import type { ModelApi } from "./upstream.ts";

/** What one call reserves when it names no output limit of its own. */
export const DEFAULT_RESERVATION = 8192;

export interface PreparedRequest {
  body: Record<string, unknown>;
  stream: boolean;
  /** the output tokens the call asked for, before the grant */
  asked: number;
}

const int = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined);

/** The output limit a request asks for, or the default reservation. */
export function askedTokens(api: ModelApi, body: Record<string, unknown>): number {
  const asked = api === "openai" ? (int(body.max_completion_tokens) ?? int(body.max_tokens)) : int(body.max_tokens);
  return asked ?? DEFAULT_RESERVATION;
}

/** The request as forwarded: the pinned model, output held to the grant, usage asked for in streams. */
export function prepareRequest(api: ModelApi, body: Record<string, unknown>, model: string, grant: number): PreparedRequest {
  const asked = askedTokens(api, body);
  const out: Record<string, unknown> = { ...body };
  if (model !== "") out.model = model;
  const stream = out.stream === true;
  if (api === "openai") {
    // Every output limit the request names is held to the grant (servers differ in which one they read); none named: OpenAI's current one is set.
    const named = (["max_completion_tokens", "max_tokens"] as const).filter((k) => out[k] !== undefined && out[k] !== null);
    for (const k of named) out[k] = Math.min(int(out[k]) ?? grant, grant);
    if (named.length === 0) out.max_completion_tokens = Math.min(asked, grant);
    if (stream) out.stream_options = { ...(isRecord(out.stream_options) ? out.stream_options : {}), include_usage: true };
  } else {
    out.max_tokens = Math.min(asked, grant);
  }
  return { body: out, stream, asked };
}

const count = (v: unknown): number => int(v) ?? 0;

function tokens(prompt: number, completion: number, total?: number): TokenCount {
  return { prompt, completion, total: total !== undefined && total >= prompt + completion ? total : prompt + completion };
}

/** Usage of a whole (non-streamed) response body. */
export function responseUsage(api: ModelApi, body: unknown): TokenCount | undefined {
  if (!isRecord(body) || !isRecord(body.usage)) return undefined;
  const u = body.usage;
  if (api === "openai") return tokens(count(u.prompt_tokens), count(u.completion_tokens), count(u.total_tokens));
  const prompt = count(u.input_tokens) + count(u.cache_creation_input_tokens) + count(u.cache_read_input_tokens);
  return tokens(prompt, count(u.output_tokens));
}

/** A streamed response read event by event. */
export class StreamMeter {
  private readonly api: ModelApi;
  private prompt = 0;
  private completion = 0;
  private total: number | undefined;
  private reported = false;
  /** content deltas seen: the running estimate of output tokens */
  deltas = 0;

  constructor(api: ModelApi) {
    this.api = api;
  }

  /** Feeds one SSE `data:` payload. */
  push(data: string): void {
    if (data === "[DONE]") return;
    let v: unknown;
    try {
      v = JSON.parse(data);
    } catch {
      return;
    }
    if (!isRecord(v)) return;
    if (this.api === "openai") {
      if (Array.isArray(v.choices) && v.choices.some((c) => isRecord(c) && isRecord(c.delta) && (c.delta.content || c.delta.tool_calls || c.delta.refusal))) this.deltas++;
      if (isRecord(v.usage)) {
        const u = responseUsage("openai", v);
        if (u) {
          this.prompt = u.prompt;
          this.completion = u.completion;
          this.total = u.total;
          this.reported = true;
        }
      }
      return;
    }
    if (v.type === "content_block_delta") this.deltas++;
    if (v.type === "message_start" && isRecord(v.message) && isRecord(v.message.usage)) {
      const u = responseUsage("anthropic", v.message);
      if (u) {
        this.prompt = u.prompt;
        this.completion = Math.max(this.completion, u.completion);
        this.reported = true;
      }
    }
    // message_delta carries the cumulative output count.
    if (v.type === "message_delta" && isRecord(v.usage)) {
      this.completion = Math.max(this.completion, count(v.usage.output_tokens));
      this.reported = true;
    }
  }

  /** What the stream spent: the provider's own count, never less than the deltas seen. */
  usage(): TokenCount {
    const completion = Math.max(this.completion, this.reported ? 0 : this.deltas);
    return tokens(this.prompt, completion, this.total);
  }

  /** Whether the provider reported usage at all (else the count is an estimate). */
  get exact(): boolean {
    return this.reported;
  }
}
