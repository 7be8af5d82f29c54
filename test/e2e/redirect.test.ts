// Plain-HTTP → HTTPS redirects and HSTS end to end, as ingress-nginx gives them: 308 for hosts with
// TLS (ssl-redirect, default on), the per-Ingress opt-out, force-ssl-redirect without TLS, the
// Location exact (path and query byte for byte, the public HTTPS port, never the listener's), ACME
// challenges exempt; --default-ssl-redirect=false, --https-redirect-port and --hsts*.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, httpsRequest, tlsSecret, type KeyPair } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { rawExchange, servedBy } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

function site(name: string, host: string, o: { tls?: boolean; secret?: boolean; annotations?: Record<string, string> } = {}): Record<string, unknown> {
  const ing = ingress(name, { annotations: o.annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });
  if (o.tls) (ing.spec as Record<string, unknown>).tls = [{ hosts: [host], ...(o.secret === false ? {} : { secretName: 'sites' }) }];
  return ing;
}

let pair: KeyPair;

function objects(echo: Echo): Record<string, unknown>[] {
  return [
    ingressClass('gatehouse'),
    ...backendService('echo', echo.port),
    tlsSecret('sites', pair),
    site('secure', 'secure.test', { tls: true }),
    site('no-secret', 'nosecret.test', { tls: true, secret: false }),
    site('opt-out', 'optout.test', { tls: true, annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' } }),
    site('opt-in', 'optin.test', { tls: true, annotations: { 'gatehouse.io/ssl-redirect': 'true' } }),
    site('forced', 'forced.test', { annotations: { 'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true' } }),
    site('plain', 'plain.test'),
  ];
}

beforeAll(async () => {
  const ca = await createCa();
  pair = await ca.issue({ dnsNames: ['secure.test', 'nosecret.test', 'optout.test', 'optin.test'] });
});

describe('redirects with the defaults', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'r' });
    gh = await startGatehouse({ manifests: manifest(objects(echo)) });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  const raw = (target: string, host: string, method = 'GET') => rawExchange(gh.httpPort, `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);

  it('answers 308 to https for a host with TLS, path and query byte for byte, no port in the Location', async () => {
    const before = echo.received.length;
    for (const target of ['/', '/a/b?x=1&y=%20', '/./x//y/%7E%41;p=1?q=a+b&q=%2F&=&empty', '/trailing/', '/?']) {
      const r = await raw(target, 'secure.test');
      expect(r.status, target).toBe(308);
      expect(r.headers.get('location'), target).toEqual([`https://secure.test${target}`]);
    }
    expect(echo.received.length).toBe(before);
  });

  it('names port 443 implicitly, never the listener port or the port in the Host header', async () => {
    const r = await raw('/p', `secure.test:${gh.httpPort}`);
    expect(r.headers.get('location')).toEqual(['https://secure.test/p']);
    expect((await raw('/p', 'Secure.Test:80')).headers.get('location')).toEqual(['https://Secure.Test/p']);
  });

  it('redirects every method with 308, which keeps the method and body', async () => {
    const r = await raw('/form', 'secure.test', 'POST');
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toEqual(['https://secure.test/form']);
  });

  it('redirects a host whose TLS entry names no Secret (default certificate)', async () => {
    expect((await raw('/', 'nosecret.test')).status).toBe(308);
  });

  it('does not redirect when the Ingress says ssl-redirect: "false", nor a host without TLS', async () => {
    expect(servedBy(await gh.request('/', { host: 'optout.test' }))).toBe('r');
    expect(servedBy(await gh.request('/', { host: 'plain.test' }))).toBe('r');
    expect((await gh.request('/', { host: 'unknown.test' })).status).toBe(404);
  });

  it('redirects without TLS when force-ssl-redirect is set', async () => {
    const r = await raw('/x?y', 'forced.test');
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toEqual(['https://forced.test/x?y']);
  });

  it('never redirects ACME HTTP-01 challenges', async () => {
    for (const host of ['secure.test', 'forced.test']) {
      const r = await gh.request('/.well-known/acme-challenge/token-123', { host });
      expect(r.status, host).toBe(200);
      expect(servedBy(r)).toBe('r');
    }
    // Only that directory: its parent is redirected as usual.
    expect((await raw('/.well-known/other', 'secure.test')).status).toBe(308);
  });

  it('serves HTTPS without redirecting, and sends no HSTS header when --hsts is off', async () => {
    const r = await httpsRequest(gh.httpsPort, { servername: 'secure.test', path: '/over-tls' });
    expect(r.status).toBe(200);
    expect(r.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('redirects and HSTS with flags', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'f' });
    gh = await startGatehouse({
      options: { defaultSslRedirect: false, httpsRedirectPort: 8443, hsts: true, hstsMaxAge: 600, hstsIncludeSubdomains: false, hstsPreload: true },
      manifests: manifest(objects(echo)),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('--default-ssl-redirect=false: TLS hosts are served over HTTP unless the Ingress opts in', async () => {
    expect(servedBy(await gh.request('/', { host: 'secure.test' }))).toBe('f');
    const r = await rawExchange(gh.httpPort, 'GET /in?x HTTP/1.1\r\nHost: optin.test\r\nConnection: close\r\n\r\n');
    expect(r.status).toBe(308);
    // --https-redirect-port 8443: the Location names it.
    expect(r.headers.get('location')).toEqual(['https://optin.test:8443/in?x']);
    expect((await rawExchange(gh.httpPort, 'GET / HTTP/1.1\r\nHost: forced.test\r\nConnection: close\r\n\r\n')).status).toBe(308);
  });

  it('--hsts: Strict-Transport-Security on HTTPS answers (proxied and our own), never on plain HTTP', async () => {
    const want = 'max-age=600; preload';
    const proxied = await httpsRequest(gh.httpsPort, { servername: 'secure.test', path: '/hsts' });
    expect(proxied.status).toBe(200);
    expect(proxied.headers['strict-transport-security']).toBe(want);
    const notFound = await httpsRequest(gh.httpsPort, { servername: 'secure.test', host: 'unknown.test', path: '/' });
    expect(notFound.status).toBe(404);
    expect(notFound.headers['strict-transport-security']).toBe(want);
    const plain = await gh.request('/', { host: 'plain.test' });
    expect(plain.headers['strict-transport-security']).toBeUndefined();
  });
});
