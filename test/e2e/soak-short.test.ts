// The soak (bench/soak/soak.ts, `npm run soak`) in its short form: one
// minute of dry-run creates through the real API server and real AgentRuns,
// while the bundle service swaps versions, the gateway's certificates and CA
// rotate and the controller's leader is killed. No failure may go
// unexplained and every run must succeed. RSS is reported, not judged: a
// minute cannot tell growth from warm-up (the long form judges it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { describeReport, runSoak } from "../../bench/soak/soak.ts";

test("a one-minute soak: no unexplained failure, every run succeeded, while bundles swap, certificates rotate and the leader is killed", async (t) => {
  const report = await runSoak({
    seconds: 60,
    warmupSeconds: 15,
    rate: 5,
    runEverySeconds: 3,
    swapEverySeconds: 10,
    killEverySeconds: 25,
    certValidity: "15s",
    caValidity: "45s",
    reportEverySeconds: 20,
    drainSeconds: 120,
    print: (line) => { t.diagnostic(line); },
  });
  const text = describeReport(report).join("\n");
  t.diagnostic(text);
  assert.equal(report.unexplained, 0, text);
  assert.ok(report.runs.started > 0, text);
  assert.equal(report.runs.succeeded, report.runs.started, text);
  assert.ok(report.creates.sent > 0 && report.creates.asExpected === report.creates.sent, text);
  // What the soak is about happened: without it, a pass would mean nothing.
  assert.ok(report.swaps >= 2 && report.creates.underV1 > 0 && report.creates.underV2 > 0, `both bundle versions decided the sway config\n${text}`);
  assert.ok(report.leaderKills >= 1, `the leader was killed\n${text}`);
  assert.ok(report.gateway.certificateLoads >= 2, `the serving certificate rotated\n${text}`);
  assert.ok(report.caBundlesSeen >= 2, `the CA rotated into the caBundle\n${text}`);
});
