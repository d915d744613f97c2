// The HTTPS front of the gateway. The two admission endpoints are served on
// a plain node:https path (the hot path: express costs more per request than
// the policy evaluation does); health, readiness and metrics go through
// express.
import type { Endpoint, PathToken } from "./path-token.ts";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import express from "express";
import { admit, UnknownResourceError, type Decision, type GatewayDeps, type Origin } from "../gateway/admit.ts";
import { findResource } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { AdmissionRequest } from "../types/admission.ts";
import { DEFAULT_REVIEW_LIMITS, ReviewTooCostlyError, WireError, parseAdmissionReview, type ReviewLimits } from "../wire/parse.ts";
import { BodyTooLarge, readBody } from "../streams/read-body.ts";
import { decisionIdLine, serializeReview, toAdmissionReview } from "../wire/respond.ts";
import { denialLines } from "../wire/messages.ts";
import type { ClientAuth } from "./client-auth.ts";
import type { DecisionLogger } from "./decision-log.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { KeyPair } from "./tls-reload.ts";
import { DEFAULT_MAX_IN_FLIGHT, InFlightLimit, OverloadLog, afterArrivals, overloadedReview, reviewUid } from "./overload.ts";

/** Object and oldObject of the largest Kubernetes object (1.5 MiB each), plus the envelope. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024 + 64 * 1024;

export interface GatewayServerOptions {
  tls: KeyPair;
  deps: GatewayDeps;
  metrics: GatewayMetrics;
  log: Logger;
  /** why the gateway is not ready, or undefined when it is */
  notReady: () => string | undefined;
  /** what /readyz adds while ready, e.g. a refused newer bundle (the last good one answers) */
  readyNotes?: () => readonly string[];
  /** OPA-shaped decision logs, when enabled */
  decisions?: DecisionLogger;
  /** told of every denied UPDATE of an existing object (to record an Event on it) */
  onDeniedUpdate?: (request: AdmissionRequest, message: string) => void;
  /** what one review may cost before it is parsed; DEFAULT_REVIEW_LIMITS when absent */
  reviewLimits?: ReviewLimits;
  /** admission endpoints only for callers with a client certificate from this CA */
  clientAuth?: ClientAuth;
  /** admission endpoints only at /validate/<token> and /mutate/<token> (path-token.ts) */
  pathToken?: PathToken;
  /** admission reviews read and not yet answered, at most; more are denied unevaluated (overload.ts); DEFAULT_MAX_IN_FLIGHT when absent */
  maxInFlight?: number;
}

/** The shared reader, its refusal said as the wire's 413. */
async function readReview(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await readBody(req, limit);
  } catch (err) {
    throw err instanceof BodyTooLarge ? new WireError(err.message, 413) : err;
  }
}

function send(res: ServerResponse, status: number, body: string, contentType = "application/json"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Fail closed on anything unexpected, with the uid in the log to find it. */
function failClosed(request: AdmissionRequest, err: unknown): string {
  const reason = errorMessage(err);
  return serializeReview({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: {
      uid: request.uid,
      allowed: false,
      status: { code: 500, reason: "InternalError", message: `[gateway-error] agentgate could not evaluate this request: ${reason}; retry, and if it persists tell the platform team\n${decisionIdLine(request.uid)}`, status: "Failure" },
    },
  });
}

/**
 * A review too costly to evaluate, refused as a decision: the API server
 * shows the reason to whoever applied the object, and a denial, unlike an
 * HTTP error, cannot become an allow under failurePolicy: Ignore.
 */
function tooCostly(origin: Origin, reasons: readonly string[]): Decision {
  return {
    origin,
    allowed: false,
    exempt: false,
    violations: reasons.map((message) => ({ policy: "request-size", field: "", message, action: "deny" })),
    patch: [],
    failures: [],
    revision: "",
  };
}

const remoteAddress = (req: IncomingMessage): string => {
  const { remoteAddress: host, remotePort: port } = req.socket;
  return host === undefined ? "" : `${host.includes(":") ? `[${host}]` : host}:${String(port ?? "")}`;
};

export function createGatewayServer(opts: GatewayServerOptions): Server {
  const { deps, metrics, log } = opts;
  const limits = opts.reviewLimits ?? DEFAULT_REVIEW_LIMITS;
  const inFlight = new InFlightLimit(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  const overloadLog = new OverloadLog(log, inFlight.max);

  /** The bundles in force; none when no engine is (the very error a refusal may be about). */
  function bundlesInForce(): { name: string; revision: string }[] {
    try {
      return deps.engine().bundles.map((b) => b.bundle);
    } catch {
      return [];
    }
  }

  /** A 4xx for what is not a review the gateway can read: said in one line, counted, logged. */
  function badRequest(origin: Origin, err: unknown, res: ServerResponse): void {
    const wire = err instanceof WireError ? err : new WireError(errorMessage(err));
    metrics.badRequests.inc({ reason: wire.status === 413 ? "too_large" : "malformed" });
    log.warn("bad admission request", { webhook: origin, error: wire.message });
    send(res, wire.status, `${JSON.stringify({ error: wire.message })}\n`);
  }

  /**
   * Reads a review, then takes a place in flight for it or refuses it. The
   * place is taken once the body is in: a caller slow to send one holds no
   * place, so it cannot keep the API server's reviews out.
   */
  async function serveReview(origin: Origin, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let body: Buffer;
    try {
      body = await readReview(req, MAX_BODY_BYTES);
    } catch (err) {
      badRequest(origin, err, res);
      return;
    }
    if (!inFlight.tryEnter()) {
      refuseOverloaded(origin, body, res);
      return;
    }
    try {
      await afterArrivals();
      await handleReview(origin, body, req, res, started);
    } finally {
      inFlight.leave();
    }
  }

  async function handleReview(origin: Origin, body: Buffer, req: IncomingMessage, res: ServerResponse, started: bigint): Promise<void> {
    let request: AdmissionRequest;
    try {
      request = parseAdmissionReview(body, limits);
    } catch (err) {
      if (err instanceof ReviewTooCostlyError && findResource(err.request.resource)) {
        answerTooCostly(origin, err, req, res, started);
        return;
      }
      if (err instanceof ReviewTooCostlyError) {
        metrics.badRequests.inc({ reason: "unknown_resource" });
        send(res, 400, `${JSON.stringify({ error: new UnknownResourceError(err.request).message })}\n`);
        return;
      }
      badRequest(origin, err, res);
      return;
    }
    const resource = findResource(request.resource);
    try {
      const decision = await admit(request, deps, origin);
      send(res, 200, serializeReview(toAdmissionReview(request.uid, decision, request.uid)));
      const outcome = decision.exempt ? "exempt" : decision.failures.length > 0 ? "error" : decision.allowed ? "allowed" : "denied";
      metrics.requests.inc({ webhook: origin, resource: request.resource.resource, operation: request.operation, decision: outcome });
      for (const v of decision.violations) metrics.violations.inc({ policy: v.policy, action: v.action, namespace: request.namespace ?? "", kind: request.kind.kind });
      opts.decisions?.log({ webhook: origin, input: decision.input, outcome: { decision }, elapsedNs: process.hrtime.bigint() - started, bundles: bundlesInForce(), remoteAddress: remoteAddress(req), decisionId: request.uid });
      if (!decision.allowed && request.operation === "UPDATE" && !request.dryRun) opts.onDeniedUpdate?.(request, denialLines(decision.violations).join("; "));
      for (const f of decision.failures) {
        metrics.evaluationErrors.inc({ bundle: f.bundle });
        log.error("policy evaluation failed; request refused", { uid: request.uid, bundle: f.bundle, revision: f.revision, error: f.error });
      }
      // winston formats a line (timestamp, JSON) before its transport drops
      // it by level: ask first, so a gateway logging at warn does not pay for it.
      if ((!decision.allowed || decision.violations.length > 0) && log.isLevelEnabled("info")) {
        log.info("admission decision", {
          uid: request.uid,
          decision_id: request.uid,
          webhook: origin,
          kind: request.kind.kind,
          namespace: request.namespace,
          name: request.name,
          user: request.userInfo.username,
          allowed: decision.allowed,
          violations: decision.violations,
          revision: decision.revision,
        });
      }
    } catch (err) {
      if (err instanceof UnknownResourceError) {
        metrics.badRequests.inc({ reason: "unknown_resource" });
        send(res, 400, `${JSON.stringify({ error: err.message })}\n`);
        return;
      }
      log.error("admission failed; request refused", { uid: request.uid, webhook: origin, role: resource?.role, error: err instanceof Error ? err.stack : String(err) });
      metrics.requests.inc({ webhook: origin, resource: request.resource.resource, operation: request.operation, decision: "error" });
      send(res, 200, failClosed(request, err));
      // The refusal is a decision too: audited like the others, with what was asked.
      opts.decisions?.log({ webhook: origin, input: { request }, outcome: { error: errorMessage(err) }, elapsedNs: process.hrtime.bigint() - started, bundles: bundlesInForce(), remoteAddress: remoteAddress(req), decisionId: request.uid });
    } finally {
      metrics.duration.observe({ webhook: origin }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** Over the in-flight limit: denied from the uid alone, nothing parsed or evaluated. */
  function refuseOverloaded(origin: Origin, body: Buffer, res: ServerResponse): void {
    metrics.overloaded.inc({ webhook: origin });
    overloadLog.refusal();
    const uid = reviewUid(body);
    // No uid, no review to answer: said as HTTP, which only a caller other than the API server sends.
    if (uid === undefined) send(res, 429, `${JSON.stringify({ error: "[gateway-overloaded] too many admission reviews in flight, and this body holds no AdmissionReview uid" })}\n`);
    else send(res, 200, serializeReview(overloadedReview(uid, inFlight.max)));
  }

  function answerTooCostly(origin: Origin, err: ReviewTooCostlyError, req: IncomingMessage, res: ServerResponse, started: bigint): void {
    const { request } = err;
    const decision = tooCostly(origin, err.reasons);
    send(res, 200, serializeReview(toAdmissionReview(request.uid, decision, request.uid)));
    metrics.requests.inc({ webhook: origin, resource: request.resource.resource, operation: request.operation, decision: "denied" });
    metrics.violations.inc({ policy: "request-size", action: "deny", namespace: request.namespace ?? "", kind: request.kind.kind }, decision.violations.length);
    metrics.duration.observe({ webhook: origin }, Number(process.hrtime.bigint() - started) / 1e9);
    // Only the envelope is known: the object was never parsed, and is not logged.
    opts.decisions?.log({ webhook: origin, input: { request }, outcome: { decision }, elapsedNs: process.hrtime.bigint() - started, bundles: bundlesInForce(), remoteAddress: remoteAddress(req), decisionId: request.uid });
    log.warn("admission review over the cost limits; denied without evaluation", {
      uid: request.uid,
      webhook: origin,
      kind: request.kind.kind,
      namespace: request.namespace,
      name: request.name,
      user: request.userInfo.username,
      values: err.scan.values,
      depth: err.scan.depth,
      limits,
    });
  }

  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => { res.type("text/plain").send("ok\n"); });
  app.get("/readyz", (_req, res) => {
    const why = opts.notReady();
    // Still ready (the probe reads the status), but a person reading the body learns what is wrong.
    if (why === undefined) res.type("text/plain").send(["ok", ...(opts.readyNotes?.() ?? [])].map((l) => `${l}\n`).join(""));
    else res.status(503).type("text/plain").send(`not ready: ${why}\n`);
  });
  app.get("/metrics", (_req, res, next) => {
    metrics.registry.metrics().then((text) => res.type(metrics.registry.contentType).send(text), next);
  });
  app.use((req, res) => {
    const allowed = req.path === "/validate" || req.path === "/mutate" ? "POST" : "GET";
    res.status(req.path === "/validate" || req.path === "/mutate" ? 405 : 404).json({
      error: `${req.method} ${req.path} is not served; endpoints: POST /validate, POST /mutate, GET /healthz, GET /readyz, GET /metrics${allowed === "POST" ? " (use POST)" : ""}`,
    });
  });

  const serving = { cert: opts.tls.cert, key: opts.tls.key, minVersion: "TLSv1.2" } as const;
  const { clientAuth, pathToken } = opts;
  const server = createServer({ ...serving, ...clientAuth?.serverOptions() }, (req, res) => {
    const path = req.url?.split("?")[0] ?? "";
    const admission = /^\/(validate|mutate)(\/|$)/.exec(path)?.[1] as Endpoint | undefined;
    if (req.method === "POST" && admission !== undefined) {
      const endpoint = pathToken ? pathToken.match(path) : path === `/${admission}` ? admission : undefined;
      if (endpoint === undefined) {
        if (pathToken) metrics.badRequests.inc({ reason: "forbidden" });
        res.setHeader("connection", "close");
        // Neither the path expected nor how it is made: the caller is not the API server.
        send(res, pathToken ? 403 : 404, `${JSON.stringify({ error: pathToken ? `POST /${admission}: this gateway answers admission reviews only at the path its webhook configurations name, for the API server` : `POST ${path} is not served; endpoints: POST /validate, POST /mutate` })}\n`);
        return;
      }
      const verdict = clientAuth?.verdict(req.socket as TLSSocket);
      if (verdict !== undefined && !verdict.ok) {
        metrics.badRequests.inc({ reason: verdict.status === 401 ? "unauthenticated" : "forbidden" });
        // The body is not read: close rather than drain what an unknown caller sends.
        res.setHeader("connection", "close");
        send(res, verdict.status, `${JSON.stringify({ error: `POST /${endpoint}: ${verdict.error}` })}\n`);
        return;
      }
      void serveReview(endpoint, req, res);
      return;
    }
    app(req, res);
  });
  clientAuth?.attach(server, serving);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
