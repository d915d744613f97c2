import assert from "node:assert/strict";
import test from "node:test";
import { lacksOwner, withOwner, type Owner } from "./owner.ts";

const reference = { apiVersion: "apps/v1", kind: "Deployment", name: "agentgate-gateway", uid: "uid-2" };
const owner: Owner = { namespace: "agentgate-system", reference };
const other = { apiVersion: "v1", kind: "ConfigMap", name: "someone-elses", uid: "uid-x" };

test("a new object in the owner's namespace names the owner, neither controller nor blocking its deletion", () => {
  assert.deepEqual(withOwner(undefined, owner, "agentgate-system"), [owner.reference]);
  const [ref] = withOwner(undefined, owner, "agentgate-system") ?? [];
  assert.equal(ref?.controller, undefined);
  assert.equal(ref?.blockOwnerDeletion, undefined);
});

test("a write keeps the owners an object has; without an owner of its own it adds none", () => {
  assert.deepEqual(withOwner([other], owner, "agentgate-system"), [other, owner.reference]);
  assert.deepEqual(withOwner([other, owner.reference], owner, "agentgate-system"), [other, owner.reference], "named once");
  assert.deepEqual(withOwner([other], undefined, "agentgate-system"), [other], "the gateway changing a ledger keeps the controller's");
  assert.equal(withOwner(undefined, undefined, "agentgate-system"), undefined);
});

test("a reference to an earlier Deployment of the same name (uninstalled, installed again) is replaced", () => {
  const earlier = { ...reference, uid: "uid-1" };
  assert.deepEqual(withOwner([earlier, other], owner, "agentgate-system"), [other, owner.reference]);
});

test("never in another namespace: the garbage collector would look for the owner there, find none, and delete the object", () => {
  assert.equal(withOwner(undefined, owner, "elsewhere"), undefined);
  assert.deepEqual(withOwner([other], owner, "elsewhere"), [other]);
  assert.equal(lacksOwner(undefined, owner, "elsewhere"), false);
});

test("lacksOwner: what an earlier version made (no owner) is written again once, then not", () => {
  assert.equal(lacksOwner(undefined, owner, "agentgate-system"), true);
  assert.equal(lacksOwner([other], owner, "agentgate-system"), true);
  assert.equal(lacksOwner([{ ...reference, uid: "uid-1" }], owner, "agentgate-system"), true, "an owner that is gone");
  assert.equal(lacksOwner([owner.reference], owner, "agentgate-system"), false);
  assert.equal(lacksOwner(undefined, undefined, "agentgate-system"), false, "no --owner: nothing to add");
});
