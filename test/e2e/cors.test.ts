// CORS end to end (enable-cors and cors-*), as ingress-nginx's CORS block: a preflight (OPTIONS with
// Origin and Access-Control-Request-Method) from an allowed origin is answered 204 by the proxy with
// exactly the CORS headers and never forwarded; other requests are forwarded and their answers get
// the CORS headers, replacing the upstream's; a request from an origin not in the list goes on as if
// CORS were off (forwarded, no CORS headers), a preflight too. With a list of origins every answer
// carries Vary: Origin, merged with the upstream's Vary (ingress-nginx sends none).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Request, h2Session } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { servedBy, type Reply } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, service, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';
const CORS_NAMES = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-expose-headers', 'access-control-max-age'];

/** The CORS headers of an answer (and whether it has a body framing), for exact comparison. */
function corsHeaders(r: Reply): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r.headers).filter(([name]) => CORS_NAMES.includes(name)));
}

const DEFAULTS = {
  'access-control-allow-origin': '*',
  'access-control-allow-credentials': 'true',
  'access-control-allow-methods': 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
  'access-control-allow-headers': 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
  'access-control-max-age': '1728000',
};

const LISTED = (origin: string) => ({
  'access-control-allow-origin': origin,
  'access-control-allow-methods': 'GET, POST',
  'access-control-allow-headers': 'X-Token, Content-Type',
  'access-control-expose-headers': 'X-Request-Id',
  'access-control-max-age': '600',
});

describe('CORS', () => {
  let echo: Echo;
  let own: Server;
  let gh: Gatehouse;

  const site = (name: string, host: string, svc: string, annotations: Record<string, string>) =>
    ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });

  beforeAll(async () => {
    echo = await startEcho({ name: 'cors' });
    // An upstream with CORS headers of its own, which the proxy's replace.
    own = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'access-control-allow-origin': 'https://upstream.example', 'access-control-max-age': '1', 'x-upstream': 'own', vary: 'Accept-Encoding' });
      res.end('own');
    });
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', () => r()));
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        backendService('own', (own.address() as AddressInfo).port),
        service('down'),
        site('any', 'any.test', 'echo', { [`${A}enable-cors`]: 'true' }),
        site('own', 'own.test', 'own', { [`${A}enable-cors`]: 'true' }),
        site('down', 'down.test', 'down', { [`${A}enable-cors`]: 'true' }),
        site('listed', 'listed.test', 'echo', {
          'gatehouse.io/enable-cors': 'true',
          [`${A}cors-allow-origin`]: 'https://app.example.com, https://*.example.org:8443',
          [`${A}cors-allow-methods`]: 'GET,POST',
          [`${A}cors-allow-headers`]: 'X-Token, Content-Type',
          [`${A}cors-expose-headers`]: 'X-Request-Id',
          [`${A}cors-allow-credentials`]: 'false',
          [`${A}cors-max-age`]: '600',
        }),
        site('off', 'off.test', 'echo', { [`${A}cors-allow-origin`]: 'https://app.example.com' }),
        site('own-listed', 'own-listed.test', 'own', { [`${A}enable-cors`]: 'true', [`${A}cors-allow-origin`]: 'https://app.example.com' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
    await new Promise<void>((r) => (own ? own.close(() => r()) : r()));
  });

  const preflight = (host: string, origin: string) =>
    gh.request('/api/items?x=1', { method: 'OPTIONS', host, headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' } });

  it('answers a preflight 204 with exactly the default CORS headers, no body, and forwards nothing', async () => {
    const before = echo.received.length;
    const r = await preflight('any.test', 'https://anywhere.example');
    expect(r.status).toBe(204);
    expect(corsHeaders(r)).toEqual(DEFAULTS);
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers['content-type']).toBeUndefined();
    expect(r.text).toBe('');
    expect(echo.received.length).toBe(before);
  });

  it('puts the CORS headers on forwarded answers, with or without an Origin (cors-allow-origin *)', async () => {
    for (const headers of [{ origin: 'https://anywhere.example' }, {}] as Record<string, string>[]) {
      const r = await gh.request('/page', { host: 'any.test', headers });
      expect(servedBy(r)).toBe('cors');
      expect(corsHeaders(r)).toEqual(DEFAULTS);
    }
  });

  it('forwards an OPTIONS request that is no preflight (no Access-Control-Request-Method), with the CORS headers on its answer', async () => {
    const before = echo.received.length;
    const r = await gh.request('/', { method: 'OPTIONS', host: 'any.test', headers: { origin: 'https://anywhere.example' } });
    expect(servedBy(r)).toBe('cors');
    expect(corsHeaders(r)).toEqual(DEFAULTS);
    expect(echo.received.length).toBe(before + 1);
  });

  it("replaces the upstream's own CORS headers, as more_set_headers does, and keeps its others", async () => {
    const r = await gh.request('/', { host: 'own.test', headers: { origin: 'https://anywhere.example' } });
    expect(r.text).toBe('own');
    expect(r.headers['x-upstream']).toBe('own');
    expect(corsHeaders(r)).toEqual(DEFAULTS);
  });

  it("puts them on the proxy's own error answers too", async () => {
    const r = await gh.request('/', { host: 'down.test', headers: { origin: 'https://anywhere.example' } });
    expect(r.status).toBe(503);
    expect(corsHeaders(r)).toEqual(DEFAULTS);
  });

  it('answers preflights from listed origins with that origin, matching case-insensitively and one label for `*.`', async () => {
    for (const origin of ['https://app.example.com', 'https://APP.Example.com', 'https://x.example.org:8443', 'https://a-1.example.org:8443']) {
      const r = await preflight('listed.test', origin);
      expect(r.status, origin).toBe(204);
      expect(corsHeaders(r), origin).toEqual(LISTED(origin));
    }
  });

  it('forwards a preflight from an origin not listed, without CORS headers, as ingress-nginx', async () => {
    for (const origin of ['https://evil.example', 'http://app.example.com', 'https://app.example.com:443', 'https://a.b.example.org:8443', 'https://example.org:8443', 'https://x.example.org', 'null', 'https://app.example.com.evil.example']) {
      const before = echo.received.length;
      const r = await preflight('listed.test', origin);
      expect(servedBy(r), origin).toBe('cors');
      expect(corsHeaders(r), origin).toEqual({});
      expect(echo.received.length, origin).toBe(before + 1);
      expect(echo.received.at(-1)!.method).toBe('OPTIONS');
    }
  });

  it('puts the CORS headers on answers to listed origins only', async () => {
    expect(corsHeaders(await gh.request('/', { host: 'listed.test', headers: { origin: 'https://app.example.com' } }))).toEqual(LISTED('https://app.example.com'));
    expect(corsHeaders(await gh.request('/', { host: 'listed.test', headers: { origin: 'https://evil.example' } }))).toEqual({});
    expect(corsHeaders(await gh.request('/', { host: 'listed.test' }))).toEqual({});
  });

  it('with a list of origins, sends Vary: Origin on every answer (in or not, preflight or not), merged with the upstream\'s Vary', async () => {
    for (const origin of ['https://app.example.com', 'https://evil.example', undefined]) {
      const headers: Record<string, string> = origin === undefined ? {} : { origin };
      expect((await gh.request('/', { host: 'listed.test', headers })).headers.vary, origin).toBe('Origin');
      const merged = await gh.request('/', { host: 'own-listed.test', headers });
      expect(merged.text).toBe('own');
      expect(merged.headers.vary, origin).toBe('Accept-Encoding, Origin');
    }
    expect((await preflight('listed.test', 'https://app.example.com')).headers.vary).toBe('Origin');
    // `*`: the answer is the same whatever the Origin; the upstream's Vary passes as it is.
    expect((await gh.request('/', { host: 'any.test', headers: { origin: 'https://app.example.com' } })).headers.vary).toBeUndefined();
    expect((await gh.request('/', { host: 'own.test', headers: { origin: 'https://app.example.com' } })).headers.vary).toBe('Accept-Encoding');
  });

  it('does nothing without enable-cors', async () => {
    const r = await preflight('off.test', 'https://app.example.com');
    expect(servedBy(r)).toBe('cors');
    expect(corsHeaders(r)).toEqual({});
  });

  it('answers HTTP/2 preflights the same way', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'listed.test' });
    try {
      const before = echo.received.length;
      const r = await h2Request(session, { ':method': 'OPTIONS', ':path': '/', ':authority': 'listed.test', origin: 'https://app.example.com', 'access-control-request-method': 'POST' });
      expect(r.status).toBe(204);
      expect(r.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(r.headers['access-control-max-age']).toBe('600');
      expect(r.headers.vary).toBe('Origin');
      expect(r.body.length).toBe(0);
      expect(echo.received.length).toBe(before);
    } finally {
      session.close();
    }
  });
});
