// Agents reused within a PipelineRun, the side that reads and writes the
// cluster: it gathers what shared-agent.ts judges a run's membership and
// key on, claims a shared Agent for one run at a time, makes the Agent and
// its scope, and deletes them when their PipelineRun ends (the owner
// reference to the PipelineRun covers its deletion: the garbage collector).
//
// Over 400 lines as one file: choosing, applying, dropping a share and
// deleting it for a run's end must take the one claim map (and the one map
// of drops under way) of one object, and splitting them would hand that
// lock across files.
//
// Claims: the run acting through a shared Agent is the one whose
// status.agentRef names it, in Acting or PostHooks, and has not ended
// (status is the controller's alone; dropIdle proves such a run a step of
// the share before its rights are kept for it). Between the choice and
// that write, this process remembers the claim, so two runs deciding at
// once cannot both take it; only the leader reconciles, and after a
// restart the written status is the claim.
//
// Between steps (no live run holds the share, none has claimed it) the
// share keeps no rights: its Role and RoleBinding are deleted, and made
// again by the next step's apply(). Its Agent stays for the next step only
// when the run that last held it is known and ended (the finisher stopped
// that run's task before writing its end, run-finish.ts); when that run is
// gone (deleted, with its CustomRun, while nobody followed it) or unknown
// (after a restart), a task of it may still run in the share's context, so
// the Agent and its ServiceAccount are deleted too, before any step takes
// the share. Dropping is serialised with claims: a run choosing the share
// waits until a drop under way is done, and a drop does nothing while a
// run holds or has claimed the share.
//
// A deleted Agent is not stopped yet: kagent's Deployment and pod go after
// it (garbage collection, then the pod's grace period), and its task writes
// into the context meanwhile. So a share's Agent is deleted in the
// foreground (it is gone only once its pods are), and no step applies it
// again, nor does a run's end that deleted it get written, before a read
// of it answers 404; each wait is bounded (goneWaitMs), and a step that
// would have to wait longer fails (AgentFailed) instead of sending its
// goal.
import { verifyCreator } from "../guardrails/creator.ts";
import { verifyDecision } from "../guardrails/decision.ts";
import type { AgentConfig, AgentRun, Guardrails } from "../types/agent.ts";
import type { Agent } from "../types/kagent.ts";
import type { CustomRun, PipelineRun } from "../types/tekton.ts";
import type { KubeObject } from "../types/kube.ts";
import { isTerminal } from "./conditions.ts";
import { DEFAULT_KAGENT_RUNTIME } from "./kagent-agent.ts";
import { describeError, GVR, statusCode, type Kube } from "./kube.ts";
import { names as runNames } from "./owned.ts";
import type { Trusted } from "./run-guards.ts";
import type { RunReconcilerOptions } from "./run-options.ts";
import { driftFromDesired, keyFor, shareObjectRefs, sharedObjects, sharedScopeRefs } from "./shared-agent-objects.ts";
import { chooseAgent, claimedCustomRun, claimedPipelineRun, holderOf, ownedByShare, pipelineMembership, pipelineRunOver, SHARE_LABEL, shareNames, type AgentChoice, type Membership, type PipelineRunRef, type ShareNames } from "./shared-agent.ts";
import { runKey } from "./run-status.ts";

/** How often the PipelineRuns of shared Agents are looked at for their end. */
export const DEFAULT_SHARE_SWEEP_MS = 5000;
/** How long a deleted shared Agent is waited for to be gone (its pods' grace period included) before a step reuses its name or a run's end that deleted it is written. */
export const DEFAULT_SHARE_GONE_WAIT_MS = 60_000;
const GONE_POLL_MS = 250;

/** What the keeper uses of the reconciler's options: only these requests, so a test can stand in for the API server. */
export type SharedAgentDeps = Pick<RunReconcilerOptions, "keyring" | "log" | "scopeEnvironment" | "kagentRuntime" | "calls"> & {
  kube: Pick<Kube, "get" | "list" | "listAll" | "getObject" | "apply" | "delete" | "deleteObject">;
};

export class SharedAgentKeeper {
  private readonly opts: SharedAgentDeps;
  private readonly sweepMs: number;
  private readonly goneWaitMs: number;
  /** "<ns>/<agent>" → the uid of the run that claimed it in this process, until that run ends */
  private readonly claims = new Map<string, string>();
  /** "<ns>/<agent>" → the share whose PipelineRun is watched for its end, and for no run holding it */
  private readonly watched = new Map<string, { namespace: string; names: ShareNames }>();
  /** "<ns>/<agent>" → the uid of the last run this process saw take or hold the share */
  private readonly lastHolder = new Map<string, string>();
  /** "<ns>/<agent>" → a drop of the share under way (true: nothing of it is left to watch); a run choosing it waits */
  private readonly dropping = new Map<string, Promise<boolean>>();
  /** "<ns>/<agent>" → a look at one share started by a run's end, awaited by stop() */
  private readonly kicks = new Map<string, Promise<void>>();
  /** "<ns>/<agent>" of shares whose rights were deleted and not applied since (no run claimed them): nothing to look at until one does */
  private readonly stripped = new Set<string>();
  private resumed = false;
  private timer: NodeJS.Timeout | undefined;
  /** the sweep under way, awaited by stop() */
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: SharedAgentDeps, sweepMs = DEFAULT_SHARE_SWEEP_MS, goneWaitMs = DEFAULT_SHARE_GONE_WAIT_MS) {
    this.opts = opts;
    this.sweepMs = sweepMs;
    this.goneWaitMs = goneWaitMs;
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
    let runs: AgentRun[] = [];
    if (membership.member) {
      const config = await kube.get(GVR.agentConfigs, ns, trust.snapshot.config.name);
      const configUid = config?.metadata?.uid;
      if (configUid !== undefined) {
        key = keyFor({ namespace: ns, pipelineRun: membership.pipelineRun, createdBy: trust.createdBy, config: { name: trust.snapshot.config.name, uid: configUid }, snapshot: trust.snapshot, guardrails: trust.guardrails, runtime });
        const names = shareNames(key);
        existing = await this.existing(ns, names, membership.pipelineRun.uid);
        // A run already recorded on the share is the holder itself.
        if (recorded === undefined) {
          runs = (await kube.list(GVR.agentRuns, ns, "")) as AgentRun[];
          holder = holderOf(runs, names.agent, uid);
        }
      }
    }
    const choice = chooseAgent({ runName, membership, routed: this.opts.calls !== undefined, runtime, key, existing, holder, recorded });
    if (choice.kind !== "shared") return choice;
    const claimKey = `${ns}/${choice.names.agent}`;
    // A drop of the share under way (no run held it) is let finish: apply() makes again what it deleted.
    for (let drop = this.dropping.get(claimKey); drop !== undefined; drop = this.dropping.get(claimKey)) await drop;
    // The claim, taken with no await between the look and the take.
    const claimant = this.claims.get(claimKey);
    if (claimant !== undefined && claimant !== uid) {
      return { kind: "own", why: `not shared with the other steps of PipelineRun ${choice.pipelineRun.name}: another of its runs is taking ${choice.names.agent} now, and two goals never share one context at once` };
    }
    this.claims.set(claimKey, uid);
    this.stripped.delete(claimKey);
    // A step taking the share: no task of a run that held it before may still run in its context.
    if (recorded === undefined && this.lastHolder.get(claimKey) !== uid) await this.clearForNewHolder(ns, choice, runs);
    this.lastHolder.set(claimKey, uid);
    return choice;
  }

  /**
   * Before a step takes the share: the Agent made for an earlier step stays
   * only when the run that last held it is known to this process and still
   * there (so it ended, and its end stopped its task: run-finish.ts). A run
   * deleted while nobody followed it, or one a restart forgot, may have left
   * a task running in the context; deleting the Agent (and its identity)
   * stops it, and apply() makes it again for this step.
   */
  private async clearForNewHolder(namespace: string, choice: Extract<AgentChoice, { kind: "shared" }>, runs: readonly AgentRun[]): Promise<void> {
    const last = this.lastHolder.get(`${namespace}/${choice.names.agent}`);
    if (last !== undefined && runs.some((r) => r.metadata?.uid === last)) return;
    const agent = await this.opts.kube.get(GVR.agents, namespace, choice.names.agent);
    if (!agent || !ownedByShare(agent.metadata, choice.names.share, choice.pipelineRun.uid)) return;
    await this.deleteShare(namespace, choice.names, choice.pipelineRun.uid, "all");
    this.opts.log.info("deleted a shared kagent Agent before a step takes it: the run that last held it is gone or unknown, and a task of it may still run", { agent: `${namespace}/${choice.names.agent}`, lastHolder: last ?? "unknown" });
  }

  /**
   * Makes the share's scope and Agent (owned by the PipelineRun): the Agent
   * as kagent has it, "no-api" when kagent is not installed, or why not
   * when an object of the share's names was not made for it (never taken
   * over), or was changed by someone else since it was made.
   *
   * The forced apply resets only the fields agentgate sets; what an editor
   * added while the webhooks were off (an env var, a volume, a skill, pod
   * labels, an annotation kagent copies onto the pods) would survive it and
   * carry into every later step. So each object as the API server returns
   * it must be exactly what was built (driftFromDesired), or the run is
   * refused (ScopeConflict) and the object left for a human to look at:
   * not deleted and made again, since the share's context may already hold
   * a step that ran on the changed Agent, a delete races kagent's and the
   * garbage collector's clean-up of the old Deployment, and whoever changed
   * it while the webhooks were off could change it again in between.
   */
  async apply(run: AgentRun, choice: Extract<AgentChoice, { kind: "shared" }>, config: AgentConfig, guardrails: Guardrails): Promise<{ agent: Agent | "no-api" } | { conflict: string } | { failed: string }> {
    const ns = run.metadata?.namespace ?? "";
    // An Agent being deleted (to stop a task) is applied again only once gone: an apply would land on the dying object, whose pod may still write into the context.
    const dying = await this.awaitGone(ns, choice.names.agent, true);
    if (dying !== undefined) return { failed: dying };
    const env = await this.opts.scopeEnvironment(guardrails);
    const objects = sharedObjects(ns, choice.names, choice.pipelineRun, config, guardrails, env, this.opts.kagentRuntime ?? DEFAULT_KAGENT_RUNTIME);
    this.watch(ns, choice.names);
    // The same list existing() read when the run chose the share.
    for (const ref of shareObjectRefs(ns, choice.names, env.fqdn === true)) {
      const existing = await this.readShareObject(ref);
      if (existing && !ownedByShare(existing.metadata, choice.names.share, choice.pipelineRun.uid)) return { conflict: `${ref.kind} "${ref.name}" already exists in namespace "${ns}" and was not made for the Agent shared by PipelineRun ${choice.pipelineRun.name}, so agentgate does not take it over` };
    }
    for (const object of objects.scope) {
      const changed = this.changedOutside(object, await this.opts.kube.apply(object), choice);
      if (changed) return { conflict: changed };
    }
    let agent: Agent;
    try {
      agent = (await this.opts.kube.apply(objects.agent)) as Agent;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      return { agent: "no-api" };
    }
    const changed = this.changedOutside(objects.agent, agent, choice);
    return changed ? { conflict: changed } : { agent };
  }

  /** A share's object by kind and name: the Agent through its resource (404, like any absent object, when kagent is not installed). */
  private async readShareObject(ref: ReturnType<typeof shareObjectRefs>[number]): Promise<{ metadata?: Parameters<typeof ownedByShare>[0] } | null> {
    return ref.kind === "Agent" ? await this.opts.kube.get(GVR.agents, ref.namespace, ref.name) : await this.opts.kube.getObject(ref);
  }

  /** Why an applied object of the share is not what agentgate built (someone else's fields in it), or undefined when it is. */
  private changedOutside(desired: Agent | Parameters<typeof driftFromDesired>[0], applied: Parameters<typeof driftFromDesired>[1], choice: Extract<AgentChoice, { kind: "shared" }>): string | undefined {
    const drift = driftFromDesired(desired, applied);
    if (drift.length === 0) return undefined;
    const what = `${desired.kind ?? ""} "${desired.metadata?.name ?? ""}"`;
    this.opts.log.warn("an object of a shared Agent was changed outside agentgate; its runs are refused", { object: `${desired.metadata?.namespace ?? ""}/${what}`, fields: drift });
    return `${what} of the Agent shared by PipelineRun ${choice.pipelineRun.name} was changed outside agentgate (${drift.join(", ")}), so agentgate does not act through it; delete it (or start the PipelineRun again) to have it made afresh`;
  }

  /**
   * The run ended: its claim goes, and the shared Agent it used is watched
   * for its PipelineRun's end and looked at now for no run holding it (also
   * after a restart: every run is seen once).
   */
  ended(run: AgentRun): void {
    const uid = run.metadata?.uid ?? "";
    for (const [k, v] of this.claims) if (v === uid) this.claims.delete(k);
    const agent = run.status?.agentRef?.name;
    const share = agent?.endsWith("-agent") ? agent.slice(0, -"-agent".length) : undefined;
    if (share === undefined || agent === runNames.agent(run.metadata?.name ?? "") || !share.startsWith("share-")) return;
    const namespace = run.metadata?.namespace ?? "";
    const names = { share, agent: agent ?? "", contextId: run.status?.agentRef?.contextId ?? "" };
    this.watch(namespace, names);
    const k = `${namespace}/${names.agent}`;
    if (this.stopped || this.kicks.has(k)) return;
    this.kicks.set(k, this.sweepShare(k, namespace, names).finally(() => { this.kicks.delete(k); }));
  }

  /**
   * Once leading: every share's Agent in the cluster is watched (a share
   * whose runs were deleted while no controller ran is seen by nothing
   * else). Its first look deletes what no live run holds.
   */
  async resume(): Promise<void> {
    if (this.resumed || this.stopped) return;
    this.resumed = true;
    try {
      for (const agent of await this.opts.kube.listAll(GVR.agents, SHARE_LABEL)) {
        const share = agent.metadata?.labels?.[SHARE_LABEL] ?? "";
        const name = agent.metadata?.name ?? "";
        if (share.startsWith("share-") && name === `${share}-agent`) this.watch(agent.metadata?.namespace ?? "", { share, agent: name, contextId: "" });
      }
    } catch (err) {
      this.opts.log.warn("cannot list the kagent Agents shared within PipelineRuns; one whose runs were all deleted while no controller ran is deleted only with its PipelineRun", { error: describeError(err) });
    }
  }

  /** No more sweeps (the controller stops leading); resolves once one under way has finished, so nothing is deleted after. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.idle();
    await Promise.all([this.sweeping, ...this.kicks.values(), ...this.dropping.values()]);
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
      await this.sweepShare(k, namespace, names);
    }
    if (this.watched.size === 0) this.idle();
  }

  private async sweepShare(k: string, namespace: string, names: ShareNames): Promise<void> {
    try {
      if (await this.sweepOne(namespace, names)) {
        this.watched.delete(k);
        this.lastHolder.delete(k);
        this.stripped.delete(k);
      }
    } catch (err) {
      this.opts.log.warn("cannot look at a shared Agent's PipelineRun and runs", { agent: k, error: describeError(err) });
    }
  }

  /** True when the share needs no more watching: nothing of it is left. */
  private async sweepOne(namespace: string, names: ShareNames): Promise<boolean> {
    const kube = this.opts.kube;
    const pr = await this.pipelineRunOf(namespace, names);
    // Nothing of the share left, or nothing made for one: never ours to delete.
    if (pr === undefined) return true;
    const over = pipelineRunOver((await kube.get(GVR.pipelineRuns, namespace, pr.name)) as PipelineRun | null, pr);
    if (over === undefined) return this.stripped.has(`${namespace}/${names.agent}`) ? false : this.drop(namespace, names, pr);
    await this.deleteShare(namespace, names, pr.uid, "all");
    this.opts.log.info("deleted a shared kagent Agent: its PipelineRun is over", { agent: `${namespace}/${names.agent}`, why: over });
    return true;
  }

  /** The PipelineRun the share's Agent (or, without it, an object of its identity) was made for; undefined when none of them is there. */
  private async pipelineRunOf(namespace: string, names: ShareNames): Promise<PipelineRunRef | undefined> {
    const found: (KubeObject | null)[] = [await this.opts.kube.get(GVR.agents, namespace, names.agent)];
    // Deleted Agent last (deleteShare), so without it these are rarely there.
    if (!found[0]) for (const r of sharedScopeRefs(namespace, names)) found.push(await this.opts.kube.getObject(r));
    for (const o of found) {
      const owner = o?.metadata?.ownerReferences?.find((x) => x.kind === "PipelineRun" && x.controller === true);
      if (owner && ownedByShare(o?.metadata, names.share, owner.uid)) return { name: owner.name, uid: owner.uid };
    }
    return undefined;
  }

  /** Drops the share while no run holds it, one drop at a time; true when nothing of it is left (see dropIdle). */
  private drop(namespace: string, names: ShareNames, pr: PipelineRunRef): Promise<boolean> {
    const k = `${namespace}/${names.agent}`;
    const under = this.dropping.get(k);
    if (under) return under;
    const dropping = this.dropIdle(namespace, names, pr);
    const settled: Promise<boolean> = dropping.catch(() => false).finally(() => { if (this.dropping.get(k) === settled) this.dropping.delete(k); });
    this.dropping.set(k, settled);
    return dropping;
  }

  /**
   * A share no live run holds and none has claimed keeps no rights: its
   * Role and RoleBinding are deleted (the next step's apply() makes them
   * again). Its Agent and ServiceAccount go too unless the run that last
   * held it is known and still there (clearForNewHolder). True when the
   * Agent is gone.
   */
  private async dropIdle(namespace: string, names: ShareNames, pr: PipelineRunRef): Promise<boolean> {
    const kube = this.opts.kube;
    const k = `${namespace}/${names.agent}`;
    const runs = (await kube.list(GVR.agentRuns, namespace, "")) as AgentRun[];
    // A claim of a run that is gone, or ended unseen, holds nothing.
    for (const [c, claimant] of this.claims) {
      if (!c.startsWith(`${namespace}/`)) continue;
      const run = runs.find((r) => r.metadata?.uid === claimant);
      if (!run || isTerminal(run.status)) this.claims.delete(c);
    }
    if (this.claims.has(k)) return false;
    const holder = holderOf(runs, names.agent, "");
    if (holder !== undefined) {
      if (await this.provenHolder(runs, names, pr)) return false;
      // What holds it only by a status it cannot prove (written while the webhooks were off, or a step no longer of the PipelineRun, about to be ended) keeps it no rights; its Agent stays for the run's end to stop its task.
      await this.deleteShare(namespace, names, pr.uid, "rights");
      this.opts.log.info("deleted a shared kagent Agent's rights: the run whose status says it holds the share is not proven a step of it", { agent: k, run: holder });
      return false;
    }
    const last = this.lastHolder.get(k);
    const keepAgent = last !== undefined && runs.some((r) => r.metadata?.uid === last);
    await this.deleteShare(namespace, names, pr.uid, keepAgent ? "rights" : "all");
    if (keepAgent) {
      // Unless a run claims the share meanwhile (choose() waits for this drop, then clears the mark).
      this.stripped.add(k);
      return false;
    }
    this.lastHolder.delete(k);
    this.opts.log.info("deleted a shared kagent Agent no run holds: the run that last held it is gone or unknown, and a task of it may still run", { agent: k, lastHolder: last ?? "unknown" });
    return true;
  }

  /**
   * Deletes what of the share was made for it (agentgate's label, the share
   * label, this PipelineRun as controlling owner): its rights (RoleBinding,
   * then Role), or everything but the NetworkPolicy, which stays with the
   * PipelineRun confining pods kagent is taking down. The Agent goes last,
   * so a restart in between still finds the share by its Agent (resume()),
   * and in the foreground (kube.ts delete): whoever reuses its name or
   * writes a run's end after it waits for it to be gone (awaitGone).
   */
  private async deleteShare(namespace: string, names: ShareNames, pipelineRunUid: string, what: "rights" | "all"): Promise<void> {
    const kube = this.opts.kube;
    for (const r of sharedScopeRefs(namespace, names)) {
      if (what === "rights" && r.kind === "ServiceAccount") continue;
      const object = await kube.getObject(r);
      if (object && ownedByShare(object.metadata, names.share, pipelineRunUid)) await kube.deleteObject(r);
    }
    if (what === "rights") return;
    const agent = await kube.get(GVR.agents, namespace, names.agent);
    if (agent && ownedByShare(agent.metadata, names.share, pipelineRunUid)) await kube.delete(GVR.agents, namespace, names.agent, "Foreground");
  }

  /**
   * Waits (at most goneWaitMs) until the Agent reads 404: undefined once it
   * does, or why not. onlyDying: an Agent there and not being deleted is
   * not waited for (undefined at once).
   */
  private async awaitGone(namespace: string, agent: string, onlyDying = false): Promise<string | undefined> {
    const until = Date.now() + this.goneWaitMs;
    for (;;) {
      const found = await this.opts.kube.get(GVR.agents, namespace, agent);
      if (!found || (onlyDying && found.metadata?.deletionTimestamp === undefined)) return undefined;
      if (Date.now() >= until) {
        const finalizers = (found.metadata?.finalizers ?? []).join(", ") || "none";
        return `shared Agent ${agent} was deleted to stop a task in its context and is still there after ${String(Math.round(this.goneWaitMs / 1000))} s (${found.metadata?.deletionTimestamp !== undefined ? `being deleted since ${found.metadata.deletionTimestamp}, finalizers: ${finalizers}` : "not being deleted"}): its pod may still run, so no goal is sent into its context. kagent's pods take their grace period to stop; an Agent that never goes has a finalizer nobody removes (the cluster's garbage collector removes foregroundDeletion)`;
      }
      await new Promise((r) => setTimeout(r, GONE_POLL_MS));
    }
  }

  /**
   * A run that held the share ends and its task may still run (its cancel
   * failed or was refused, or no task id came back): the share is deleted
   * (its rights and identity, then its Agent in the foreground) and waited
   * for until gone, before the run's end is written. Serialised with the
   * claims like a drop: nothing is deleted while another run holds or has
   * claimed the share (a choice waits for this meanwhile). The caller
   * proved the share is this run's (run-finish.ts). Returns what became of
   * it.
   */
  deleteForEnd(run: AgentRun, agent: string): Promise<{ gone: true } | { gone: false; deleted: boolean; why: string }> {
    const namespace = run.metadata?.namespace ?? "";
    const k = `${namespace}/${agent}`;
    const prior = this.dropping.get(k);
    const deleting = (async (): Promise<{ gone: true } | { gone: false; deleted: boolean; why: string }> => {
      if (prior) await prior;
      const uid = run.metadata?.uid ?? "";
      const claimant = this.claims.get(k);
      if (claimant !== undefined && claimant !== uid) return { gone: false, deleted: false, why: "another run of the PipelineRun has claimed it" };
      const other = holderOf((await this.opts.kube.list(GVR.agentRuns, namespace, "")) as AgentRun[], agent, uid);
      if (other !== undefined) return { gone: false, deleted: false, why: `run ${other} acts through it` };
      const found = await this.opts.kube.get(GVR.agents, namespace, agent);
      const owner = found?.metadata?.ownerReferences?.find((o) => o.kind === "PipelineRun" && o.controller === true);
      if (!found || !owner || !agent.endsWith("-agent")) return { gone: true };
      const names = { share: agent.slice(0, -"-agent".length), agent, contextId: "" };
      if (!ownedByShare(found.metadata, names.share, owner.uid)) return { gone: false, deleted: false, why: "it was not made for a share" };
      this.watch(namespace, names);
      await this.deleteShare(namespace, names, owner.uid, "all");
      const still = await this.awaitGone(namespace, agent);
      return still === undefined ? { gone: true } : { gone: false, deleted: true, why: still };
    })();
    const settled: Promise<boolean> = deleting.then(() => false, () => false).finally(() => { if (this.dropping.get(k) === settled) this.dropping.delete(k); });
    this.dropping.set(k, settled);
    return deleting;
  }

  /** The run that last held the share could not have its task stopped: the share's Agent is not kept for the next step (dropIdle, clearForNewHolder delete it first). */
  taskMayRun(namespace: string, agent: string): void {
    this.lastHolder.delete(`${namespace}/${agent}`);
  }

  /**
   * Whether a run whose status says it acts through the share (holderOf) is
   * proven to, as when it chose it: its decision verifies, its membership
   * proves the share's PipelineRun, and its key names this Agent. One that
   * cannot be read now is taken as holding it.
   */
  private async provenHolder(runs: readonly AgentRun[], names: ShareNames, pr: PipelineRunRef): Promise<boolean> {
    for (const run of runs) {
      if (holderOf([run], names.agent, "") === undefined) continue;
      try {
        const decision = await verifyDecision(run, this.opts.keyring.resolve);
        if (!decision.ok) continue;
        const { createdBy, snapshot, guardrails } = decision.decision;
        const membership = await this.membership(run, createdBy);
        if (!membership.member || membership.pipelineRun.uid !== pr.uid) continue;
        const ns = run.metadata?.namespace ?? "";
        const configUid = (await this.opts.kube.get(GVR.agentConfigs, ns, snapshot.config.name))?.metadata?.uid;
        if (configUid === undefined) continue;
        const key = keyFor({ namespace: ns, pipelineRun: membership.pipelineRun, createdBy, config: { name: snapshot.config.name, uid: configUid }, snapshot, guardrails, runtime: this.opts.kagentRuntime ?? DEFAULT_KAGENT_RUNTIME });
        if (shareNames(key).agent === names.agent) return true;
      } catch (err) {
        this.opts.log.warn("cannot prove a run holds a shared Agent; taken as holding it", { run: runKey(run), agent: names.agent, error: describeError(err) });
        return true;
      }
    }
    return false;
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

  /**
   * Whether the share's objects are absent, all made for it, or any of them
   * something else under its names: every object of shareObjectRefs, the
   * list apply() reads before it makes anything (so a run that chose the
   * share never fails there on an object this look did not read).
   */
  private async existing(namespace: string, names: ShareNames, pipelineRunUid: string): Promise<"absent" | "ours" | "foreign"> {
    const found = [];
    // Each read by its resource, never guessed absent on an error other than 404.
    for (const r of shareObjectRefs(namespace, names, await this.ciliumServed())) found.push(await this.readShareObject(r));
    const present = found.filter((o) => o !== null);
    if (present.length === 0) return "absent";
    return present.every((o) => ownedByShare(o.metadata, names.share, pipelineRunUid) && o.metadata?.labels?.[SHARE_LABEL] === names.share) ? "ours" : "foreign";
  }

  /** Whether the cluster serves CiliumNetworkPolicy (the scope environment's fact; no Service is read for permissive guardrails). */
  private async ciliumServed(): Promise<boolean> {
    const env = await this.opts.scopeEnvironment({ tokenBudget: 0, timeout: "0s", maxIterations: 0, networkPolicy: "permissive", egress: [], rbac: [], approval: { required: false, approverGroups: [] }, tools: [] });
    return env.fqdn === true;
  }
}
