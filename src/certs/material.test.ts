// The Secret's layout: what is written reads back the same, and a Secret
// that contradicts itself is refused with a line saying what is wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCertificateAuthority } from "../tls/self-signed.ts";
import { fromSecretData, MaterialError, SECRET_KEYS, splitPemBundle, toSecretData } from "./material.ts";
import { fresh, plan, serviceHosts } from "./rotate.ts";
import { parseSecretRef, SecretRefError } from "./secret-store.ts";

const policy = { hosts: serviceHosts("agentgate", "ns"), servingValidityMs: 20_000, caValidityMs: 60_000 };
const T0 = Date.parse("2026-06-01T00:00:00Z");

test("a kubernetes.io/tls layout: tls.crt, tls.key, ca.crt (the caBundle) and ca.key; read back the same", () => {
  const m = fresh(policy, new Date(T0));
  const data = toSecretData(m);
  assert.deepEqual(Object.keys(data).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
  assert.equal(Buffer.from(data["ca.crt"] ?? "", "base64").toString(), m.signer.cert);
  assert.deepEqual(fromSecretData(data), m);
});

test("during a CA rotation ca.crt holds both CAs and ca-next.key tells which one is next", () => {
  const staged = plan(fresh(policy, new Date(T0)), policy, new Date(T0 + 40_000), { mayPromote: true });
  assert.ok(staged?.material.next);
  const data = toSecretData(staged.material);
  assert.equal(splitPemBundle(Buffer.from(data["ca.crt"] ?? "", "base64").toString()).length, 2);
  assert.ok(data[SECRET_KEYS.nextCaKey]);
  const back = fromSecretData(data);
  assert.equal(back.next?.cert, staged.material.next.cert);
  assert.equal(back.signer.cert, staged.material.signer.cert);
});

test("an inconsistent Secret is refused naming the problem", () => {
  const m = fresh(policy, new Date(T0));
  const other = createCertificateAuthority("other", { validityMs: 60_000 });
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const cases: [Record<string, string>, RegExp][] = [
    [{ ...toSecretData(m), "tls.key": b64(other.key) }, /tls\.crt and tls\.key do not belong together/],
    [{ ...toSecretData(m), "ca.key": b64(other.key) }, /no certificate in ca\.crt belongs to ca\.key/],
    [{ ...toSecretData(m), "ca.crt": b64("garbage") }, /ca\.crt holds no certificate/],
    [{ ...toSecretData(m), "ca.key": b64("not a key") }, /ca\.key is not a private key/],
    [{ "tls.crt": b64(m.serving.cert) }, /key tls\.key is missing/],
  ];
  for (const [data, message] of cases) assert.throws(() => fromSecretData(data), (err: unknown) => err instanceof MaterialError && message.test(err.message));
});

test("--cert-secret takes NAMESPACE/NAME", () => {
  assert.deepEqual(parseSecretRef("agentgate-system/agentgate-tls"), { namespace: "agentgate-system", name: "agentgate-tls" });
  for (const bad of ["agentgate-tls", "a/b/c", "NS/name", "/x"]) assert.throws(() => parseSecretRef(bad), SecretRefError, bad);
});
