// The flags both fuzz runners take (fuzz/run.ts, fuzz/jazzer/run.ts), read
// one way: each runner names itself and its usage, and reads its own extra
// flags through `extra`. A bad flag is one line naming it, then the usage,
// exit 2.
import { TARGET_NAMES } from "./targets.ts";

export interface FuzzFlags {
  targets: string[];
  seconds?: number;
  runs?: number;
  seed: number;
  hangSeconds: number;
  maxRssMb: number;
}

export interface FlagReader {
  /** the value of the flag being read (the next argument), or a refusal naming it */
  value(): string;
  /** that value as a positive number, or a refusal naming the flag */
  positive(): number;
  /** a refusal: "<runner>: <message>", the usage, exit 2 */
  fail(message: string): never;
}

/**
 * Reads argv. extra(flag, read) handles a flag of the runner's own and
 * returns true, or returns false for one it does not know.
 */
export function parseFuzzFlags(argv: readonly string[], runner: string, usage: string, extra: (flag: string, read: FlagReader) => boolean = () => false): FuzzFlags {
  const fail = (message: string): never => {
    process.stderr.write(`${runner}: ${message}\n${usage}\n`);
    process.exit(2);
  };
  const opts: FuzzFlags = { targets: [], seed: 1, hangSeconds: 10, maxRssMb: 6144 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    let took = false;
    const read: FlagReader = {
      value: () => {
        const value = argv[i + 1];
        if (value === undefined) fail(`${flag} needs a value`);
        took = true;
        return value as string;
      },
      positive: () => {
        const value = argv[i + 1];
        const n = Number(value);
        if (value === undefined || !Number.isFinite(n) || n <= 0) fail(`${flag} needs a positive number, got ${JSON.stringify(value ?? null)}`);
        took = true;
        return n;
      },
      fail,
    };
    switch (flag) {
      case "--target": {
        const value = argv[i + 1];
        if (value === undefined || !TARGET_NAMES.includes(value)) fail(`--target needs one of ${TARGET_NAMES.join(", ")}, got ${JSON.stringify(value ?? null)}`);
        opts.targets.push(value as string);
        took = true;
        break;
      }
      case "--seconds":
        opts.seconds = read.positive();
        break;
      case "--runs":
        opts.runs = Math.floor(read.positive());
        break;
      case "--seed": {
        const value = argv[i + 1];
        const n = Math.floor(Number(value));
        if (value === undefined || !Number.isFinite(n)) fail("--seed needs a number");
        opts.seed = n;
        took = true;
        break;
      }
      case "--hang-seconds":
        opts.hangSeconds = read.positive();
        break;
      case "--max-rss-mb":
        opts.maxRssMb = read.positive();
        break;
      case "--list":
        process.stdout.write(`${TARGET_NAMES.join("\n")}\n`);
        process.exit(0);
        break;
      case "--help":
      case "-h":
        process.stdout.write(`${usage}\n`);
        process.exit(0);
        break;
      default:
        if (!extra(flag, read)) fail(`unknown argument ${JSON.stringify(flag)}`);
    }
    if (took) i++;
  }
  if (opts.seconds !== undefined && opts.runs !== undefined) fail("give --seconds or --runs, not both");
  if (opts.seconds === undefined && opts.runs === undefined) opts.seconds = 60;
  return opts;
}
