// Keeps the caBundle of every webhook entry of the named Validating and
// MutatingWebhookConfigurations equal to the CAs the certificate Secret says
// to trust. Writes are conditional on the resourceVersion read (optimistic
// concurrency), and a replica that has not seen the newest Secret yet never
// removes a CA newer than any it knows of: that CA comes from a newer Secret,
// and removing it could make the API server distrust a certificate a peer is
// about to serve.
import { X509Certificate } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { KubeApiError, type KubeApi } from "../kube/api.ts";
import type { Logger } from "../log.ts";
import { fingerprint, joinPemBundle, sortCertificates, splitPemBundle } from "./material.ts";
import { describeError, statusCode } from "../kube/errors.ts";
import { AgentgateError } from "../errors.ts";

export type WebhookKind = "validating" | "mutating";

export interface WebhookConfigRef {
  /** the kinds looked for under this name: both unless the flag named one */
  kinds: WebhookKind[];
  name: string;
}

export class WebhookConfigRefError extends AgentgateError {
  constructor(message: string) {
    super("usage", message);
    this.name = "WebhookConfigRefError";
  }
}

/** `NAME` (both kinds), `validating/NAME` or `mutating/NAME`. */
export function parseWebhookConfigRef(text: string): WebhookConfigRef {
  const m = /^(?:(validating|mutating)\/)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m?.[2]) throw new WebhookConfigRefError(`${JSON.stringify(text)}: expected NAME, validating/NAME or mutating/NAME (a DNS subdomain name)`);
  return { kinds: m[1] ? [m[1] as WebhookKind] : ["validating", "mutating"], name: m[2] };
}

function parseable(pems: readonly string[]): string[] {
  return pems.filter((p) => {
    try {
      new X509Certificate(p);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The caBundle to write: the CAs wanted, unexpired, plus any unexpired CA
 * already present that is newer than every CA wanted.
 */
export function mergeCaBundle(wanted: readonly string[], present: readonly string[], now: Date): string[] {
  const live = (pem: string) => new X509Certificate(pem).validToDate.getTime() > now.getTime();
  const newestWanted = Math.max(...wanted.map((pem) => new X509Certificate(pem).validFromDate.getTime()));
  const newer = parseable(present).filter((pem) => live(pem) && new X509Certificate(pem).validFromDate.getTime() > newestWanted);
  return sortCertificates([...wanted.filter(live), ...newer]);
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const fa = new Set(parseable(a).map(fingerprint));
  const fb = new Set(parseable(b).map(fingerprint));
  return fa.size === fb.size && parseable(a).length === a.length && [...fa].every((f) => fb.has(f));
};

export const decodeCaBundle = (b64: string | undefined): string[] => splitPemBundle(Buffer.from(b64 ?? "", "base64").toString("utf8"));

export interface SyncResult {
  /** every configuration found now trusts every CA wanted */
  complete: boolean;
  /** "<kind>/<name>" of the configurations written */
  patched: string[];
  /** references that matched no configuration */
  absent: string[];
}


const MAX_CONFLICT_RETRIES = 5;

type AnyWebhookConfiguration = k8s.V1ValidatingWebhookConfiguration | k8s.V1MutatingWebhookConfiguration;

const configPath = (kind: WebhookKind, name: string): string => `/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations/${encodeURIComponent(name)}`;

export class CaBundleSync {
  private readonly api: KubeApi;
  private readonly refs: readonly WebhookConfigRef[];
  private readonly log: Logger;

  constructor(api: KubeApi, refs: readonly WebhookConfigRef[], log: Logger) {
    this.api = api;
    this.refs = refs;
    this.log = log;
  }

  get configured(): boolean {
    return this.refs.length > 0;
  }

  private read(kind: WebhookKind, name: string): Promise<AnyWebhookConfiguration> {
    return this.api.get<AnyWebhookConfiguration>(configPath(kind, name));
  }

  private replace(kind: WebhookKind, name: string, body: AnyWebhookConfiguration): Promise<AnyWebhookConfiguration> {
    return this.api.replace<AnyWebhookConfiguration>(configPath(kind, name), body);
  }

  /** Brings one configuration's caBundles in line; "absent" when it does not exist. */
  private async syncOne(kind: WebhookKind, name: string, wanted: readonly string[], now: Date): Promise<"unchanged" | "patched" | "absent"> {
    for (let attempt = 1; ; attempt++) {
      let config: AnyWebhookConfiguration;
      try {
        config = await this.read(kind, name);
      } catch (err) {
        if (statusCode(err) === 404) return "absent";
        throw err;
      }
      let changed = false;
      for (const webhook of config.webhooks ?? []) {
        const present = decodeCaBundle(webhook.clientConfig.caBundle);
        const merged = mergeCaBundle(wanted, present, now);
        if (sameSet(present, merged)) continue;
        webhook.clientConfig.caBundle = Buffer.from(joinPemBundle(merged)).toString("base64");
        changed = true;
      }
      if (!changed) return "unchanged";
      try {
        // config still carries the resourceVersion it was read at.
        await this.replace(kind, name, config);
        return "patched";
      } catch (err) {
        if (statusCode(err) !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw err;
      }
    }
  }

  async sync(wanted: readonly string[], now = new Date()): Promise<SyncResult> {
    const result: SyncResult = { complete: true, patched: [], absent: [] };
    for (const ref of this.refs) {
      let found = false;
      for (const kind of ref.kinds) {
        let outcome;
        try {
          outcome = await this.syncOne(kind, ref.name, wanted, now);
        } catch (err) {
          result.complete = false;
          this.log.warn("cannot update the caBundle of a webhook configuration; will retry", { webhookConfiguration: `${kind}/${ref.name}`, error: describe(err) });
          found = true;
          continue;
        }
        if (outcome !== "absent") found = true;
        if (outcome === "patched") result.patched.push(`${kind}/${ref.name}`);
      }
      if (!found) result.absent.push(ref.name);
    }
    if (result.patched.length > 0) this.log.info("caBundle updated in webhook configurations", { patched: result.patched, cas: wanted.length });
    if (result.absent.length > 0) this.log.warn("webhook configuration not found; its caBundle will be set once it exists", { names: result.absent });
    return result;
  }
}

/** "HTTP 403: <the API server's message>" for an API server's refusal, else the error's message. */
export function describe(err: unknown): string {
  if (err instanceof KubeApiError) return describeError(err);
  return err instanceof Error ? err.message : String(err);
}
