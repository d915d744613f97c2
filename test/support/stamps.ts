// A run stamped and signed as agentgate's mutating webhook would stamp it,
// for tests that store runs without a gateway in front of the API server
// (the controller driven by hand, the fail-open path). Built on the
// gateway's own functions, so it cannot drift from what the gateway writes.
import { signDecision } from "../../src/guardrails/decision.ts";
import { serializeSnapshot } from "../../src/guardrails/snapshot.ts";
import { computeStamps } from "../../src/guardrails/stamps.ts";
import type { SigningKey } from "../../src/signing/keys.ts";
import { STAMP, type AgentConfig, type AgentRun, type Guardrails, type Snapshot } from "../../src/types/agent.ts";

/** `pinned`: the snapshot's ModelConfig and tool-server digests (none by default). */
export async function stampedRun(run: AgentRun, config: AgentConfig, guardrails: Guardrails, key: SigningKey, creator = "alice", pinned: Pick<Snapshot, "modelConfig" | "toolServers"> = { modelConfig: null, toolServers: {} }): Promise<AgentRun> {
  const snapshot: Snapshot = { config: { name: config.metadata?.name ?? "", spec: config.spec ?? {} }, ...pinned };
  const stamps = computeStamps(creator, "default@test", config.metadata?.name ?? "", guardrails, serializeSnapshot(snapshot));
  const stamped: AgentRun = { ...run, metadata: { ...run.metadata, annotations: { ...run.metadata?.annotations, ...stamps.annotations }, labels: { ...run.metadata?.labels, ...stamps.labels } } };
  const decision = await signDecision(stamped, key);
  return { ...stamped, metadata: { ...stamped.metadata, annotations: { ...stamped.metadata?.annotations, [STAMP.decision]: decision } } };
}
