// The default certificate when --default-ssl-certificate names none: self-signed, made once at
// start on the main thread and shipped to the workers (ingress-nginx serves its "Fake
// Certificate" the same way). node:crypto parses and checks X.509 certificates but cannot issue
// one, so this uses @peculiar/x509 (on Node's WebCrypto): typed, maintained, and the library
// acme-client (planned for ACME, issue 4) builds on, so it adds nothing new to the tree then.

import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificatePem } from '../../dataplane/tls/tls-material.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** PKCS#8 DER → PEM. */
export function pkcs8Pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n`;
}

export async function generateSelfSigned(options: { commonName?: string; days?: number } = {}): Promise<CertificatePem> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (options.days ?? 365) * 86_400_000);
  const cn = options.commonName ?? 'Gatehouse Default Certificate';
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${cn}`,
    notBefore,
    notAfter,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"],
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'gatehouse.invalid' }]),
    ],
  });
  const key = pkcs8Pem(await webcrypto.subtle.exportKey('pkcs8', (keys as webcrypto.CryptoKeyPair).privateKey));
  return { cert: cert.toString('pem'), key };
}
