// The flags that say where decision-signing keys come from, for every
// process that signs (serve) or verifies (controller, audit, review): turned
// into a Keyring once here, so nothing below the CLI knows a flag's name.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parseDurationNs } from "../duration.ts";
import type { KubeApi } from "../kube/api.ts";
import { PublishedKeys, parseObjectRef } from "../signing/cluster-keyring.ts";
import { KeyMaterialError, publicKeysFromPem, signingKeyFromPem } from "../signing/keys.ts";
import { ephemeralKeyring, staticKeyring, type Keyring } from "../signing/keyring.ts";
import type { SigningPlan } from "../signing/start.ts";
import type { Logger } from "../log.ts";
import { describeFileError } from "../file-errors.ts";
import { collect } from "./flag-values.ts";
import { InputError } from "../errors.ts";

export interface SigningFlags {
  signingKeys?: string;
  signingKeyFile?: string;
  signingPublicKeyFile?: string[];
  signingKeyRotation?: string;
  signingKeyRetention?: string;
}

/** serve: where its signing keys live. */
export function addSigningFlags(command: Command): Command {
  return command
    .option("--signing-keys <ns/name>", "keep the keys that sign decisions in this Secret (made if absent, rotated), and publish their public halves in the ConfigMap of the same name for the controller and audit")
    .option("--signing-key-file <file>", "sign decisions with this Ed25519 private key (PEM) instead; without either flag a key is made for this process only, and what it signs cannot be verified after it stops")
    .option("--signing-key-rotation <duration>", "with --signing-keys: make a new signing key when the newest is this old", "720h")
    .option("--signing-key-retention <duration>", "with --signing-keys: keep a replaced key for verification this long (runs admitted under it fail verification after)", "2160h");
}

/** controller, audit: where the keys that verify decisions are published. */
export function addVerificationFlags(command: Command): Command {
  return command
    .option("--signing-keys <ns/name>", "verify decisions with the public keys the gateway publishes in this ConfigMap")
    .option("--signing-public-key-file <file>", "verify decisions with this Ed25519 public key (PEM) instead; repeatable", collect, []);
}

function durationMs(flag: string, text: string): number {
  try {
    const ms = Number(parseDurationNs(text) / 1_000_000n);
    if (ms <= 0) throw new Error("not positive");
    return ms;
  } catch {
    throw new InputError(`${flag} ${JSON.stringify(text)}: expected a positive duration such as 720h`);
  }
}

async function readPem(flag: string, file: string): Promise<string> {
  return readFile(file, "utf8").catch((err: unknown) => {
    throw new InputError(`${flag} ${file}: cannot read: ${describeFileError(err, "read")}`);
  });
}

/** Checks the flags before anything starts; the keyring is made by start(). */
export async function planSigningKeyring(flags: SigningFlags): Promise<SigningPlan> {
  if (flags.signingKeys !== undefined && flags.signingKeyFile !== undefined) throw new InputError("--signing-keys and --signing-key-file exclude each other: the keys come from the cluster or from a file");
  if (flags.signingKeys !== undefined) {
    const rotation = {
      rotateAfterMs: durationMs("--signing-key-rotation", flags.signingKeyRotation ?? "720h"),
      retainMs: durationMs("--signing-key-retention", flags.signingKeyRetention ?? "2160h"),
    };
    try {
      return { kind: "secret", ref: parseObjectRef("--signing-keys", flags.signingKeys), rotation };
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err));
    }
  }
  if (flags.signingKeyFile !== undefined) {
    try {
      return { kind: "fixed", keyring: staticKeyring(signingKeyFromPem(await readPem("--signing-key-file", flags.signingKeyFile), `--signing-key-file ${flags.signingKeyFile}`)) };
    } catch (err) {
      if (err instanceof KeyMaterialError) throw new InputError(err.message);
      throw err;
    }
  }
  return { kind: "fixed", keyring: ephemeralKeyring() };
}

/** A keyring that signs as a gateway given this key file would, or with a key of its own (review). */
export async function fixedSigningKeyring(file: string | undefined): Promise<Keyring> {
  const plan = await planSigningKeyring(file !== undefined ? { signingKeyFile: file } : {});
  if (plan.kind !== "fixed") throw new Error("a key file never plans a Secret");
  return plan.keyring;
}

/** The verifying keyring of the controller and audit; one of the two flags is required. */
export async function verificationKeyring(flags: SigningFlags, api: KubeApi | undefined, log: Logger, required: boolean): Promise<Keyring | undefined> {
  const files = flags.signingPublicKeyFile ?? [];
  if (flags.signingKeys !== undefined && files.length > 0) throw new InputError("--signing-keys and --signing-public-key-file exclude each other");
  if (files.length > 0) {
    try {
      const keys = [];
      for (const file of files) keys.push(...publicKeysFromPem(await readPem("--signing-public-key-file", file), `--signing-public-key-file ${file}`));
      return staticKeyring(undefined, keys);
    } catch (err) {
      if (err instanceof KeyMaterialError) throw new InputError(err.message);
      throw err;
    }
  }
  if (flags.signingKeys !== undefined) {
    let ref;
    try {
      ref = parseObjectRef("--signing-keys", flags.signingKeys);
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err));
    }
    if (!api) throw new InputError("--signing-keys needs a cluster");
    const keys = new PublishedKeys(api, ref, log);
    await keys.start();
    return keys;
  }
  if (required) throw new InputError("no decision verification keys: give --signing-keys NS/NAME (the ConfigMap the gateway publishes) or --signing-public-key-file; without them no run can be verified");
  return undefined;
}
