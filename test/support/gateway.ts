// The gateway in this process (startGateway) as `agentgate serve --offline`
// runs it in the tests: its own namespace and ServiceAccount, no watch caches,
// no drain, a free loopback port.
import { startGateway, type RunningGateway, type ServeOptions } from "../../src/cli/serve.ts";

export const OFFLINE_GATEWAY: ServeOptions = {
  listen: "127.0.0.1:0",
  bundle: [],
  offline: true,
  namespace: "agentgate-system",
  serviceAccount: "system:serviceaccount:agentgate-system:agentgate",
  trustedUser: [],
  drainSeconds: 0,
};

/**
 * `agentgate serve --offline --no-default-bundle --bundle <source>
 * --bundle-poll-interval … --bundle-cache-dir … [--bundle-verification-key …]`:
 * the gateway over a bundle service alone, so the answers are the service's
 * bundle's.
 */
export function gatewayOverBundle(source: string, opts: { pollInterval: string; cacheDir: string; verificationKey?: string }): Promise<RunningGateway> {
  return startGateway({
    ...OFFLINE_GATEWAY,
    bundle: [source],
    defaultBundle: false,
    bundlePollInterval: opts.pollInterval,
    bundleCacheDir: opts.cacheDir,
    ...(opts.verificationKey === undefined ? {} : { bundleVerificationKey: opts.verificationKey }),
  });
}

/** Where a self-managed gateway keeps its certificates, and the webhook configurations it patches: the chart's names. */
export const SELF_MANAGED = { namespace: "agentgate-system", secret: "agentgate-webhook-tls", webhookConfig: "agentgate" } as const;

/**
 * `agentgate serve --offline` on this port with self-managed certificates:
 * made and rotated in SELF_MANAGED's Secret, for the Service "agentgate"
 * and 127.0.0.1, and patched into its webhook configurations' caBundle.
 * The cluster is used for the certificates only (no watch caches).
 */
export const selfManagedGateway = (port: number, kubeconfig: string): ServeOptions => ({
  ...OFFLINE_GATEWAY,
  listen: `127.0.0.1:${String(port)}`,
  kubeconfig,
  certSecret: `${SELF_MANAGED.namespace}/${SELF_MANAGED.secret}`,
  certService: "agentgate",
  certHost: ["127.0.0.1"],
  webhookConfig: [SELF_MANAGED.webhookConfig],
});
