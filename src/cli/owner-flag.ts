// --owner KIND/NAME of serve, controller and audit: parsed and resolved by
// src/kube/owner.ts, its errors worded by the flag.
import type { KubeApi } from "../kube/api.ts";
import { OwnerError, parseOwnerRef, resolveOwner, type Owner, type OwnerRef } from "../kube/owner.ts";

/** The domain's error, worded by the flag: `--owner "x": expected … in --namespace`. */
function flagError(err: unknown): unknown {
  if (!(err instanceof OwnerError)) return err;
  const detail = err.detail.replace("in the process's namespace", "in --namespace");
  const worded = new OwnerError(err.kind === "usage" ? "usage" : "unavailable", err.owner, detail, { cause: err });
  worded.message = `--owner ${err.owner}: ${detail}`;
  return worded;
}

/** `--owner deployment/NAME` or `cronjob/NAME`. */
export function parseOwnerFlag(text: string): OwnerRef {
  try {
    return parseOwnerRef(text);
  } catch (err) {
    throw flagError(err);
  }
}

/** The owner's uid, read once at start; an error names --owner. */
export async function resolveOwnerFlag(api: KubeApi, namespace: string, owner: OwnerRef): Promise<Owner> {
  try {
    return await resolveOwner(api, namespace, owner);
  } catch (err) {
    throw flagError(err);
  }
}
