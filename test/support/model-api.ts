// A stand-in for an OpenAI-compatible model API (no provider can be reached
// from here): /v1/chat/completions, whole or streamed as OpenAI streams it
// (one content delta a chunk, usage in a last chunk when
// stream_options.include_usage asks, then [DONE]). It answers with as many
// tokens as the request allows, or, told to run away, ignores the limit, as
// a provider that does not honour max tokens would.
import { createServer, type Server } from "node:http";

export interface ModelApi {
  /** base URL as a ModelConfig's openAI.baseUrl names it */
  baseUrl: string;
  requests: { authorization: string | undefined; body: Record<string, unknown> }[];
  /** ignore max_completion_tokens and stream this many deltas */
  runaway: number | undefined;
  close(): Promise<void>;
}

const PROMPT_TOKENS = 40;

export async function startModelApi(): Promise<ModelApi> {
  const api: ModelApi = { baseUrl: "", requests: [], runaway: undefined, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      api.requests.push({ authorization: req.headers.authorization, body });
      const limit = typeof body.max_completion_tokens === "number" ? body.max_completion_tokens : typeof body.max_tokens === "number" ? body.max_tokens : 20;
      const n = api.runaway ?? Math.min(limit, 20);
      const usage = { prompt_tokens: PROMPT_TOKENS, completion_tokens: n, total_tokens: PROMPT_TOKENS + n };
      if (body.stream !== true) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "c1", object: "chat.completion", model: body.model, choices: [{ index: 0, message: { role: "assistant", content: "tok ".repeat(n) }, finish_reason: "stop" }], usage }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let i = 0;
      const tick = (): void => {
        if (res.destroyed) return;
        if (i < n) {
          res.write(`data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "tok " } }] })}\n\n`);
          i++;
          setImmediate(tick);
          return;
        }
        const opts = body.stream_options as { include_usage?: boolean } | undefined;
        if (opts?.include_usage === true) res.write(`data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [], usage })}\n\n`);
        res.end("data: [DONE]\n\n");
      };
      tick();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  api.baseUrl = `http://127.0.0.1:${port}/v1`;
  api.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return api;
}
