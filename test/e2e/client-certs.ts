// Client certificates for the tests of `serve --client-ca-file`: what a
// cluster admin issues the API server for its webhook calls.
import forge from "node-forge";
import { createCertificateAuthority, type IssuedCertificate } from "../../src/tls/self-signed.ts";

export interface TestCa {
  cert: string;
  key: string;
}

export function testCa(name: string): TestCa {
  const ca = createCertificateAuthority(name, { validityMs: 86_400_000 });
  return { cert: ca.cert, key: ca.key };
}

/** A certificate for TLS client authentication (extKeyUsage clientAuth only), CN `commonName`. */
export function clientCertificate(ca: TestCa, commonName: string, usage: "clientAuth" | "serverAuth" = "clientAuth"): IssuedCertificate {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: usage === "clientAuth", serverAuth: usage === "serverAuth" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey), notBefore: cert.validity.notBefore, notAfter: cert.validity.notAfter };
}
