// A name for an object created with generateName, chosen by the mutating
// pass instead of by the API server after it. Every signature the gateway
// makes then binds the exact name the object will have: one made for
// "nightly-" cannot be carried to any other "nightly-…" object.
import { randomInt } from "node:crypto";
import type { KubeObject } from "../types/kube.ts";

// The API server's alphabet and length (apiserver's names.SimpleNameGenerator): no vowels, no look-alikes.
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const SUFFIX = 5;
const MAX_NAME = 63;

export function generatedName(prefix: string, random: (n: number) => number = randomInt): string {
  let suffix = "";
  for (let i = 0; i < SUFFIX; i++) suffix += ALPHABET.charAt(random(ALPHABET.length));
  return `${prefix.slice(0, MAX_NAME - SUFFIX)}${suffix}`;
}

/** The object with a name, when it had only generateName; the object itself otherwise. */
export function withGeneratedName(object: KubeObject, random?: (n: number) => number): KubeObject {
  const meta = object.metadata ?? {};
  if (meta.name || !meta.generateName) return object;
  return { ...object, metadata: { ...meta, name: generatedName(meta.generateName, random) } };
}
