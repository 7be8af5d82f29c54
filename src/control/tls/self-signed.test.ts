import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { generateSelfSigned } from './self-signed.ts';

const OPENSSL = '/usr/bin/openssl';
const DAY = 86_400_000;

describe('the generated default certificate', () => {
  it('is a self-signed P-256 server certificate for gatehouse.invalid, valid from a minute ago for a year, with its key', async () => {
    const before = Date.now();
    const { cert, key } = await generateSelfSigned();
    const x = new X509Certificate(cert);
    expect(x.subject).toBe('CN=Gatehouse Default Certificate');
    expect(x.issuer).toBe(x.subject);
    expect(x.subjectAltName).toBe('DNS:gatehouse.invalid');
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // Validity has second precision: notBefore is a minute before the call, notAfter 365 days later.
    const from = Date.parse(x.validFrom);
    expect(from).toBeGreaterThanOrEqual(Math.floor((before - 60_000) / 1000) * 1000);
    expect(from).toBeLessThanOrEqual(Date.now() - 59_000);
    expect(Date.parse(x.validTo) - from).toBe(365 * DAY);
    expect(x.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it('takes a common name and a lifetime; a notAfter from 2050 on is a GeneralizedTime', async () => {
    const x = new X509Certificate((await generateSelfSigned({ commonName: 'bench.local', days: 100 * 365 })).cert);
    expect(x.subject).toBe('CN=bench.local');
    expect(new Date(x.validTo).getUTCFullYear()).toBeGreaterThanOrEqual(2100);
    expect(x.verify(x.publicKey)).toBe(true);
  });

  it('gets a new key and serial number each time', async () => {
    const [a, b] = [await generateSelfSigned(), await generateSelfSigned()];
    expect(a.key).not.toBe(b.key);
    expect(new X509Certificate(a.cert).serialNumber).not.toBe(new X509Certificate(b.cert).serialNumber);
  });

  it('serves TLS: a client that trusts it verifies the chain and the name gatehouse.invalid', async () => {
    const { cert, key } = await generateSelfSigned();
    const server = createServer({ cert, key }, (socket) => socket.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const socket = connect({ host: '127.0.0.1', port, servername: 'gatehouse.invalid', ca: cert });
      await once(socket, 'secureConnect');
      expect(socket.authorized).toBe(true);
      let body = '';
      socket.setEncoding('utf8').on('data', (d: string) => (body += d));
      await once(socket, 'end');
      expect(body).toBe('ok');
    } finally {
      server.close();
    }
  });

  it.runIf(existsSync(OPENSSL))('reads as OpenSSL prints it: critical CA:FALSE and digitalSignature, serverAuth, the DNS name', async () => {
    const { cert } = await generateSelfSigned();
    const r = spawnSync(OPENSSL, ['x509', '-noout', '-text'], { input: cert, encoding: 'utf8', timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toContain('X509v3 Basic Constraints: critical CA:FALSE');
    expect(text).toContain('X509v3 Key Usage: critical Digital Signature');
    expect(text).toContain('X509v3 Extended Key Usage: TLS Web Server Authentication');
    expect(text).toContain('X509v3 Subject Alternative Name: DNS:gatehouse.invalid');
  });
});
