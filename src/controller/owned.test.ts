import { test } from "node:test";
import assert from "node:assert/strict";
import type { AgentRun } from "../types/agent.ts";
import { names, ownedByRun, ownedMeta } from "./owned.ts";

const run: AgentRun = { metadata: { name: "r1", namespace: "qe", uid: "u-1" } };

test("what the controller made for the run is the run's: agentgate's label and the run as controlling owner", () => {
  assert.equal(ownedByRun(ownedMeta(run, names.agent("r1")), run), true);
  assert.equal(ownedByRun(ownedMeta(run, names.agent("r1")), { metadata: { name: "r1", uid: "u-2" } }), false, "a later run of the same name");
});

test("an owner reference alone is not ownership: anyone who can create the object can name the run's uid in it", () => {
  const forged = ownedMeta(run, names.routedModel("r1"));
  delete forged.labels;
  assert.equal(ownedByRun(forged, run), false);
  const notController = ownedMeta(run, names.routedModel("r1"));
  notController.ownerReferences = notController.ownerReferences?.map((o) => ({ ...o, controller: false }));
  assert.equal(ownedByRun(notController, run), false);
  assert.equal(ownedByRun(ownedMeta(run, "x"), { metadata: { name: "r1" } }), false, "a run without a uid owns nothing");
});
