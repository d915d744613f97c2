// oci:// references: what is pulled from where, and the mistakes refused
// before anything is polled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bundleNameOfOci, manifestReference, parseOciReference } from "./oci-reference.ts";

const DIGEST = `sha256:${"a1".repeat(32)}`;

test("registry, repository and tag or digest, as docker and oras name them", () => {
  const cases: [string, { registry: string; apiHost: string; repository: string; tag?: string; digest?: string }][] = [
    ["oci://ghcr.io/acme/policy:1.0", { registry: "ghcr.io", apiHost: "ghcr.io", repository: "acme/policy", tag: "1.0" }],
    ["oci://registry.example.com:5000/platform/agentgate/team-a:v2_rc.1", { registry: "registry.example.com:5000", apiHost: "registry.example.com:5000", repository: "platform/agentgate/team-a", tag: "v2_rc.1" }],
    ["oci://127.0.0.1:5000/team", { registry: "127.0.0.1:5000", apiHost: "127.0.0.1:5000", repository: "team", tag: "latest" }],
    [`oci://ghcr.io/acme/policy@${DIGEST}`, { registry: "ghcr.io", apiHost: "ghcr.io", repository: "acme/policy", digest: DIGEST }],
    // A digest wins over a tag given with it: the tag is only a reminder.
    [`oci://ghcr.io/acme/policy:1.0@${DIGEST}`, { registry: "ghcr.io", apiHost: "ghcr.io", repository: "acme/policy", digest: DIGEST }],
    ["oci://docker.io/openpolicyagent:edge", { registry: "docker.io", apiHost: "registry-1.docker.io", repository: "library/openpolicyagent", tag: "edge" }],
    ["oci://[::1]:5000/a/b-c__d.e:t", { registry: "[::1]:5000", apiHost: "[::1]:5000", repository: "a/b-c__d.e", tag: "t" }],
  ];
  for (const [location, want] of cases) {
    const { location: _l, ...got } = parseOciReference(location);
    assert.deepEqual(got, want, location);
  }
  assert.equal(manifestReference(parseOciReference(`oci://r.io/a@${DIGEST}`)), DIGEST);
  assert.equal(manifestReference(parseOciReference("oci://r.io/a")), "latest");
});

test("mistakes are refused in one line naming the location and what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["oci://ghcr.io", /^OciReferenceError: oci:\/\/ghcr\.io: expected oci:\/\/REGISTRY\/REPOSITORY\[:TAG\|@DIGEST\]/],
    ["oci:///acme/policy", /expected oci:\/\/REGISTRY\/REPOSITORY/],
    ["oci://ghcr.io/Acme/Policy:1", /"Acme\/Policy" is not a repository name \(lowercase/],
    ["oci://ghcr.io/acme//policy", /"acme\/\/policy" is not a repository name/],
    ["oci://ghcr.io/acme/policy:", /"" is not a tag/],
    ["oci://ghcr.io/acme/policy:-x", /"-x" is not a tag/],
    ["oci://ghcr.io/acme/policy@sha256:abc", /"sha256:abc" is not a digest; expected sha256: and 64 lowercase hex digits/],
    [`oci://ghcr.io/acme/policy@md5:${"a".repeat(32)}`, /is not a digest/],
    ["oci://bad_host/acme/policy:1", /"bad_host" is not a registry host\[:port\]/],
  ];
  for (const [location, message] of bad) assert.throws(() => parseOciReference(location), message, location);
});

test("the bundle's name is the repository's last part", () => {
  assert.equal(bundleNameOfOci("oci://ghcr.io/acme/team-a:1"), "team-a");
  assert.equal(bundleNameOfOci(`oci://127.0.0.1:5000/policy@${DIGEST}`), "policy");
  assert.equal(bundleNameOfOci("oci://docker.io/opa"), "opa");
});
