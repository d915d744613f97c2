// The certificate maths of self-managed mode: names, validity windows,
// renewal timing and the two-step CA rotation, driven by a synthetic clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { backdateMs, createCertificateAuthority, generateServingCertificate, issueServingCertificate } from "../tls/self-signed.ts";
import { fingerprint, type CertificateMaterial } from "./material.ts";
import { certificateHosts, fresh, nextCheckAt, plan, serviceHosts, signedBy, type RotationPolicy } from "./rotate.ts";
import { caPromoteAt, caStageAt, issuedAt, servingRenewAt, validityOf } from "./schedule.ts";

const T0 = Date.parse("2026-06-01T00:00:00Z");
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);
const policy: RotationPolicy = {
  hosts: [...serviceHosts("agentgate", "agentgate-system"), "127.0.0.1"],
  servingValidityMs: 20_000,
  caValidityMs: 60_000,
};
const seconds = (d: Date): number => (d.getTime() - T0) / 1000;

test("the serving certificate names <svc>, <svc>.<ns>, <svc>.<ns>.svc and extra hosts, and chains to the CA", () => {
  const m = fresh(policy, at(0));
  assert.deepEqual(certificateHosts(m.serving.cert), ["agentgate", "agentgate.agentgate-system", "agentgate.agentgate-system.svc", "127.0.0.1"]);
  const leaf = new X509Certificate(m.serving.cert);
  assert.equal(leaf.subject, "CN=agentgate");
  assert.ok(signedBy(m.serving.cert, m.signer.cert));
  assert.ok(leaf.checkPrivateKey(createPrivateKey(m.serving.key)));
  assert.equal(new X509Certificate(m.signer.cert).ca, true);
  // forge writes names as PrintableString; Go (the API server) refuses a CA whose name has other characters, such as "@".
  assert.match(new X509Certificate(m.signer.cert).subject, /^CN=[A-Za-z0-9 '()+,\-./:=?]+$/);
  assert.equal(leaf.ca, false);
  assert.deepEqual(m.trusted, [m.signer.cert]);
  assert.match(leaf.keyUsage?.join(",") ?? "", /1\.3\.6\.1\.5\.5\.7\.3\.1/, "serverAuth extended key usage");
});

test("validity: notAfter = issue + validity; notBefore backdated a tenth of a short validity, a minute of a long one", () => {
  assert.equal(backdateMs(20_000), 2_000);
  assert.equal(backdateMs(365 * 86_400_000), 60_000);
  const m = fresh(policy, at(0));
  assert.deepEqual(validityOf(m.serving.cert), { notBefore: at(-2), notAfter: at(20) });
  assert.deepEqual(validityOf(m.signer.cert), { notBefore: at(-6), notAfter: at(60) });
  assert.deepEqual(issuedAt(validityOf(m.serving.cert)), at(0));
  assert.deepEqual(issuedAt(validityOf(m.signer.cert)), at(0));
  const year = createCertificateAuthority("x", { validityMs: 365 * 86_400_000, now: at(0) });
  assert.deepEqual(issuedAt(validityOf(year.cert)), at(0));
});

test("a serving certificate never outlives its CA", () => {
  const ca = createCertificateAuthority("agentgate-ca", { validityMs: 30_000, now: at(0) });
  const s = issueServingCertificate(ca, ["agentgate"], { validityMs: 3_600_000, now: at(10) });
  assert.deepEqual(s.notAfter, at(30));
  assert.deepEqual(validityOf(s.cert).notAfter, at(30));
});

test("the throwaway certificate of a local serve still carries IP and DNS names", () => {
  const set = generateServingCertificate(["localhost", "127.0.0.1"]);
  assert.deepEqual(certificateHosts(set.cert), ["localhost", "127.0.0.1"]);
  assert.ok(signedBy(set.cert, set.caCert));
});

test("renewal timing: nothing before 2/3 of the serving lifetime, a new certificate from the same CA after", () => {
  const m = fresh(policy, at(0));
  // lifetime 22 s from notBefore -2 s: 2/3 is at 12.666 s
  assert.equal(servingRenewAt(validityOf(m.serving.cert)).getTime(), T0 - 2000 + Math.floor(22_000 * 2 / 3));
  assert.equal(plan(m, policy, at(12), { mayPromote: true }), undefined);
  const renewed = plan(m, policy, at(13), { mayPromote: true });
  assert.ok(renewed);
  assert.match(renewed.reasons.join(";"), /2\/3 of its lifetime/);
  assert.notEqual(renewed.material.serving.cert, m.serving.cert);
  assert.equal(renewed.material.signer, m.signer, "same CA");
  assert.deepEqual(validityOf(renewed.material.serving.cert).notAfter, at(33));
  assert.deepEqual(nextCheckAt(m), servingRenewAt(validityOf(m.serving.cert)));
});

test("CA rotation: the next CA is trusted at 2/3, signs at 5/6 only once the caBundle holds it, the old CA is dropped when it expires", () => {
  const m0 = fresh(policy, at(0));
  const signer = validityOf(m0.signer.cert);
  // CA window -6 s .. 60 s: stage at 38 s, promote at 49 s
  assert.deepEqual(caStageAt(signer), at(38));
  let m: CertificateMaterial = m0;
  const step = (t: number, mayPromote = true): string[] => {
    const p = plan(m, policy, at(t), { mayPromote });
    if (p) m = p.material;
    return p?.reasons ?? [];
  };
  for (const t of [13, 26]) step(t); // two serving renewals
  // Read through a function: step() reassigns m behind the type checker's back.
  const nextCa = () => m.next;
  assert.equal(nextCa(), undefined);
  const staged = step(38);
  assert.match(staged.join(";"), /next CA is trusted/);
  const next = nextCa();
  assert.ok(next);
  assert.equal(m.signer.cert, m0.signer.cert, "the old CA still signs");
  assert.deepEqual(m.trusted.map(fingerprint), [m0.signer.cert, next.cert].map(fingerprint));
  assert.ok(signedBy(m.serving.cert, m0.signer.cert));
  assert.match(step(39).join(";"), /2\/3 of its lifetime/, "renewals continue from the old CA while the next one is staged");
  assert.ok(signedBy(m.serving.cert, m0.signer.cert));
  const promoteAt = seconds(caPromoteAt(signer, validityOf(next.cert)));
  assert.equal(promoteAt, 49);
  assert.deepEqual(step(49, false), [], "no promotion while a webhook configuration lacks the next CA");
  const promoted = step(49, true);
  assert.match(promoted.join(";"), /next CA signs from now on/);
  assert.equal(m.signer.cert, next.cert);
  assert.equal(nextCa(), undefined);
  assert.ok(signedBy(m.serving.cert, next.cert), "serving certificate reissued by the new CA at once");
  assert.equal(m.trusted.length, 2, "old CA still trusted: peers may still serve its certificate");
  const dropped = step(60);
  assert.match(dropped.join(";"), /1 expired CA\(s\) dropped/);
  assert.deepEqual(m.trusted.map(fingerprint), [fingerprint(next.cert)]);
});

test("the next CA waits out an overlap even when the signer is long past its promotion point", () => {
  const m0 = fresh(policy, at(0));
  // Staged at 50 s, past the 49 s promotion point: the next CA still gets a
  // twelfth of its life (66 s / 12 = 5.5 s) in the caBundle before it signs.
  const late = plan(m0, policy, at(50), { mayPromote: true });
  assert.ok(late?.material.next, "staged");
  assert.equal(late.material.signer, m0.signer);
  assert.equal(plan(late.material, policy, at(55), { mayPromote: true })?.material.signer.cert ?? m0.signer.cert, m0.signer.cert, "not promoted 5 s later");
  const after = plan(late.material, policy, at(56), { mayPromote: true });
  assert.equal(after?.material.signer.cert, late.material.next.cert, "promoted after the overlap");
});

test("an expired CA with no next CA is replaced by a fresh one", () => {
  const m0 = fresh(policy, at(0));
  const p = plan(m0, policy, at(61), { mayPromote: false });
  assert.ok(p);
  assert.match(p.reasons.join(";"), /CA has expired/);
  assert.notEqual(p.material.signer.cert, m0.signer.cert);
});

test("a serving certificate lacking a required name is reissued with the union of names, so replicas converge", () => {
  const m0 = fresh({ ...policy, hosts: ["agentgate", "old.example"] }, at(0));
  const p = plan(m0, policy, at(1), { mayPromote: true });
  assert.ok(p);
  assert.match(p.reasons.join(";"), /lacks agentgate\.agentgate-system/);
  const hosts = certificateHosts(p.material.serving.cert);
  for (const h of [...policy.hosts, "old.example"]) assert.ok(hosts.includes(h), h);
  assert.equal(plan(p.material, { ...policy, hosts: ["agentgate", "old.example"] }, at(2), { mayPromote: true }), undefined, "the other replica is satisfied");
});

test("a serving certificate not signed by the CA (a tampered Secret) is reissued", () => {
  const m0 = fresh(policy, at(0));
  const other = fresh(policy, at(0));
  const p = plan({ ...m0, serving: other.serving }, policy, at(1), { mayPromote: true });
  assert.match(p?.reasons.join(";") ?? "", /not signed by the CA/);
});

test("over three CA lifetimes the serving certificate is always signed by a CA the previous second's caBundle trusted", () => {
  let m = fresh(policy, at(0));
  let previousTrusted = new Set(m.trusted.map(fingerprint));
  let renewals = 0;
  let rotations = 0;
  for (let t = 1; t <= 180; t++) {
    const p = plan(m, policy, at(t), { mayPromote: true });
    if (p) {
      if (p.material.signer.cert !== m.signer.cert) rotations++;
      if (p.material.serving.cert !== m.serving.cert) renewals++;
      m = p.material;
    }
    const v = validityOf(m.serving.cert);
    assert.ok(v.notAfter.getTime() > at(t).getTime(), `t=${String(t)}: serving certificate valid`);
    const signerFp = m.trusted.map(fingerprint).find((fp, i) => signedBy(m.serving.cert, m.trusted[i] ?? "") && fp);
    assert.ok(signerFp && previousTrusted.has(signerFp), `t=${String(t)}: signer was already trusted a second ago`);
    for (const c of m.trusted) assert.ok(validityOf(c).notAfter.getTime() > at(t).getTime(), `t=${String(t)}: no expired CA in the caBundle`);
    previousTrusted = new Set(m.trusted.map(fingerprint));
  }
  assert.ok(rotations >= 2, `CA rotated ${String(rotations)} times`);
  assert.ok(renewals >= 10, `serving certificate renewed ${String(renewals)} times`);
});
