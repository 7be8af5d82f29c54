// TLS termination end to end, through real TLS sockets: which certificate each SNI name gets
// (exact, wildcard, exact over wildcard, default, no SNI, and Secrets that cannot serve, with
// their conditions), ALPN, the TLS 1.2 floor, a Secret changed on disk served to new handshakes
// without a restart, sessions resumed across workers, --default-ssl-certificate, and WebSockets
// over TLS.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createCa, expired, fingerprintOf, h2Request, h2Session, handshake, httpsRequest, mismatched, tlsSecret, type KeyPair, type TestCa } from '../support/certs.ts';
import { headerValues, startEcho, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

const SELF_SIGNED_SAN = 'DNS:gatehouse.invalid';

const HOSTS = ['a.tls.test', 'x.wild.test', 'exact.wild.test', 'expired.tls.test', 'mismatch.tls.test', 'invalid.tls.test', 'missing.tls.test', 'opaque.tls.test', 'nosecret.tls.test'];

function tlsIngress(name: string, tls: { hosts: string[]; secretName?: string }[], hosts: readonly string[] = tls.flatMap((t) => t.hosts)): Record<string, unknown> {
  const ing = ingress(name, { rules: hosts.map((host) => ({ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] })) });
  (ing.spec as Record<string, unknown>).tls = tls;
  return ing;
}

describe('TLS by SNI', () => {
  let echo: Echo;
  let gh: Gatehouse;
  let ca: TestCa;
  const pairs: Record<string, KeyPair> = {};

  beforeAll(async () => {
    echo = await startEcho({ name: 'tls' });
    ca = await createCa();
    pairs.a = await ca.issue({ dnsNames: ['a.tls.test'] });
    pairs.wild = await ca.issue({ dnsNames: ['*.wild.test'] });
    pairs.exact = await ca.issue({ dnsNames: ['exact.wild.test'] });
    pairs.expired = await expired(ca, ['expired.tls.test']);
    pairs.other = await ca.issue({ dnsNames: ['other.tls.test'] });
    pairs.mismatch = mismatched(await ca.issue({ dnsNames: ['mismatch.tls.test'] }), pairs.other);
    gh = await startGatehouse({
      manifests: {
        'base.yaml': manifest(
          ingressClass('gatehouse'),
          backendService('echo', echo.port),
          tlsIngress('a', [{ hosts: ['a.tls.test'], secretName: 'a' }]),
          tlsIngress('wild', [{ hosts: ['*.wild.test'], secretName: 'wild' }, { hosts: ['exact.wild.test'], secretName: 'exact' }], ['x.wild.test', 'exact.wild.test']),
          tlsIngress('bad', [
            { hosts: ['expired.tls.test'], secretName: 'expired' },
            { hosts: ['mismatch.tls.test'], secretName: 'mismatch' },
            { hosts: ['invalid.tls.test'], secretName: 'invalid' },
            { hosts: ['missing.tls.test'], secretName: 'missing' },
            { hosts: ['opaque.tls.test'], secretName: 'opaque' },
            { hosts: ['nosecret.tls.test'] },
          ]),
          tlsSecret('wild', pairs.wild),
          tlsSecret('exact', pairs.exact),
          tlsSecret('expired', pairs.expired),
          tlsSecret('mismatch', pairs.mismatch),
          tlsSecret('invalid', { cert: 'not a certificate', key: 'not a key' }),
          tlsSecret('opaque', pairs.other, { type: 'Opaque' }),
        ),
        'secret-a.yaml': manifest(tlsSecret('a', pairs.a)),
      },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  // [SNI name sent (null: none), the certificate expected ('default': the generated self-signed one)]
  const table: [string | null, string][] = [
    ['a.tls.test', 'a'],
    ['A.TLS.test.', 'a'],
    ['x.wild.test', 'wild'],
    ['exact.wild.test', 'exact'],
    ['a.b.wild.test', 'default'],
    ['wild.test', 'default'],
    ['unknown.test', 'default'],
    [null, 'default'],
    ['expired.tls.test', 'default'],
    ['mismatch.tls.test', 'default'],
    ['invalid.tls.test', 'default'],
    ['missing.tls.test', 'default'],
    ['opaque.tls.test', 'default'],
    ['nosecret.tls.test', 'default'],
  ];
  it.each(table)('SNI %s gets the %s certificate', async (servername, want) => {
    const h = await handshake(gh.httpsPort, { servername, ca: want === 'default' ? undefined : ca.cert });
    if (want === 'default') expect(h.subjectAltName).toBe(SELF_SIGNED_SAN);
    else expect(h.fingerprint).toBe(fingerprintOf(pairs[want]!.cert));
  });

  it('gives each Secret that cannot serve a condition naming the Ingress field and the reason', () => {
    const got = gh.controller.conditions().map((c) => [c.ref.name, c.field, c.code]);
    expect(got).toEqual(expect.arrayContaining([
      ['bad', 'spec.tls[0].secretName', 'GH_TLS_CERT_EXPIRED'],
      ['bad', 'spec.tls[1].secretName', 'GH_TLS_KEY_MISMATCH'],
      ['bad', 'spec.tls[2].secretName', 'GH_TLS_SECRET_INVALID'],
      ['bad', 'spec.tls[3].secretName', 'GH_TLS_SECRET_NOT_FOUND'],
      ['bad', 'spec.tls[4].secretName', 'GH_TLS_SECRET_INVALID'],
    ]));
    expect(got).toHaveLength(5);
    const text = JSON.stringify(gh.controller.conditions());
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('BEGIN CERTIFICATE');
  });

  it('still routes the hosts whose Secret failed (over the default certificate)', async () => {
    for (const host of HOSTS) {
      const r = await httpsRequest(gh.httpsPort, { servername: host, path: '/ok' });
      expect(r.status, host).toBe(200);
    }
  });

  it('offers h2 and http/1.1 by ALPN, and HTTP/1.1 to a client that sends no ALPN', async () => {
    expect((await handshake(gh.httpsPort, { servername: 'a.tls.test', alpn: ['h2', 'http/1.1'] })).alpn).toBe('h2');
    expect((await handshake(gh.httpsPort, { servername: 'a.tls.test', alpn: ['http/1.1'] })).alpn).toBe('http/1.1');
    const r = await httpsRequest(gh.httpsPort, { servername: 'a.tls.test', path: '/no-alpn', ca: ca.cert });
    expect(r.status).toBe(200);
    expect(r.alpn).toBe(false);
    const reply = JSON.parse(r.text) as EchoReply;
    expect(headerValues(reply.headers, 'x-forwarded-proto')).toEqual(['https']);
    expect(headerValues(reply.headers, 'x-forwarded-port')).toEqual([String(gh.httpsPort)]);
  });

  it('refuses TLS 1.1 and accepts TLS 1.2 and 1.3', async () => {
    const err = await handshake(gh.httpsPort, { servername: 'a.tls.test', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    // The server's alert (70, protocol_version), not a client-side refusal: the client offered TLS 1.0-1.1.
    expect(err?.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect((await handshake(gh.httpsPort, { servername: 'a.tls.test', maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    expect((await handshake(gh.httpsPort, { servername: 'a.tls.test' })).protocol).toBe('TLSv1.3');
  });

  it('resumes a session on whichever worker the kernel picks (shared ticket keys)', async () => {
    const first = await handshake(gh.httpsPort, { servername: 'a.tls.test' });
    expect(first.session).not.toBeNull();
    const before = gh.controller.pool.status().map((w) => w.counters.tlsResumed);
    for (let i = 0; i < 24; i++) {
      const h = await handshake(gh.httpsPort, { servername: 'a.tls.test', session: first.session! });
      expect(h.reused, `connection ${i}`).toBe(true);
    }
    // The server counts a connection on its 'secureConnection', which under TLS 1.3 may come a
    // little after the client's handshake is done: wait for the count, then check it exactly.
    const resumedNow = () => gh.controller.pool.status().map((w, i) => w.counters.tlsResumed - before[i]!);
    await waitFor('the workers to count 24 resumed sessions', () => resumedNow().reduce((a, b) => a + b, 0) >= 24);
    const resumed = resumedNow();
    expect(resumed.reduce((a, b) => a + b, 0)).toBe(24);
    // 24 connections spread by the kernel's reusePort hash: each of the 2 workers resumed some.
    expect(resumed.every((n) => n > 0), `resumed per worker: ${resumed.join(', ')}`).toBe(true);
  });

  it('serves a changed Secret to new handshakes without a restart, and open connections keep working', async () => {
    const threads = gh.controller.pool.status().map((w) => w.threadId);
    const session = await h2Session(gh.httpsPort, { servername: 'a.tls.test', ca: ca.cert });
    try {
      expect((await h2Request(session, { ':path': '/before', ':authority': 'a.tls.test' })).status).toBe(200);
      const renewed = await ca.issue({ dnsNames: ['a.tls.test'] });
      await gh.write('secret-a.yaml', manifest(tlsSecret('a', renewed)));
      const h = await handshake(gh.httpsPort, { servername: 'a.tls.test', ca: ca.cert });
      expect(h.fingerprint).toBe(fingerprintOf(renewed.cert));
      expect(h.fingerprint).not.toBe(fingerprintOf(pairs.a!.cert));
      expect((await h2Request(session, { ':path': '/after', ':authority': 'a.tls.test' })).status).toBe(200);
      // A Secret that turns bad: its hosts fall back to the default certificate, with a condition.
      await gh.write('secret-a.yaml', manifest(tlsSecret('a', mismatched(renewed, pairs.other!))));
      expect((await handshake(gh.httpsPort, { servername: 'a.tls.test' })).subjectAltName).toBe(SELF_SIGNED_SAN);
      expect(gh.controller.conditions().some((c) => c.ref.name === 'a' && c.code === 'GH_TLS_KEY_MISMATCH')).toBe(true);
      await gh.write('secret-a.yaml', manifest(tlsSecret('a', renewed)));
      expect((await handshake(gh.httpsPort, { servername: 'a.tls.test', ca: ca.cert })).fingerprint).toBe(fingerprintOf(renewed.cert));
    } finally {
      session.close();
    }
    expect(gh.controller.pool.status().map((w) => w.threadId)).toEqual(threads);
  });

  it('proxies a WebSocket over TLS (HTTP/1.1)', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${gh.httpsPort}/chat`, { servername: 'a.tls.test', ca: ca.cert, headers: { host: 'a.tls.test' } } as WebSocket.ClientOptions);
    try {
      const message = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hi'));
        ws.once('message', (m) => resolve(String(m)));
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      });
      expect(message).toBe('tls:hi');
      const up = echo.received.filter((r) => r.upgrade).at(-1)!;
      expect(headerValues(up.headers, 'x-forwarded-proto')).toEqual(['https']);
    } finally {
      ws.terminate();
    }
  });
});

describe('--default-ssl-certificate', () => {
  let echo: Echo;
  let gh: Gatehouse;
  let ca: TestCa;
  let fallback: KeyPair;
  let site: KeyPair;

  beforeAll(async () => {
    echo = await startEcho({ name: 'd' });
    ca = await createCa();
    fallback = await ca.issue({ dnsNames: ['default.example'] });
    site = await ca.issue({ dnsNames: ['site.test'] });
    gh = await startGatehouse({
      options: { defaultSslCertificate: 'ingress/fallback' },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        tlsIngress('site', [{ hosts: ['site.test'], secretName: 'site' }]),
        tlsSecret('site', site),
        tlsSecret('fallback', fallback, { namespace: 'ingress' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('serves the named Secret without SNI and for names nothing else covers', async () => {
    expect((await handshake(gh.httpsPort, { servername: null })).fingerprint).toBe(fingerprintOf(fallback.cert));
    expect((await handshake(gh.httpsPort, { servername: 'nothing.test' })).fingerprint).toBe(fingerprintOf(fallback.cert));
    expect((await handshake(gh.httpsPort, { servername: 'site.test', ca: ca.cert })).fingerprint).toBe(fingerprintOf(site.cert));
    expect(gh.controller.conditions()).toEqual([]);
  });
});
