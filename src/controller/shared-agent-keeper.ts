// Agents reused within a PipelineRun, the side that reads and writes the
// cluster: it gathers what shared-agent.ts judges a run's membership and
// key on, claims a shared Agent for one run at a time, makes the Agent and
// its scope, and deletes them when their PipelineRun ends (the owner
// reference to the PipelineRun covers its deletion: the garbage collector).
//
// Claims: the run acting through a shared Agent is the one whose
// status.agentRef names it and has not ended (status is the controller's
// alone). Between the choice and that write, this process remembers the
// claim, so two runs deciding at once cannot both take it; only the leader
// reconciles, and after a restart the written status is the claim.
import { verifyCreator } from "../guardrails/creator.ts";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import type { CustomRun, PipelineRun } from "../types/tekton.ts";
import { DEFAULT_KAGENT_RUNTIME } from "./kagent-agent.ts";
import { describeError, GVR, statusCode, type Kube } from "./kube.ts";
import { names as runNames } from "./owned.ts";
import type { Trusted } from "./run-guards.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import { keyFor, sharedObjects, sharedScopeRefs } from "./shared-agent-objects.ts";
import { chooseAgent, claimedCustomRun, claimedPipelineRun, holderOf, ownedByShare, pipelineMembership, pipelineRunOver, SHARE_LABEL, shareNames, type AgentChoice, type Membership, type ShareNames } from "./shared-agent.ts";
import { runKey } from "./run-status.ts";

/** How often the PipelineRuns of shared Agents are looked at for their end. */
export const DEFAULT_SHARE_SWEEP_MS = 5000;

/** What the keeper uses of the reconciler's options: only these requests, so a test can stand in for the API server. */
export type SharedAgentDeps = Pick<RunReconcilerOptions, "keyring" | "log" | "scopeEnvironment" | "kagentRuntime" | "calls"> & {
  kube: Pick<Kube, "get" | "list" | "getObject" | "apply" | "delete" | "deleteObject">;
};

export class SharedAgentKeeper {
  private readonly opts: SharedAgentDeps;
  private readonly sweepMs: number;
  /** "<ns>/<agent>" → the uid of the run that claimed it in this process, until that run ends */
  private readonly claims = new Map<string, string>();
  /** "<ns>/<agent>" → the share whose PipelineRun is watched for its end */
  private readonly watched = new Map<string, { namespace: string; names: ShareNames }>();
  private timer: NodeJS.Timeout | undefined;
  /** the sweep under way, awaited by stop() */
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: SharedAgentDeps, sweepMs = DEFAULT_SHARE_SWEEP_MS) {
    this.opts = opts;
    this.sweepMs = sweepMs;
  }

  /** Which Agent the run acts through (shared-agent.ts chooseAgent), with what that was judged on read now. */
  async choose(run: AgentRun, trust: Trusted): Promise<AgentChoice> {
    const kube = this.opts.kube;
    const ns = run.metadata?.namespace ?? "";
    const uid = run.metadata?.uid ?? "";
    const runName = run.metadata?.name ?? "";
    const recorded = run.status?.agentRef?.name;
    // A run recorded on its own Agent, or not yet recorded and claiming no PipelineRun, reads nothing more.
    if (recorded === runNames.agent(runName) || (recorded === undefined && claimedCustomRun(run) === undefined)) return { kind: "own" };
    const membership = await this.membership(run, trust.createdBy);
    const runtime = this.opts.kagentRuntime ?? DEFAULT_KAGENT_RUNTIME;
    let key: string | undefined;
    let existing: "absent" | "ours" | "foreign" = "absent";
    let holder: string | undefined;
    if (membership.member) {
      const config = await kube.get(GVR.agentConfigs, ns, trust.snapshot.config.name);
      const configUid = config?.metadata?.uid;
      if (configUid !== undefined) {
        key = keyFor({ namespace: ns, pipelineRun: membership.pipelineRun, createdBy: trust.createdBy, config: { name: trust.snapshot.config.name, uid: configUid }, snapshot: trust.snapshot, guardrails: trust.guardrails, runtime });
        const names = shareNames(key);
        existing = await this.existing(ns, names, membership.pipelineRun.uid);
        // A run already recorded on the share is the holder itself.
        if (recorded === undefined) holder = holderOf((await kube.list(GVR.agentRuns, ns, "")) as AgentRun[], names.agent, uid);
      }
    }
    const choice = chooseAgent({ runName, membership, routed: this.opts.calls !== undefined, runtime, key, existing, holder, recorded });
    if (choice.kind !== "shared") return choice;
    // The claim, taken with no await between the look and the take.
    const claimKey = `${ns}/${choice.names.agent}`;
    const claimant = this.claims.get(claimKey);
    if (claimant !== undefined && claimant !== uid) {
      return { kind: "own", why: `not shared with the other steps of PipelineRun ${choice.pipelineRun.name}: another of its runs is taking ${choice.names.agent} now, and two goals never share one context at once` };
    }
    this.claims.set(claimKey, uid);
    return choice;
  }

  /**
   * Makes the share's scope and Agent (owned by the PipelineRun): the Agent
   * as kagent has it, "no-api" when kagent is not installed, or why not
   * when an object of the share's names was not made for it (never taken
   * over).
   */
  async apply(run: AgentRun, choice: Extract<AgentChoice, { kind: "shared" }>, config: AgentConfig, guardrails: Guardrails): Promise<{ agent: Agent | "no-api" } | { conflict: string }> {
    const ns = run.metadata?.namespace ?? "";
    const env = await this.opts.scopeEnvironment(guardrails);
    const objects = sharedObjects(ns, choice.names, choice.pipelineRun, config, guardrails, env, this.opts.kagentRuntime ?? DEFAULT_KAGENT_RUNTIME);
    this.watch(ns, choice.names);
    for (const object of [...objects.scope, objects.agent]) {
      const existing = object.kind === "Agent" ? await this.opts.kube.get(GVR.agents, ns, object.metadata?.name ?? "") : await this.opts.kube.getObject({ apiVersion: object.apiVersion ?? "", kind: object.kind ?? "", namespace: ns, name: object.metadata?.name ?? "" });
      if (existing && !ownedByShare(existing.metadata, choice.names.share, choice.pipelineRun.uid)) return { conflict: `${object.kind ?? ""} "${object.metadata?.name ?? ""}" already exists in namespace "${ns}" and was not made for the Agent shared by PipelineRun ${choice.pipelineRun.name}, so agentgate does not take it over` };
    }
    for (const object of objects.scope) await this.opts.kube.apply(object);
    try {
      return { agent: (await this.opts.kube.apply(objects.agent)) as Agent };
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      return { agent: "no-api" };
    }
  }

  /** The run ended: its claim goes, and the PipelineRun of a shared Agent it used is watched for its end (also after a restart: every run is seen once). */
  ended(run: AgentRun): void {
    const uid = run.metadata?.uid ?? "";
    for (const [k, v] of this.claims) if (v === uid) this.claims.delete(k);
    const agent = run.status?.agentRef?.name;
    const share = agent?.endsWith("-agent") ? agent.slice(0, -"-agent".length) : undefined;
    if (share === undefined || agent === runNames.agent(run.metadata?.name ?? "") || !share.startsWith("share-")) return;
    this.watch(run.metadata?.namespace ?? "", { share, agent: agent ?? "", contextId: run.status?.agentRef?.contextId ?? "" });
  }

  /** No more sweeps (the controller stops leading); resolves once one under way has finished, so nothing is deleted after. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.idle();
    await this.sweeping;
  }

  private idle(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private watch(namespace: string, names: ShareNames): void {
    this.watched.set(`${namespace}/${names.agent}`, { namespace, names });
    if (!this.stopped) this.timer ??= setInterval(() => { void this.sweep(); }, this.sweepMs).unref();
  }

  /** Deletes the Agent and identity of every watched share whose PipelineRun is over; the NetworkPolicy goes with the PipelineRun, confining pods kagent is taking down. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepAll().finally(() => { this.sweeping = undefined; });
    return this.sweeping;
  }

  private async sweepAll(): Promise<void> {
    for (const [k, { namespace, names }] of this.watched) {
      if (this.stopped) return;
      try {
        if (await this.sweepOne(namespace, names)) this.watched.delete(k);
      } catch (err) {
        this.opts.log.warn("cannot look at a shared Agent's PipelineRun", { agent: k, error: describeError(err) });
      }
    }
    if (this.watched.size === 0) this.idle();
  }

  /** True when the share needs no more watching. */
  private async sweepOne(namespace: string, names: ShareNames): Promise<boolean> {
    const kube = this.opts.kube;
    const agent = await kube.get(GVR.agents, namespace, names.agent);
    if (!agent) return true;
    const owner = agent.metadata?.ownerReferences?.find((o) => o.kind === "PipelineRun" && o.controller === true);
    // Not made for a share: never ours to delete.
    if (!owner || !ownedByShare(agent.metadata, names.share, owner.uid)) return true;
    const ref = { name: owner.name, uid: owner.uid };
    const over = pipelineRunOver((await kube.get(GVR.pipelineRuns, namespace, owner.name)) as PipelineRun | null, ref);
    if (over === undefined) return false;
    await kube.delete(GVR.agents, namespace, names.agent);
    for (const r of sharedScopeRefs(namespace, names)) {
      const object = await kube.getObject(r);
      if (object && ownedByShare(object.metadata, names.share, owner.uid)) await kube.deleteObject(r);
    }
    this.opts.log.info("deleted a shared kagent Agent: its PipelineRun is over", { agent: `${namespace}/${names.agent}`, why: over });
    return true;
  }

  /** What the run's owners claim, proven against the live CustomRun and PipelineRun and their signed creators. */
  private async membership(run: AgentRun, createdBy: string): Promise<Membership> {
    const kube = this.opts.kube;
    const ns = run.metadata?.namespace ?? "";
    const resolve = this.opts.keyring.resolve;
    const claim = claimedCustomRun(run);
    const customRun = claim ? ((await kube.get(GVR.customRuns, ns, claim.name)) as CustomRun | null) : null;
    const prClaim = claimedPipelineRun(customRun);
    const pipelineRun = prClaim ? ((await kube.get(GVR.pipelineRuns, ns, prClaim.name)) as PipelineRun | null) : null;
    const membership = pipelineMembership({
      run,
      createdBy,
      customRun,
      customRunCreator: customRun ? await verifyCreator(customRun, "CustomRun", resolve) : undefined,
      pipelineRun,
      pipelineRunCreator: pipelineRun ? await verifyCreator(pipelineRun, "PipelineRun", resolve) : undefined,
    });
    if (!membership.member && !membership.standalone) this.opts.log.info("run does not share its PipelineRun's Agent", { run: runKey(run), why: membership.why });
    return membership;
  }

  /** Whether the share's objects are absent, all made for it, or any of them something else under its names. */
  private async existing(namespace: string, names: ShareNames, pipelineRunUid: string): Promise<"absent" | "ours" | "foreign"> {
    const kube = this.opts.kube;
    // Read by its resource (404 when kagent is not installed, like any absent object), never guessed absent on another error.
    const found = [await kube.get(GVR.agents, namespace, names.agent)];
    for (const r of sharedScopeRefs(namespace, names)) found.push(await kube.getObject(r));
    found.push(await kube.getObject({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", namespace, name: runNames.networkPolicy(names.share) }));
    const present = found.filter((o) => o !== null);
    if (present.length === 0) return "absent";
    return present.every((o) => ownedByShare(o.metadata, names.share, pipelineRunUid) && o.metadata?.labels?.[SHARE_LABEL] === names.share) ? "ours" : "foreign";
  }
}
