// The real helm (tools/install.sh) on the chart: rendering it (`helm
// template`) for the chart tests, installing and upgrading it on a control
// plane for the end-to-end ones. Each user gives a work directory of its own:
// helm keeps caches and repositories under it, none of them the user's, and
// values files go there too.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { toolPath } from "./control-plane.ts";

export const CHART = fileURLToPath(new URL("../../charts/agentgate", import.meta.url));

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A rendered object; each test narrows it to the fields it reads. */
export type ChartObject = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } };

export interface Helm {
  /** helm with these arguments (and --kubeconfig when the Helm was made with one); never rejects: a failure is its exit code */
  run: (args: string[]) => Promise<HelmResult>;
  /** values written to a new file under the work directory, for -f */
  valuesFile: (values: Record<string, unknown>) => string;
  /** `helm template` of the chart with these values, as objects; fails the test if helm refuses */
  render: (values?: Record<string, unknown>, release?: string, namespace?: string) => Promise<ChartObject[]>;
}

export function helmIn(work: string, opts: { kubeconfig?: () => string } = {}): Helm {
  let files = 0;
  const run = (args: string[]): Promise<HelmResult> =>
    new Promise((resolve) => {
      execFile(
        toolPath("helm"),
        opts.kubeconfig === undefined ? args : [...args, "--kubeconfig", opts.kubeconfig()],
        { env: { ...process.env, HELM_CACHE_HOME: join(work, "cache"), HELM_CONFIG_HOME: join(work, "config"), HELM_DATA_HOME: join(work, "data") }, maxBuffer: 32 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  const valuesFile = (values: Record<string, unknown>): string => {
    const path = join(work, `values-${String(++files)}.yaml`);
    writeFileSync(path, stringify(values));
    return path;
  };
  const render = async (values: Record<string, unknown> = {}, release = "agentgate", namespace = "agentgate-system"): Promise<ChartObject[]> => {
    const r = await run(["template", release, CHART, "--namespace", namespace, "-f", valuesFile(values)]);
    assert.equal(r.code, 0, `helm template failed: ${r.stderr}`);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as ChartObject | null)
      .filter((o): o is ChartObject => o !== null);
  };
  return { run, valuesFile, render };
}
