// A real MCP tool server for tests, built on the official MCP SDK's server
// (streamable HTTP, stateless as the SDK documents it): read_file,
// write_file and delete_repo, each remembering the calls that reached it,
// so a test can say what the server never saw.
import { createServer, type Server } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface ToolServer {
  url: string;
  /** every call that reached the server, in order */
  calls: { tool: string; arguments: Record<string, unknown>; authorization: string | undefined }[];
  /** every POST body as the server received it */
  bodies: string[];
  close(): Promise<void>;
}

export async function startToolServer(): Promise<ToolServer> {
  const calls: ToolServer["calls"] = [];
  const bodies: string[] = [];
  const files = new Map<string, string>([["src/refund.py", "def refund(order): ..."]]);
  let authorization: string | undefined;
  const build = (): McpServer => {
    const mcp = new McpServer({ name: "test-files", version: "1.0.0" });
    mcp.registerTool("read_file", { description: "read a file of the repository", inputSchema: { path: z.string() } }, ({ path }) => {
      calls.push({ tool: "read_file", arguments: { path }, authorization });
      const text = files.get(path);
      return text === undefined ? { content: [{ type: "text", text: `no such file: ${path}` }], isError: true } : { content: [{ type: "text", text }] };
    });
    mcp.registerTool("write_file", { description: "write a file", inputSchema: { path: z.string(), content: z.string() } }, ({ path, content }) => {
      calls.push({ tool: "write_file", arguments: { path, content }, authorization });
      files.set(path, content);
      return { content: [{ type: "text", text: `wrote ${content.length} bytes to ${path}` }] };
    });
    mcp.registerTool("delete_repo", { description: "delete the repository", inputSchema: { confirm: z.boolean() } }, ({ confirm }) => {
      calls.push({ tool: "delete_repo", arguments: { confirm }, authorization });
      return { content: [{ type: "text", text: "deleted" }] };
    });
    return mcp;
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      authorization = req.headers.authorization;
      const mcp = build();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        void transport.close();
        void mcp.close();
      });
      const text = Buffer.concat(chunks).toString("utf8");
      if (req.method === "POST") bodies.push(text);
      const body: unknown = text !== "" ? JSON.parse(text) : undefined;
      mcp
        .connect(transport)
        .then(() => transport.handleRequest(req, res, body))
        .catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
