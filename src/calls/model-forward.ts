// Model calls forwarded (docs/run-time-gateway.md, "Model calls"): to the
// provider of the run's pinned ModelConfig, with its key (the agent holds
// only its run token), for the pinned model, with output held to what the
// run's ledger grants. A call that would start past the budget is refused
// with the provider's own error shape, so the agent's SDK reports it. Every
// call that was granted is settled and traced, whatever became of it.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage } from "../errors.ts";
import type { ModelConfig } from "../types/kagent.ts";
import { isRecord } from "../types/kube.ts";
import { SseParser } from "../streams/sse.ts";
import { CallRefused } from "./caller.ts";
import type { CallContext } from "./call-context.ts";
import { digestOf, type NewTraceEntry, type TokenCount } from "./ledger.ts";
import { askedTokens, prepareRequest, responseUsage, StreamMeter, type PreparedRequest } from "./model-usage.ts";
import { modelUpstream, type ModelApi, type ModelUpstream } from "./upstream.ts";
import { readAnswer, readText, relayHeaders, relayStream, sendJson } from "./http-io.ts";
import { reachFor, type Reach, type UpstreamAnswer } from "./egress.ts";

const MODEL_BODY_LIMIT = 32 * 1024 * 1024;
const MODEL_RESULT_LIMIT = 32 * 1024 * 1024;
/** Deltas past the grant before a stream is cut: providers split a token now and then. */
const STREAM_SLACK = 16;

/** The one metered path each API has; anything else (embeddings, files…) is not forwarded. */
export const MODEL_PATHS: Record<ModelApi, string> = { openai: "chat/completions", anthropic: "v1/messages" };

const REQUEST_HEADERS: Record<ModelApi, string[]> = { openai: ["accept"], anthropic: ["accept", "anthropic-version", "anthropic-beta"] };

/** A refusal in the provider's own error shape. */
export function providerError(api: ModelApi, status: number, message: string): unknown {
  if (api === "anthropic") return { type: "error", error: { type: status === 429 ? "rate_limit_error" : status === 403 ? "permission_error" : "api_error", message } };
  return { error: { message, type: status === 429 ? "insufficient_quota" : "agentgate_refused", code: status === 429 ? "token_budget_exceeded" : null } };
}

/** What became of a granted call, for the ledger. */
interface Outcome {
  verdict: "allowed" | "failed";
  reason?: string;
  /** the provider's count; undefined when it gave none */
  usage?: TokenCount;
  /** output deltas seen in a stream, when the provider gave no count */
  deltas: number;
  outputSha256: string;
}

export async function forwardModel(ctx: CallContext, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { run, deps } = ctx;
  const pin = run.snapshot.modelConfig;
  // The lookup answers KubeObjects; modelUpstream reads every field of the spec defensively.
  const live = pin ? ((await deps.lookup.get("ModelConfig", pin.namespace, pin.name)) as ModelConfig | null) : null;
  const upstream = modelUpstream(live, run.snapshot, run.namespace);
  let raw = "";
  try {
    if (req.method !== "POST" || path !== MODEL_PATHS[upstream.api]) throw new CallRefused(404, `only POST ${MODEL_PATHS[upstream.api]} is forwarded for this run's ${upstream.api === "openai" ? "OpenAI" : "Anthropic"} model: other endpoints are not metered`);
    raw = await readText(req, MODEL_BODY_LIMIT);
    const body = parseBody(raw, upstream.api);
    const reach = reachFor(run.guardrails, "model", upstream.baseUrl);
    const key = await providerKey(ctx, upstream);
    const grant = await deps.ledger.reserve(ctx.ref, askedTokens(upstream.api, body), (reason) => ({ at: new Date(deps.now()).toISOString(), kind: "model", api: upstream.api, model: upstream.model, inputSha256: digestOf(raw), verdict: "denied", reason, ms: 0 }));
    await granted(ctx, upstream, reach, prepareRequest(upstream.api, body, upstream.model, grant), grant, key, res);
  } catch (err) {
    if (!(err instanceof CallRefused)) throw err;
    // A call refused for the budget was traced by the reservation that refused it.
    deps.log.info("model call refused", { run: `${run.namespace}/${run.name}`, status: err.status, reason: err.message });
    sendJson(res, err.status, providerError(upstream.api, err.status, `agentgate: ${err.message}`));
  }
}

function parseBody(raw: string, api: ModelApi): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new CallRefused(400, "the request body is not JSON");
  }
  if (!isRecord(body)) throw new CallRefused(400, "the request body is not a JSON object");
  // n choices each get the output limit: n times the grant.
  if (api === "openai" && body.n !== undefined && body.n !== null && body.n !== 1) throw new CallRefused(400, `n = ${JSON.stringify(body.n)}: only one choice per call is forwarded (each choice would get the whole grant of the run's budget)`);
  return body;
}

async function providerKey(ctx: CallContext, upstream: ModelUpstream): Promise<string | undefined> {
  const s = upstream.keySecret;
  if (!s) return undefined;
  let key: string | undefined;
  try {
    key = await ctx.deps.secret(s.namespace, s.name, s.key);
  } catch (err) {
    ctx.deps.log.warn("cannot read a provider key", { secret: `${s.namespace}/${s.name}`, error: errorMessage(err) });
    throw new CallRefused(503, `cannot read the provider key (Secret ${s.namespace}/${s.name}) now; retry`);
  }
  if (key === undefined) throw new CallRefused(503, `the provider key Secret ${s.namespace}/${s.name} has no key ${s.key}`);
  return key;
}

/** A call the ledger granted: sent, answered, settled and traced, then the answer finished. */
async function granted(ctx: CallContext, upstream: ModelUpstream, reach: Reach, prepared: PreparedRequest, grant: number, key: string | undefined, res: ServerResponse): Promise<void> {
  const { deps } = ctx;
  const started = deps.now();
  const headers = relayHeaders(res.req.headers, REQUEST_HEADERS[upstream.api]);
  headers["content-type"] = "application/json";
  if (key !== undefined) {
    if (upstream.api === "openai") headers.authorization = `Bearer ${key}`;
    else headers["x-api-key"] = key;
  }
  let reply: string | undefined;
  let outcome: Outcome;
  let failure: CallRefused | undefined;
  try {
    const answer = await deps.fetch(`${upstream.baseUrl}/${MODEL_PATHS[upstream.api]}`, { method: "POST", headers, body: JSON.stringify(prepared.body), signal: ctx.signal }, reach);
    if (prepared.stream && (answer.headers.get("content-type") ?? "").includes("text/event-stream")) {
      outcome = await relayMetered(upstream.api, answer, grant, res);
    } else {
      reply = await readAnswer(answer, MODEL_RESULT_LIMIT);
      let parsed: unknown;
      try {
        parsed = JSON.parse(reply);
      } catch {
        parsed = undefined;
      }
      const usage = responseUsage(upstream.api, parsed);
      outcome = { verdict: answer.ok ? "allowed" : "failed", ...(answer.ok ? {} : { reason: `the provider answered HTTP ${answer.status}` }), ...(usage ? { usage } : {}), deltas: 0, outputSha256: digestOf(reply) };
      res.statusCode = answer.status;
      res.setHeader("content-type", answer.headers.get("content-type") ?? "application/json");
    }
  } catch (err) {
    outcome = { verdict: "failed", reason: `no answer from the provider: ${errorMessage(err)}`, deltas: 0, outputSha256: digestOf("") };
    failure = err instanceof CallRefused ? err : new CallRefused(502, "the model provider could not be reached or did not answer");
  }
  // Without the provider's own count, the whole grant is taken as spent: never less than could have been.
  const total = outcome.usage ? outcome.usage.total : Math.max(outcome.deltas, grant);
  const entry: NewTraceEntry = {
    at: new Date(started).toISOString(),
    kind: "model",
    api: upstream.api,
    model: upstream.model,
    inputSha256: digestOf(prepared.body),
    outputSha256: outcome.outputSha256,
    verdict: outcome.verdict,
    ...(outcome.reason !== undefined ? { reason: outcome.reason } : outcome.usage ? {} : { reason: "the provider reported no usage: the grant was counted" }),
    tokens: outcome.usage ?? { prompt: 0, completion: outcome.deltas, total },
    ms: deps.now() - started,
  };
  try {
    await deps.ledger.settle(ctx.ref, grant, total, entry);
  } catch (err) {
    // The answer stands even when the ledger could not be written (the grant stays reserved: counted, never less).
    deps.log.warn("a model call could not be settled in the run's ledger", { run: `${ctx.run.namespace}/${ctx.run.name}`, error: errorMessage(err) });
  }
  if (failure) throw failure;
  // A stream was relayed and waits to be ended; a whole answer is sent now.
  res.end(reply);
}

/** A streamed answer relayed as it comes, its deltas counted, cut past the grant. */
async function relayMetered(api: ModelApi, answer: UpstreamAnswer, grant: number, res: ServerResponse): Promise<Outcome> {
  const meter = new StreamMeter(api);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const hash = createHash("sha256");
  const stop = { cut: false };
  await relayStream(
    answer,
    res,
    ["content-type", "cache-control"],
    (chunk) => {
      hash.update(chunk);
      for (const e of parser.push(decoder.decode(chunk, { stream: true }))) meter.push(e.data);
      stop.cut = meter.deltas > grant + STREAM_SLACK;
      return !stop.cut;
    },
    true,
  );
  const base = { deltas: meter.deltas, outputSha256: hash.digest("hex"), ...(meter.exact ? { usage: meter.usage() } : {}) };
  if (stop.cut) return { ...base, verdict: "failed", reason: `cut at the run's token budget: ${meter.deltas} output deltas against ${grant} tokens granted` };
  return answer.ok ? { ...base, verdict: "allowed" } : { ...base, verdict: "failed", reason: `the provider answered HTTP ${answer.status}` };
}
