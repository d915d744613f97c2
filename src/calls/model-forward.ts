// Model calls forwarded (docs/run-time-gateway.md, "Model calls"): to the
// provider of the run's pinned ModelConfig, with its key (the agent holds
// only its run token), for the pinned model, with output held to what the
// run's ledger grants. A call that would start past the budget is refused
// with the provider's own error shape, so the agent's SDK reports it.
import type { IncomingMessage, ServerResponse } from "node:http";
import { isRecord } from "../types/kube.ts";
import type { ModelConfig } from "../types/kagent.ts";
import { SseParser } from "../streams/sse.ts";
import { CallRefused } from "./caller.ts";
import type { CallContext } from "./call-context.ts";
import { digestOf, type TokenCount } from "./ledger.ts";
import { askedTokens, prepareRequest, responseUsage, StreamMeter } from "./model-usage.ts";
import { modelUpstream, type ModelApi } from "./upstream.ts";
import { readBody, relayHeaders, sendJson } from "./http-io.ts";
import { createHash } from "node:crypto";

const MODEL_BODY_LIMIT = 32 * 1024 * 1024;
const MODEL_RESULT_LIMIT = 32 * 1024 * 1024;
/** Deltas past the grant before a stream is cut: providers split a token now and then. */
const STREAM_SLACK = 16;

/** The one metered path each API has; anything else (embeddings, files…) is not forwarded. */
export const MODEL_PATHS: Record<ModelApi, string> = { openai: "chat/completions", anthropic: "v1/messages" };

const REQUEST_HEADERS: Record<ModelApi, string[]> = { openai: ["content-type", "accept"], anthropic: ["content-type", "accept", "anthropic-version", "anthropic-beta"] };

/** A refusal in the provider's own error shape. */
export function providerError(api: ModelApi, status: number, message: string): unknown {
  if (api === "anthropic") return { type: "error", error: { type: status === 429 ? "rate_limit_error" : status === 403 ? "permission_error" : "api_error", message } };
  return { error: { message, type: status === 429 ? "insufficient_quota" : "agentgate_refused", code: status === 429 ? "token_budget_exceeded" : null } };
}

export async function forwardModel(ctx: CallContext, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { run, deps } = ctx;
  const pin = run.snapshot.modelConfig;
  // The lookup answers KubeObjects; modelUpstream reads every field of the spec defensively.
  const live = pin ? ((await deps.lookup.get("ModelConfig", pin.namespace, pin.name)) as ModelConfig | null) : null;
  const upstream = modelUpstream(live, run.snapshot);
  const { api } = upstream;
  let raw = "";
  try {
    if (req.method !== "POST" || path !== MODEL_PATHS[api]) throw new CallRefused(404, `only POST ${MODEL_PATHS[api]} is forwarded for ${api === "openai" ? "OpenAI" : "Anthropic"}: other endpoints are not metered`);
    raw = await readBody(req, MODEL_BODY_LIMIT);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new CallRefused(400, "the request body is not JSON");
    }
    if (!isRecord(body)) throw new CallRefused(400, "the request body is not a JSON object");
    let key: string | undefined;
    if (upstream.keySecret) {
      const s = upstream.keySecret;
      key = await deps.secret(s.namespace, s.name, s.key).catch((err: unknown) => {
        throw new CallRefused(503, `cannot read the provider key (Secret ${s.namespace}/${s.name}): ${err instanceof Error ? err.message : String(err)}`);
      });
      if (key === undefined) throw new CallRefused(503, `the provider key Secret ${s.namespace}/${s.name} has no key ${s.key}`);
    }
    const grant = await deps.ledger.reserve(ctx.ref, askedTokens(api, body));
    const prepared = prepareRequest(api, body, upstream.model, grant);
    const started = ctx.now();
    const headers = relayHeaders(req.headers, REQUEST_HEADERS[api]);
    headers["content-type"] = "application/json";
    if (key !== undefined) {
      if (api === "openai") headers.authorization = `Bearer ${key}`;
      else headers["x-api-key"] = key;
    }
    let spent: TokenCount | undefined;
    let exact = false;
    const hash = createHash("sha256");
    let verdict: "allowed" | "failed" = "failed";
    let reason: string | undefined;
    /** a whole answer, sent once the ledger is settled; a stream is ended then */
    let reply = "";
    let answered = false;
    try {
      const answer = await deps.fetch(`${upstream.baseUrl}/${MODEL_PATHS[api]}`, { method: "POST", headers, body: JSON.stringify(prepared.body), signal: ctx.signal });
      const streamed = prepared.stream && (answer.headers.get("content-type") ?? "").includes("text/event-stream");
      if (streamed) {
        const meter = new StreamMeter(api);
        const parser = new SseParser();
        const decoder = new TextDecoder();
        const stop = { cut: false };
        await ctx.pipe(answer, ["content-type", "cache-control"], (chunk) => {
          hash.update(chunk);
          for (const e of parser.push(decoder.decode(chunk, { stream: true }))) meter.push(e.data);
          if (meter.deltas > grant + STREAM_SLACK) stop.cut = true;
          return !stop.cut;
        }, true);
        spent = meter.usage();
        exact = meter.exact;
        if (stop.cut) reason = `cut at the run's token budget: ${meter.deltas} output deltas against ${grant} tokens granted`;
      } else {
        const text = await ctx.bounded(answer, MODEL_RESULT_LIMIT);
        hash.update(text);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        spent = responseUsage(api, parsed);
        exact = spent !== undefined;
        res.statusCode = answer.status;
        res.setHeader("content-type", answer.headers.get("content-type") ?? "application/json");
        reply = text;
      }
      answered = true;
      if (answer.ok && reason === undefined) verdict = "allowed";
      if (!answer.ok) reason = `the provider answered HTTP ${answer.status}`;
    } finally {
      // Without the provider's own count, the whole grant is taken as spent: never less than could have been.
      const total = exact && spent ? spent.total : Math.max(spent?.total ?? 0, grant);
      await deps.ledger.settle(ctx.ref, grant, total, {
        at: new Date(started).toISOString(),
        kind: "model",
        api,
        model: upstream.model,
        inputSha256: digestOf(prepared.body),
        outputSha256: hash.digest("hex"),
        verdict,
        ...(reason !== undefined ? { reason } : exact ? {} : { reason: "the provider reported no usage: the grant was counted" }),
        tokens: spent ?? { prompt: 0, completion: 0, total },
        ms: ctx.now() - started,
      }).finally(() => {
        // Nothing was answered when the provider could not be reached: the error path answers.
        if (answered) res.end(reply);
      });
    }
  } catch (err) {
    if (err instanceof CallRefused) {
      // A call refused for the budget is part of what the run did: traced.
      if (err.status === 429) await deps.ledger.record(ctx.ref, { at: new Date(ctx.now()).toISOString(), kind: "model", api, model: upstream.model, inputSha256: digestOf(raw), verdict: "denied", reason: err.message, ms: 0 });
      deps.log.info("model call refused", { run: `${run.namespace}/${run.name}`, status: err.status, reason: err.message });
      sendJson(res, err.status, providerError(api, err.status, `agentgate: ${err.message}`));
      return;
    }
    throw err;
  }
}
