import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, type KeyPair, type TestCa } from '../../../test/support/certs.ts';
import { escapeCertificate, intermediates, rfc2253 } from './client-cert.ts';

describe('client-cert step helpers', () => {
  it('writes a DN as RFC 2253, most specific first, bytes over 0x7f escaped (nginx\'s $ssl_client_s_dn)', () => {
    expect(rfc2253('C=CH\nL=Zürich\nO=Acme\\, Inc.\nCN=alice')).toBe('CN=alice,O=Acme\\, Inc.,L=Z\\C3\\BCrich,C=CH');
    expect(rfc2253('O=x\nOU=a + CN=b')).toBe('OU=a+CN=b,O=x');
    expect(rfc2253('')).toBe('');
  });

  it('escapes a PEM as nginx\'s $ssl_client_escaped_cert: all but A-Z a-z 0-9 - . _ ~', () => {
    expect(escapeCertificate("-----BEGIN CERTIFICATE-----\nab+/=!'()*~_.\n")).toBe('-----BEGIN%20CERTIFICATE-----%0Aab%2B%2F%3D%21%27%28%29%2A~_.%0A');
  });

  describe('intermediates (auth-tls-verify-depth)', () => {
    let root: TestCa;
    let int1: TestCa;
    let int2: TestCa;
    let leaf: KeyPair;
    let deep: KeyPair;
    let deeper: KeyPair;
    const x = (pem: string) => new X509Certificate(pem);

    beforeAll(async () => {
      root = await createCa('R');
      int1 = await root.intermediate('I1');
      int2 = await int1.intermediate('I2');
      [leaf, deep, deeper] = await Promise.all([root.issue({ dnsNames: ['l'], usage: 'client' }), int1.issue({ dnsNames: ['d'], usage: 'client' }), int2.issue({ dnsNames: ['dd'], usage: 'client' })]);
    });

    it('counts the intermediates through the bundle, and one for an issuer the bundle lacks (sent by the client)', () => {
      const bundle = [x(root.cert), x(int1.cert), x(int2.cert)];
      expect(intermediates(x(leaf.cert), bundle)).toBe(0);
      expect(intermediates(x(deep.cert), bundle)).toBe(1);
      expect(intermediates(x(deeper.cert), bundle)).toBe(2);
      expect(intermediates(x(deep.cert), [x(root.cert)])).toBe(1);
      expect(intermediates(x(root.cert), [x(root.cert)])).toBe(0);
    });
  });
});
