// The soak's bundle service: one team bundle at one URL, in two versions the
// soak swaps between, served as an OPA bundle service serves (ETag, 304 for
// the version the gateway holds). v1 denies an AgentConfig whose tokenBudget
// is over 100,000 ([soak-budget]), v2 only over 300,000: a budget between
// the two is denied or admitted by whichever version is in force, which is
// how the traffic sees the swaps reach the gateway.
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { buildTestBundle } from "../../test/fixtures/bundles.ts";

export const SOAK_POLICY = "soak-budget";
/** denied under v1, admitted under v2 */
export const SWAY_BUDGET = 200_000;

const rule = (max: number): string => `package agentgate
violations contains {"policy": "${SOAK_POLICY}", "field": "spec.tokenBudget", "message": sprintf("tokenBudget %v is over the soak's limit of ${String(max)}", [input.request.object.spec.tokenBudget]), "action": "deny"} if {
  input.request.kind.kind == "AgentConfig"
  input.request.object.spec.tokenBudget > ${String(max)}
}
`;

interface Version {
  revision: string;
  bytes: Buffer;
  etag: string;
}

async function build(revision: string, max: number): Promise<Version> {
  const path = await buildTestBundle({ "soak.rego": rule(max) }, { entrypoints: ["agentgate/violations"], revision, name: "soak" });
  const bytes = await readFile(path);
  await rm(dirname(path), { recursive: true, force: true });
  return { revision, bytes, etag: `"${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}"` };
}

export class SwappingBundleService {
  private readonly versions: [Version, Version];
  private serving = 0;
  private readonly server: Server;
  /** swaps made so far */
  swaps = 0;

  private constructor(versions: [Version, Version]) {
    this.versions = versions;
    this.server = createServer((req, res) => {
      const v = this.current;
      if (req.url !== "/bundles/soak.tar.gz") {
        res.writeHead(404).end();
        return;
      }
      if (req.headers["if-none-match"] === v.etag) {
        res.writeHead(304, { etag: v.etag }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/gzip", "content-length": v.bytes.length, etag: v.etag }).end(v.bytes);
    });
  }

  static async start(): Promise<SwappingBundleService> {
    const service = new SwappingBundleService([await build("soak-v1", 100_000), await build("soak-v2", 300_000)]);
    await new Promise<void>((resolve) => service.server.listen(0, "127.0.0.1", resolve));
    return service;
  }

  get url(): string {
    return `http://127.0.0.1:${String((this.server.address() as AddressInfo).port)}/bundles/soak.tar.gz`;
  }

  get current(): Version {
    return this.versions[this.serving] as Version;
  }

  swap(): void {
    this.serving = 1 - this.serving;
    this.swaps++;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => { resolve(); }));
  }
}
