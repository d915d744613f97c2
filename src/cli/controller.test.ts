import { test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { registerControllerCommand } from "./controller-command.ts";
import type { ControllerCliOptions } from "./controller.ts";
import { main } from "./main.ts";

/** The options `agentgate controller ARGS` would run with (the action replaced: nothing starts). */
function parse(args: string[]): ControllerCliOptions {
  const program = new Command("agentgate").exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerControllerCommand(program, { out: () => undefined, err: () => undefined }, () => undefined);
  let seen: ControllerCliOptions | undefined;
  program.commands.find((c) => c.name() === "controller")?.exitOverride().action((opts: ControllerCliOptions) => { seen = opts; });
  program.parse(["controller", ...args], { from: "user" });
  assert.ok(seen, "the action ran");
  return seen;
}

for (const [args, want] of [
  [[], true],
  [["--leader-elect"], true],
  [["--leader-elect=true"], true],
  [["--leader-elect=false"], false],
  [["--leader-elect", "false"], false],
  [["--no-leader-elect"], false],
] as const) {
  test(`controller ${args.join(" ") || "(no flags)"}: leader election ${want ? "on" : "off"}`, () => {
    assert.equal(parse([...args]).leaderElect, want);
  });
}

test("controller --leader-elect=maybe is refused, naming the flag and the value", () => {
  assert.throws(() => parse(["--leader-elect=maybe"]), /--leader-elect takes true or false, got "maybe"/);
});

// Bad flags are named before the controller reaches for a cluster: no
// kubeconfig is given here, so reaching for one would be another error.
for (const [args, want] of [
  [["--health-listen", "nope"], /^agentgate: --health-listen "nope": expected HOST:PORT/],
  [["--metrics-listen", "0.0.0.0:99999"], /^agentgate: --metrics-listen "0\.0\.0\.0:99999": expected HOST:PORT/],
  [["--kagent-url", "ftp://kagent"], /^agentgate: --kagent-url "ftp:\/\/kagent": expected an http\(s\) URL/],
  [["--kagent-url", "kagent-controller"], /^agentgate: --kagent-url "kagent-controller": expected an http\(s\) URL/],
  [["--calls-url", "agentgate:8444"], /^agentgate: --calls-url "agentgate:8444": expected the run-time gateway's base URL/],
  [["--calls-url", "http://agentgate.agentgate-system.svc:8444/v1/runs"], /^agentgate: --calls-url "http:\/\/agentgate\.agentgate-system\.svc:8444\/v1\/runs": expected the run-time gateway's base URL as agents reach it, without a path/],
  [["--provenance-key-secret", "just-a-name"], /^agentgate: --provenance-key-secret "just-a-name": expected NAMESPACE\/NAME$/],
  [["--provenance-key-secret", "a/b/c"], /^agentgate: --provenance-key-secret "a\/b\/c": expected NAMESPACE\/NAME$/],
] as const) {
  test(`controller ${args.join(" ")}: exit 2, one line naming the flag`, async () => {
    const saved = { kubeconfig: process.env.KUBECONFIG, host: process.env.KUBERNETES_SERVICE_HOST };
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      const err: string[] = [];
      const code = await main(["controller", ...args], { out: () => undefined, err: (s) => err.push(s) });
      assert.equal(code, 2);
      assert.equal(err.length, 1, err.join("\n"));
      assert.match(err[0] ?? "", want);
    } finally {
      if (saved.kubeconfig !== undefined) process.env.KUBECONFIG = saved.kubeconfig;
      if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
    }
  });
}
