// npm run soak -- --minutes N: the soak (soak.ts) from the command line.
// Exit status 0 when it passed, 1 on any unexplained failure or RSS growth
// over --max-rss-growth after warm-up, 2 on bad usage.
import { parseArgs } from "node:util";
import { describeReport, runSoak } from "./soak.ts";

const USAGE = "usage: npm run soak -- [--minutes N | --seconds N] [--rate PER_SECOND] [--run-every S] [--swap-every S] [--kill-every S] [--warmup S] [--cert-validity D] [--ca-validity D] [--report-every S] [--max-rss-growth PERCENT]";

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`soak: --${name} ${JSON.stringify(value)}: expected a positive number\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      minutes: { type: "string" },
      seconds: { type: "string" },
      rate: { type: "string" },
      "run-every": { type: "string" },
      "swap-every": { type: "string" },
      "kill-every": { type: "string" },
      warmup: { type: "string" },
      "cert-validity": { type: "string" },
      "ca-validity": { type: "string" },
      "report-every": { type: "string" },
      "max-rss-growth": { type: "string" },
    },
  }).values;
} catch (err) {
  process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
  process.exit(2);
}
const seconds = positive("seconds", args.seconds) ?? (positive("minutes", args.minutes) ?? 30) * 60;
const growth = positive("max-rss-growth", args["max-rss-growth"]) ?? 10;
const report = await runSoak({
  seconds,
  ...(args.warmup !== undefined ? { warmupSeconds: positive("warmup", args.warmup) ?? 0 } : {}),
  ...(args.rate !== undefined ? { rate: positive("rate", args.rate) ?? 0 } : {}),
  ...(args["run-every"] !== undefined ? { runEverySeconds: positive("run-every", args["run-every"]) ?? 0 } : {}),
  ...(args["swap-every"] !== undefined ? { swapEverySeconds: positive("swap-every", args["swap-every"]) ?? 0 } : {}),
  ...(args["kill-every"] !== undefined ? { killEverySeconds: positive("kill-every", args["kill-every"]) ?? 0 } : {}),
  ...(args["report-every"] !== undefined ? { reportEverySeconds: positive("report-every", args["report-every"]) ?? 0 } : {}),
  ...(args["cert-validity"] !== undefined ? { certValidity: args["cert-validity"] } : {}),
  ...(args["ca-validity"] !== undefined ? { caValidity: args["ca-validity"] } : {}),
  maxRssGrowth: growth / 100,
});
for (const line of describeReport(report)) process.stdout.write(`${line}\n`);
process.stdout.write(`${JSON.stringify({ ...report, rss: report.rss.map((f) => ({ name: f.name, startMb: Math.round(f.start.mb), endMb: Math.round(f.end.mb), growthPct: f.growth === undefined ? null : Math.round(f.growth * 1000) / 10, judged: f.judged, perMinuteMb: f.judged ? f.steps : undefined })) })}\n`);
process.exit(report.ok ? 0 : 1);
