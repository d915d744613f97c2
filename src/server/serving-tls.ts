// The certificate the webhook serves first, by where it comes from: files
// (reloaded as they change), a Secret agentgate keeps (a placeholder until
// the Secret's is loaded; /readyz says not ready meanwhile), or one made for
// this process with its own CA, which an operator puts in the webhook's
// caBundle.
import { writeFile } from "node:fs/promises";
import type { SelfManagedPlan } from "../certs/self-managed.ts";
import { AgentgateError } from "../errors.ts";
import { describeFileError } from "../file-errors.ts";
import { generateServingCertificate } from "../tls/self-signed.ts";
import type { KeyPair } from "./tls-reload.ts";

export type ServingTls =
  | { source: "files"; certFile: string; keyFile: string; pair: KeyPair }
  | { source: "secret"; plan: SelfManagedPlan }
  /** caOut: where the made CA is written for the operator */
  | { source: "generated"; caOut?: string };

export interface InitialTls {
  pair: KeyPair;
  /** the CA of a generated certificate */
  caCert?: string;
}

/** The service name the generated certificate is for, in the gateway's namespace. */
const SERVICE = "agentgate";

export async function initialTls(tls: ServingTls, namespace: string): Promise<InitialTls> {
  if (tls.source === "files") return { pair: tls.pair };
  if (tls.source === "secret") {
    const placeholder = generateServingCertificate(tls.plan.policy.hosts, 1);
    return { pair: { cert: placeholder.cert, key: placeholder.key } };
  }
  const generated = generateServingCertificate(["localhost", "127.0.0.1", "::1", SERVICE, `${SERVICE}.${namespace}`, `${SERVICE}.${namespace}.svc`]);
  const caOut = tls.caOut;
  if (caOut) {
    await writeFile(caOut, generated.caCert).catch((err: unknown) => {
      throw new AgentgateError("input", `cannot write: ${describeFileError(err, "write")}`, { field: "tls.caOut", cause: err });
    });
  }
  return { pair: { cert: generated.cert, key: generated.key }, caCert: generated.caCert };
}
