// The gateway as the benchmark runs it: the real server and evaluation path,
// with context served from the fixture objects instead of a cluster (the
// watch cache is an in-memory map either way). Prints its port when ready.
import { ephemeralKeyring, staticKeyring } from "../src/signing/keyring.ts";
import { signingKeyFromPem } from "../src/signing/keys.ts";
import { StaticLookup } from "../src/context/static-lookup.ts";
import { makeIdentity } from "../src/guardrails/identity.ts";
import { logger } from "../src/log.ts";
import { loadEngine } from "../src/policy/load.ts";
import { ServerDrain } from "../src/server/drain.ts";
import { GatewayMetrics } from "../src/server/metrics.ts";
import { createGatewayServer } from "../src/server/server.ts";
import { agentConfig, contextObjects } from "./fixtures.ts";

const [certFile, keyFile, signingFile] = process.argv.slice(2);
if (!certFile || !keyFile) throw new Error("usage: gateway-server.ts CERT KEY [SIGNING-KEY]");
const { readFile } = await import("node:fs/promises");
// The key the benchmark stamped its runs with, as a gateway's replicas share one.
const keyring = signingFile ? staticKeyring(signingKeyFromPem(await readFile(signingFile), signingFile)) : ephemeralKeyring();
logger.level = "warn";
const engine = await loadEngine([]);
const server = createGatewayServer({
  tls: { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") },
  deps: { engine: () => engine, lookup: new StaticLookup([...contextObjects, agentConfig]), identity: makeIdentity([]), exemptNamespaces: new Set(["kube-system"]), keyring },
  metrics: new GatewayMetrics(),
  log: logger,
  notReady: () => undefined,
  // bench/overload.ts compares in-flight limits; unset, the gateway's default.
  ...(process.env.BENCH_MAX_IN_FLIGHT ? { maxInFlight: Number(process.env.BENCH_MAX_IN_FLIGHT) } : {}),
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
// The gateway's own shutdown: connections the load generator keeps alive cannot hold the exit up.
const drain = new ServerDrain(server);
process.on("SIGTERM", () => { void drain.shutdown(1000).then(() => process.exit(0)); });
