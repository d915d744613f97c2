// The flags both fuzz runners take (fuzz/run.ts, fuzz/jazzer/run.ts), read
// one way. readFuzzFlags is pure: a bad flag throws FuzzFlagError naming it.
// flagsOrExit turns that into one line, then the runner's usage, exit 2.
import { TARGET_NAMES } from "./targets.ts";

export interface FuzzFlags {
  targets: string[];
  seconds?: number;
  runs?: number;
  seed: number;
  hangSeconds: number;
  maxRssMb: number;
}

/** --list or --help: what to print instead of running */
export interface PrintRequest {
  print: "list" | "help";
}

export class FuzzFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FuzzFlagError";
  }
}

export interface FlagReader {
  /** the value of the flag being read (the next argument), or a refusal naming it */
  value(): string;
  /** that value as a positive number, or a refusal naming the flag */
  positive(): number;
}

/**
 * Reads argv. extra(flag, read) handles a flag of the runner's own and
 * returns true, or returns false for one it does not know.
 */
export function readFuzzFlags(argv: readonly string[], extra: (flag: string, read: FlagReader) => boolean = () => false): FuzzFlags | PrintRequest {
  const opts: FuzzFlags = { targets: [], seed: 1, hangSeconds: 10, maxRssMb: 6144 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    // set by the reader when the flag took the next argument as its value
    const step = { took: false };
    const read: FlagReader = {
      value: () => {
        const value = argv[i + 1];
        if (value === undefined) throw new FuzzFlagError(`${flag} needs a value`);
        step.took = true;
        return value;
      },
      positive: () => {
        const value = argv[i + 1];
        const n = Number(value);
        if (value === undefined || !Number.isFinite(n) || n <= 0) throw new FuzzFlagError(`${flag} needs a positive number, got ${JSON.stringify(value ?? null)}`);
        step.took = true;
        return n;
      },
    };
    switch (flag) {
      case "--target": {
        const value = argv[i + 1];
        if (value === undefined || !TARGET_NAMES.includes(value)) throw new FuzzFlagError(`--target needs one of ${TARGET_NAMES.join(", ")}, got ${JSON.stringify(value ?? null)}`);
        opts.targets.push(read.value());
        break;
      }
      case "--seconds":
        opts.seconds = read.positive();
        break;
      case "--runs":
        opts.runs = Math.floor(read.positive());
        break;
      case "--seed": {
        const n = Math.floor(Number(argv[i + 1]));
        if (!Number.isFinite(n)) throw new FuzzFlagError(`--seed needs a number, got ${JSON.stringify(argv[i + 1] ?? null)}`);
        read.value();
        opts.seed = n;
        break;
      }
      case "--hang-seconds":
        opts.hangSeconds = read.positive();
        break;
      case "--max-rss-mb":
        opts.maxRssMb = read.positive();
        break;
      case "--list":
        return { print: "list" };
      case "--help":
      case "-h":
        return { print: "help" };
      default:
        if (!extra(flag, read)) throw new FuzzFlagError(`unknown argument ${JSON.stringify(flag)}`);
    }
    if (step.took) i++;
  }
  if (opts.seconds !== undefined && opts.runs !== undefined) throw new FuzzFlagError("give --seconds or --runs, not both");
  if (opts.seconds === undefined && opts.runs === undefined) opts.seconds = 60;
  return opts;
}

/**
 * The runner's options, read by `read` (readFuzzFlags and the runner's own
 * checks, which throw FuzzFlagError too), or the process's end: a refusal
 * is "<runner>: <message>", the usage, exit 2; --list and --help print and
 * exit 0.
 */
export function flagsOrExit<T>(runner: string, usage: string, read: () => T | PrintRequest): T {
  let result: T | PrintRequest;
  try {
    result = read();
  } catch (err) {
    if (!(err instanceof FuzzFlagError)) throw err;
    process.stderr.write(`${runner}: ${err.message}\n${usage}\n`);
    process.exit(2);
  }
  if (typeof result === "object" && result !== null && "print" in result) {
    process.stdout.write(`${result.print === "list" ? TARGET_NAMES.join("\n") : usage}\n`);
    process.exit(0);
  }
  return result;
}
