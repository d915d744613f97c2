// semver.is_valid and semver.compare as OPA's internal/semver parses and
// orders versions (a leading "v" allowed, no leading zeros, int64 parts).
import { BuiltinError, stringOperand, type RegoBuiltin } from "./operands.ts";
import { RegoNumber } from "./rego-value.ts";

interface Version {
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: string;
}

const IDENTIFIERS = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
const MAX_INT64 = (1n << 63n) - 1n;
const allDecimals = (s: string): boolean => /^[0-9]+$/.test(s);

function cut(s: string, sep: string): [string, string, boolean] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, "", false] : [s.slice(0, i), s.slice(i + 1), true];
}

function numeric(s: string): bigint | undefined {
  if (s === "" || !allDecimals(s) || (s.length > 1 && s.startsWith("0"))) return undefined;
  const n = BigInt(s);
  return n > MAX_INT64 ? undefined : n;
}

export function parseSemver(input: string): Version | undefined {
  let version = input.startsWith("v") ? input.slice(1) : input;
  const [beforeMeta, meta, hasMeta] = cut(version, "+");
  if (hasMeta && !IDENTIFIERS.test(meta)) return undefined;
  const [beforePre, pre, hasPre] = cut(beforeMeta, "-");
  version = beforePre;
  if (hasPre && (!IDENTIFIERS.test(pre) || pre.split(".").some((id) => id.length > 1 && id.startsWith("0") && allDecimals(id)))) return undefined;
  const parts = version.split(".");
  if (parts.length !== 3) return undefined;
  const [major, minor, patch] = parts.map(numeric);
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  return { major, minor, patch, pre };
}

const sign = (x: bigint | number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);

export function compareSemver(a: Version, b: Version): number {
  const core = sign(a.major - b.major) || sign(a.minor - b.minor) || sign(a.patch - b.patch);
  if (core !== 0) return core;
  if (a.pre === b.pre) return 0;
  if (a.pre === "") return 1;
  if (b.pre === "") return -1;
  let [x, restA] = cut(a.pre, ".");
  let [y, restB] = cut(b.pre, ".");
  for (;;) {
    if (x === "" && y !== "") return -1;
    if (x !== "" && y === "") return 1;
    const xi = allDecimals(x);
    const yi = allDecimals(y);
    if (xi && !yi) return -1;
    if (!xi && yi) return 1;
    if (xi && yi) {
      const c = sign(BigInt(x) - BigInt(y));
      if (c !== 0) return c;
    } else if (x !== y) {
      return x > y ? 1 : -1;
    }
    if (restA !== "" && restB === "") return 1;
    if (restA === "" && restB !== "") return -1;
    [x, restA] = cut(restA, ".");
    [y, restB] = cut(restB, ".");
  }
}

export const SEMVER_BUILTINS: Readonly<Record<string, RegoBuiltin>> = {
  "semver.is_valid": (v) => typeof v === "string" && parseSemver(v) !== undefined,
  "semver.compare": (a, b) => {
    const name = "semver.compare";
    const x = parseSemver(stringOperand(name, a, 1));
    if (x === undefined) throw new BuiltinError(name, `operand 1: string ${JSON.stringify(a)} is not a valid SemVer`);
    const y = parseSemver(stringOperand(name, b, 2));
    if (y === undefined) throw new BuiltinError(name, `operand 2: string ${JSON.stringify(b)} is not a valid SemVer`);
    return new RegoNumber(String(compareSemver(x, y)));
  },
};
