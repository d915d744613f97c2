// One HTTPS request to a gateway under test, answered as status and body.
import { request as httpsRequest } from "node:https";

export interface HttpsAnswer {
  status: number;
  body: string;
}

export function httpsCall(port: number, method: string, path: string, body?: string | Buffer): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method, rejectUnauthorized: false, agent: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
