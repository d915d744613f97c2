// The gateway's signing keyring as configured: keys kept in a Secret (made
// if absent, rotated) or a fixed key (a file's, or one made for this
// process). The command line chooses; this only starts what was chosen.
import type { KubeApi } from "../kube/api.ts";
import type { Logger } from "../log.ts";
import { SecretKeyring } from "./cluster-keyring.ts";
import type { Keyring } from "./keyring.ts";
import type { RotationPolicy } from "./rotation.ts";

export type SigningPlan =
  | { kind: "secret"; ref: { namespace: string; name: string }; rotation: RotationPolicy }
  | { kind: "fixed"; keyring: Keyring };

/** Started, so it is loading (or made) when this returns. */
export async function startSigning(plan: SigningPlan, api: KubeApi | undefined, log: Logger): Promise<Keyring> {
  if (plan.kind === "fixed") return plan.keyring;
  // The command line loads a kubeconfig whenever the keys live in a Secret.
  if (!api) throw new Error("signing keys kept in a Secret need a kubeConfig");
  const keyring = new SecretKeyring(api, plan.ref, plan.rotation, log);
  await keyring.start();
  return keyring;
}
