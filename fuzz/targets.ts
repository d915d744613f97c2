// Every fuzz target, by name: one per parser that takes bytes from outside.
// Loaded on demand: the admission targets load the policy engine.
import type { TargetFactory } from "./engine.ts";

export const TARGETS: Readonly<Record<string, TargetFactory>> = {
  "admission-review": async () => (await import("./admission-review.fuzz.ts")).create(),
  "bundle-archive": async () => (await import("./bundle-archive.fuzz.ts")).create(),
  manifests: async () => (await import("./manifests.fuzz.ts")).create(),
  sse: async () => (await import("./sse.fuzz.ts")).create(),
  "a2a-stream": async () => (await import("./a2a-stream.fuzz.ts")).create(),
  "rego-value": async () => (await import("./rego-value.fuzz.ts")).create(),
  "json-scan": async () => (await import("./json-scan.fuzz.ts")).create(),
};

export const TARGET_NAMES: readonly string[] = Object.keys(TARGETS);
