// --owner KIND/NAME of serve, controller and audit: parsed and resolved by
// src/kube/owner.ts, its errors worded by the flag.
import type * as k8s from "@kubernetes/client-node";
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
export async function resolveOwnerFlag(kc: k8s.KubeConfig, namespace: string, owner: OwnerRef): Promise<Owner> {
  try {
    return await resolveOwner(kc, namespace, owner);
  } catch (err) {
    throw flagError(err);
  }
}
