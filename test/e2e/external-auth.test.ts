// External authentication end to end (auth-url and auth-*), against a real auth server written
// here (node:http on 127.0.0.1) and echo upstreams, as ingress-nginx's auth_request location does
// it: the sub-request carries ingress-nginx's headers and never the body; 2xx forwards with the
// auth-response-headers copied, 401 answers 401 (or 302 to auth-signin with the rd parameter),
// 403 answers 403, anything else or a timeout 500; Set-Cookie as add_header does it; answers
// cached per auth-cache-key; nothing reaches the upstream when the auth server refuses.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Request, h2Session } from '../support/certs.ts';
import { headerValues, startEcho, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { rawExchange, servedBy, type Reply } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

interface AuthSeen {
  readonly method: string;
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  bodyLength: number;
}

/** The auth server: what it answers is chosen by the path of the auth-url. */
function authServer(seen: AuthSeen[], held: ServerResponse[]): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const rec: AuthSeen = { method: req.method ?? '', url: req.url ?? '', headers: pairs(req.rawHeaders), bodyLength: 0 };
    seen.push(rec);
    req.on('data', (chunk: Buffer) => (rec.bodyLength += chunk.length));
    req.on('end', () => {
      const path = rec.url.split('?')[0]!;
      const user = req.headers['x-user'];
      switch (path) {
        case '/ok':
          res.writeHead(200, { 'x-auth-request-user': 'alice', 'x-auth-request-groups': ['admins', 'ops'] });
          return res.end('ok');
        case '/cookie':
          res.writeHead(202, { 'set-cookie': ['_oauth2_proxy=refreshed; Path=/; HttpOnly', 'second=2'] });
          return res.end();
        case '/deny401':
          res.writeHead(401, { 'www-authenticate': 'Bearer realm="gh"', 'set-cookie': '_oauth2_proxy_csrf=x; Path=/' });
          return res.end('no');
        case '/deny403':
          res.writeHead(403, { 'set-cookie': 'denied=1' });
          return res.end('no');
        case '/boom':
          res.writeHead(502);
          return res.end();
        case '/redirect':
          res.writeHead(302, { location: '/elsewhere' });
          return res.end();
        case '/hold':
          // Never answered: the route's proxy-read-timeout ends it.
          held.push(res);
          return;
        case '/cache':
          res.writeHead(typeof user === 'string' && user !== 'nobody' ? 200 : 401, typeof user === 'string' ? { 'x-auth-request-user': user } : {});
          return res.end();
        default:
          res.writeHead(404);
          return res.end();
      }
    });
  });
}

function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

const names = (headers: readonly (readonly [string, string])[]) => headers.map(([n]) => n.toLowerCase());

describe('external auth', () => {
  let echo: Echo;
  let auth: Server;
  let gh: Gatehouse;
  const seen: AuthSeen[] = [];
  const held: ServerResponse[] = [];
  let authOrigin = '';

  const site = (name: string, host: string | undefined, annotations: Record<string, string>, svc = 'echo') =>
    ingress(name, { annotations, rules: [{ ...(host === undefined ? {} : { host }), paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
  const lastEcho = () => echo.received.at(-1)!;

  beforeAll(async () => {
    echo = await startEcho({ name: 'app' });
    auth = authServer(seen, held);
    await new Promise<void>((r) => auth.listen(0, '127.0.0.1', () => r()));
    authOrigin = `http://127.0.0.1:${(auth.address() as AddressInfo).port}`;
    const port = (auth.address() as AddressInfo).port;
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'default', name: 'auth-headers' }, data: { 'My-Custom-Header': '42' } },
        site('ok', 'ok.test', { [`${A}auth-url`]: `${authOrigin}/ok`, [`${A}auth-response-headers`]: 'X-Auth-Request-User, X-Auth-Request-Email, X-Auth-Request-Groups' }),
        site('method', 'method.test', { [`${A}auth-url`]: `${authOrigin}/ok`, [`${A}auth-method`]: 'POST', [`${A}auth-proxy-set-headers`]: 'auth-headers', [`${A}auth-request-redirect`]: 'https://method.test/back' }),
        site('signin', 'signin.test', { [`${A}auth-url`]: `${authOrigin}/deny401`, [`${A}auth-signin`]: 'http://$host/auth/start' }),
        site('orig', 'orig.test', { [`${A}auth-url`]: `${authOrigin}/deny401`, [`${A}auth-signin`]: 'https://login.example/start?client=1', [`${A}auth-signin-redirect-param`]: 'orig' }),
        site('oauth2', 'oauth2.test', { [`${A}auth-url`]: `${authOrigin}/deny401`, [`${A}auth-signin`]: 'https://$host/oauth2/start?rd=$escaped_request_uri' }),
        site('deny', 'deny.test', { [`${A}auth-url`]: `${authOrigin}/deny401` }),
        site('forbid', 'forbid.test', { [`${A}auth-url`]: `${authOrigin}/deny403` }),
        site('forbid-cookie', 'forbid-cookie.test', { [`${A}auth-url`]: `${authOrigin}/deny403`, [`${A}auth-always-set-cookie`]: 'true' }),
        site('boom', 'boom.test', { [`${A}auth-url`]: `${authOrigin}/boom` }),
        site('redirect', 'redirect.test', { [`${A}auth-url`]: `${authOrigin}/redirect` }),
        site('hold', 'hold.test', { [`${A}auth-url`]: `${authOrigin}/hold`, [`${A}proxy-read-timeout`]: '1' }),
        site('refused', 'refused.test', { [`${A}auth-url`]: 'http://127.0.0.1:1/ok', [`${A}proxy-connect-timeout`]: '2' }),
        site('cookie', 'cookie.test', { [`${A}auth-url`]: `${authOrigin}/cookie` }),
        site('cookie-always', 'cookie-always.test', { [`${A}auth-url`]: `${authOrigin}/cookie`, [`${A}auth-always-set-cookie`]: 'true' }),
        site('cache', 'cache.test', { [`${A}auth-url`]: `${authOrigin}/cache`, [`${A}auth-cache-key`]: '$http_x_user', [`${A}auth-cache-duration`]: '200 401 5m', [`${A}auth-response-headers`]: 'X-Auth-Request-User' }),
        site('cache-cookie', 'cache-cookie.test', { [`${A}auth-url`]: `${authOrigin}/cookie`, [`${A}auth-cache-key`]: 'fixed', [`${A}auth-cache-duration`]: 'any 5m' }),
        site('vars', 'vars.test', { [`${A}auth-url`]: `${authOrigin}/ok?host=$host&rd=$escaped_request_uri&t=$http_x_token&u=$request_uri` }),
        site('dynamic', undefined, { [`${A}auth-url`]: `http://$host:${port}/ok` }),
        site('cors', 'cors.test', { [`${A}auth-url`]: `${authOrigin}/deny401`, [`${A}enable-cors`]: 'true' }),
        // satisfy any: the test client (127.0.0.1) is in the first allow list, not in the second.
        site('any-in', 'any-in.test', { [`${A}auth-url`]: `${authOrigin}/deny401`, [`${A}satisfy`]: 'any', [`${A}allowlist-source-range`]: '127.0.0.0/8' }),
        site('any-out', 'any-out.test', { [`${A}auth-url`]: `${authOrigin}/deny401`, [`${A}auth-signin`]: 'https://login.example/start', [`${A}satisfy`]: 'any', [`${A}allowlist-source-range`]: '192.0.2.0/24' }),
        site('any-out-ok', 'any-out-ok.test', { [`${A}auth-url`]: `${authOrigin}/ok`, [`${A}satisfy`]: 'any', [`${A}allowlist-source-range`]: '192.0.2.0/24' }),
        site('all-out-ok', 'all-out-ok.test', { [`${A}auth-url`]: `${authOrigin}/ok`, [`${A}allowlist-source-range`]: '192.0.2.0/24' }),
      ),
    });
  });

  afterAll(async () => {
    for (const res of held) res.destroy();
    await gh?.close();
    await echo?.close();
    await new Promise<void>((r) => (auth ? auth.close(() => r()) : r()));
  });

  it("sends ingress-nginx's headers and the client's, never the body nor the client's forwarding headers", async () => {
    const before = seen.length;
    const r = await gh.request('/submit?x=1', {
      method: 'POST',
      host: 'ok.test',
      headers: { 'content-type': 'text/plain', cookie: '_oauth2_proxy=abc', authorization: 'Bearer t', 'x-forwarded-proto': 'evil', 'x-forwarded-host': 'evil.example', 'x-forwarded-for': '203.0.113.9' },
      body: 'a body the auth server must not see',
    });
    expect(servedBy(r)).toBe('app');
    expect(seen.length).toBe(before + 1);
    const sub = seen.at(-1)!;
    expect(sub.method).toBe('GET');
    expect(sub.url).toBe('/ok');
    expect(sub.bodyLength).toBe(0);
    const h = (n: string) => headerValues(sub.headers, n);
    expect(h('host')).toEqual(['127.0.0.1']);
    expect(h('x-original-url')).toEqual(['http://ok.test/submit?x=1']);
    expect(h('x-original-method')).toEqual(['POST']);
    expect(h('x-sent-from')).toEqual(['nginx-ingress-controller']);
    expect(h('x-real-ip')).toEqual(['127.0.0.1']);
    expect(h('x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(h('x-forwarded-host')).toEqual(['ok.test']);
    expect(h('x-auth-request-redirect')).toEqual(['/submit?x=1']);
    expect(h('cookie')).toEqual(['_oauth2_proxy=abc']);
    expect(h('authorization')).toEqual(['Bearer t']);
    expect(h('content-type')).toEqual(['text/plain']);
    for (const absent of ['content-length', 'transfer-encoding', 'x-forwarded-proto', 'x-original-uri', 'x-scheme', 'expect']) expect(names(sub.headers), absent).not.toContain(absent);
    // The upstream still gets the request whole.
    const up = lastEcho();
    expect(up.method).toBe('POST');
    expect(up.bodyLength).toBe('a body the auth server must not see'.length);
  });

  it('with auth-method: that method, X-Original-URI and X-Scheme; auth-proxy-set-headers and auth-request-redirect', async () => {
    await gh.request('/p?q=2', { host: 'method.test' });
    const sub = seen.at(-1)!;
    expect(sub.method).toBe('POST');
    expect(sub.bodyLength).toBe(0);
    expect(headerValues(sub.headers, 'x-original-uri')).toEqual(['/p?q=2']);
    expect(headerValues(sub.headers, 'x-scheme')).toEqual(['http']);
    expect(headerValues(sub.headers, 'my-custom-header')).toEqual(['42']);
    expect(headerValues(sub.headers, 'x-auth-request-redirect')).toEqual(['https://method.test/back']);
  });

  it("copies auth-response-headers onto the upstream request, over the client's, and removes those the answer lacks", async () => {
    const r = await gh.request('/', { host: 'ok.test', headers: { 'x-auth-request-user': 'mallory', 'x-auth-request-email': 'spoofed@example' } });
    expect(r.status).toBe(200);
    const got = (JSON.parse(r.text) as EchoReply).headers;
    expect(headerValues(got, 'x-auth-request-user')).toEqual(['alice']);
    expect(headerValues(got, 'x-auth-request-groups')).toEqual(['admins, ops']);
    expect(headerValues(got, 'x-auth-request-email')).toEqual([]);
  });

  it('answers 401 with a 302 to auth-signin, rd holding the original URL as ingress-nginx builds it, and the auth cookies', async () => {
    const before = echo.received.length;
    const r = await gh.request('/?a=b&c=d', { host: 'signin.test' });
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe(`http://signin.test/auth/start?rd=http://signin.test${encodeURIComponent('/?a=b&c=d')}`);
    expect(r.headers['set-cookie']).toBe('_oauth2_proxy_csrf=x; Path=/');
    // A custom parameter after an existing query; and oauth2-proxy's own rd=$escaped_request_uri kept as written.
    expect((await gh.request('/x', { host: 'orig.test' })).headers.location).toBe('https://login.example/start?client=1&orig=http://orig.test%2Fx');
    expect((await gh.request('/app/page?id=7', { host: 'oauth2.test' })).headers.location).toBe('https://oauth2.test/oauth2/start?rd=%2Fapp%2Fpage%3Fid%3D7');
    expect(echo.received.length).toBe(before);
  });

  it("answers 401 without auth-signin with the auth answer's WWW-Authenticate, 403 as 403, and forwards nothing", async () => {
    const before = echo.received.length;
    const denied = await gh.request('/', { host: 'deny.test' });
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="gh"');
    expect(denied.headers['set-cookie']).toBeUndefined();
    const forbidden = await gh.request('/', { host: 'forbid.test', method: 'POST', body: 'x' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers['set-cookie']).toBeUndefined();
    expect(echo.received.length).toBe(before);
  });

  it('answers 500 when the auth server answers anything else, does not answer in time, or cannot be reached', async () => {
    const before = echo.received.length;
    expect((await gh.request('/', { host: 'boom.test' })).status).toBe(500);
    expect((await gh.request('/', { host: 'redirect.test' })).status).toBe(500);
    const heldBefore = held.length;
    // The auth server holds this one; the route's proxy-read-timeout (1 s) ends the wait.
    expect((await gh.request('/', { host: 'hold.test' })).status).toBe(500);
    expect(held.length).toBe(heldBefore + 1);
    expect((await gh.request('/', { host: 'refused.test' })).status).toBe(500);
    expect(echo.received.length).toBe(before);
  });

  it("puts the auth answer's Set-Cookie on the answer on success, and on errors only with auth-always-set-cookie", async () => {
    const ok = await gh.request('/', { host: 'cookie.test' });
    expect(ok.status).toBe(200);
    expect(ok.headers['set-cookie']).toEqual(['_oauth2_proxy=refreshed; Path=/; HttpOnly', 'second=2']);
    // An upstream error status: not one of add_header's statuses.
    const err = await gh.request('/__status/503', { host: 'cookie.test' });
    expect(err.status).toBe(503);
    expect(err.headers['set-cookie']).toBeUndefined();
    const always = await gh.request('/__status/503', { host: 'cookie-always.test' });
    expect(always.status).toBe(503);
    expect(always.headers['set-cookie']).toEqual(['_oauth2_proxy=refreshed; Path=/; HttpOnly', 'second=2']);
    const forbidden = await gh.request('/', { host: 'forbid-cookie.test' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers['set-cookie']).toBe('denied=1');
  });

  it('caches answers per auth-cache-key: the same key does not reach the auth server again, another key does', async () => {
    // One connection, so one worker (each worker keeps its own cache).
    const one = new Client(gh.origin, { pipelining: 1 });
    const get = (user: string) => gh.request('/', { host: 'cache.test', headers: { 'x-user': user } }, one);
    try {
      await cacheChecks(get);
    } finally {
      await one.close();
    }
  });

  async function cacheChecks(get: (user: string) => Promise<Reply>): Promise<void> {
    const before = seen.length;
    const alice = async () => {
      const r = await get('alice');
      expect(r.status).toBe(200);
      return headerValues((JSON.parse(r.text) as EchoReply).headers, 'x-auth-request-user');
    };
    expect(await alice()).toEqual(['alice']);
    expect(seen.length).toBe(before + 1);
    expect(await alice()).toEqual(['alice']);
    expect(seen.length).toBe(before + 1);
    const bob = await get('bob');
    expect(headerValues((JSON.parse(bob.text) as EchoReply).headers, 'x-auth-request-user')).toEqual(['bob']);
    expect(seen.length).toBe(before + 2);
    // 401 is listed in auth-cache-duration: kept too.
    expect((await get('nobody')).status).toBe(401);
    expect((await get('nobody')).status).toBe(401);
    expect(seen.length).toBe(before + 3);
  }

  it('does not cache an auth answer that sets a cookie, as nginx\'s proxy cache', async () => {
    const one = new Client(gh.origin, { pipelining: 1 });
    try {
      const before = seen.length;
      for (let i = 0; i < 2; i++) expect((await gh.request('/', { host: 'cache-cookie.test' }, one)).headers['set-cookie']).toEqual(['_oauth2_proxy=refreshed; Path=/; HttpOnly', 'second=2']);
      expect(seen.length).toBe(before + 2);
    } finally {
      await one.close();
    }
  });

  it('substitutes the variables of auth-url per request, escaped', async () => {
    await gh.request('/a"b{}/?q=1&r=2', { host: 'vars.test', headers: { 'x-token': 'a&b=c d%41' } });
    const sub = seen.at(-1)!;
    expect(sub.url).toBe('/ok?host=vars.test&rd=%2Fa%22b%7B%7D%2F%3Fq%3D1%26r%3D2&t=a%26b%3Dc%20d%41&u=/a%22b%7B%7D/?q=1&r=2');
  });

  it('takes the auth host from $host, and refuses a Host that names a link-local or unspecified address', async () => {
    const before = seen.length;
    const r = await gh.request('/', { host: '127.0.0.1' });
    expect(servedBy(r)).toBe('app');
    expect(seen.length).toBe(before + 1);
    expect(headerValues(seen.at(-1)!.headers, 'host')).toEqual(['127.0.0.1']);
    for (const host of ['169.254.169.254', '0.0.0.0', '[fe80::1]', 'a/b']) {
      expect((await gh.request('/', { host })).status, host).toBe(400);
    }
    expect(seen.length).toBe(before + 1);
  });

  it('answers a CORS preflight 204 without asking the auth server, and puts the CORS headers on its 401', async () => {
    const before = seen.length;
    const pre = await gh.request('/api', { method: 'OPTIONS', host: 'cors.test', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(seen.length).toBe(before);
    const denied = await gh.request('/api', { host: 'cors.test', headers: { origin: 'https://app.example' } });
    expect(denied.status).toBe(401);
    expect(denied.headers['access-control-allow-origin']).toBe('*');
    expect(seen.length).toBe(before + 1);
  });

  it('passes a WebSocket upgrade through auth with the copied headers, and refuses one the auth server refuses', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/chat`, { headers: { host: 'ok.test' } });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const got = echo.received.filter((x) => x.upgrade).at(-1)!;
      expect(headerValues(got.headers, 'x-auth-request-user')).toEqual(['alice']);
      // The sub-request of an upgrade is a plain GET: no Upgrade, no Connection: upgrade.
      const sub = seen.at(-1)!;
      expect(headerValues(sub.headers, 'x-original-url')).toEqual(['http://ok.test/chat']);
      expect(names(sub.headers)).not.toContain('upgrade');
    } finally {
      ws.terminate();
    }
    const upgrades = echo.received.filter((x) => x.upgrade).length;
    const r = await rawExchange(gh.httpPort, 'GET /chat HTTP/1.1\r\nHost: deny.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    expect(r.status).toBe(401);
    expect(echo.received.filter((x) => x.upgrade).length).toBe(upgrades);
  });

  it('with satisfy any, a client the allow list admits skips the auth server; one outside must pass it (a 401 still redirects to auth-signin)', async () => {
    const before = seen.length;
    expect(servedBy(await gh.request('/', { host: 'any-in.test' }))).toBe('app');
    expect(seen.length).toBe(before);
    const out = await gh.request('/x', { host: 'any-out.test' });
    expect(out.status).toBe(302);
    expect(out.headers.location).toBe('https://login.example/start?rd=http://any-out.test%2Fx');
    expect(seen.length).toBe(before + 1);
    expect(servedBy(await gh.request('/', { host: 'any-out-ok.test' }))).toBe('app');
    // satisfy all (the default): the allow list refuses first, whatever the auth server would say.
    expect((await gh.request('/', { host: 'all-out-ok.test' })).status).toBe(403);
    expect(seen.length).toBe(before + 2);
  });

  it('authenticates HTTP/2 requests the same way', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'ok.test' });
    try {
      const r = await h2Request(session, { ':method': 'GET', ':path': '/h2?x=1', ':authority': 'ok.test', cookie: 'a=1' });
      expect(r.status).toBe(200);
      const sub = seen.at(-1)!;
      expect(headerValues(sub.headers, 'x-original-url')).toEqual(['https://ok.test/h2?x=1']);
      expect(headerValues(sub.headers, 'cookie')).toEqual(['a=1']);
      expect(headerValues(sub.headers, 'host')).toEqual(['127.0.0.1']);
      expect((await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'deny.test' })).status).toBe(401);
    } finally {
      session.close();
    }
  });
});
