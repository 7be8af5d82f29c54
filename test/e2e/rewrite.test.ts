// The rewrite family end to end, through real sockets to echo upstreams that report exactly what
// they received: rewrite-target with capture groups (ingress-nginx's rewrite example), the query
// string kept, X-Forwarded-Prefix, upstream-vhost, regex mode for a whole host (use-regex on one
// Ingress), preserve-trailing-slash on the ssl-redirect, and a catastrophic-backtracking regex
// that must not stall the (single) worker.

import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { h2Request, h2Session } from '../support/certs.ts';
import { headerValues, startEchoes, type Echo, type Received } from '../support/echo-upstream.ts';
import { rawExchange } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const CATASTROPHIC = `/${'a'.repeat(50)}!`;

describe('rewrite annotations', () => {
  let e: Record<'rw' | 'regex' | 'plain' | 'redos' | 'other', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  beforeAll(async () => {
    e = await startEchoes(['rw', 'regex', 'plain', 'redos', 'other'] as const);
    gh = await startGatehouse({
      // One worker: the ReDoS request and the one after it meet on the same event loop.
      options: { workers: 1 },
      manifests: manifest(
        ingressClass('gatehouse'),
        ...(['rw', 'regex', 'plain', 'redos', 'other'] as const).flatMap((n) => backendService(n, e[n].port)),
        // ingress-nginx's rewrite example (docs/examples/rewrite).
        ingress('rewrite', {
          annotations: { [`${NGINX}rewrite-target`]: '/$2', [`${NGINX}x-forwarded-prefix`]: '/something', [`gatehouse.io/upstream-vhost`]: 'internal.example:8080' },
          rules: [{ host: 'rewrite.test', paths: [{ path: '/something(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'rw' }] }],
        }),
        // use-regex on one Ingress puts the whole host in regex mode, the other Ingress's paths too.
        ingress('regex', {
          creationTimestamp: '2024-01-01T00:00:00Z',
          annotations: { [`${NGINX}use-regex`]: 'true' },
          rules: [{ host: 'regex.test', paths: [{ path: '/foo/bar/[a-z]{3}', pathType: 'ImplementationSpecific', service: 'regex' }] }],
        }),
        ingress('plain', {
          creationTimestamp: '2024-01-02T00:00:00Z',
          rules: [
            {
              host: 'regex.test',
              paths: [
                { path: '/foo/bar/bar', pathType: 'Prefix', service: 'plain' },
                { path: '/docs', pathType: 'Prefix', service: 'plain' },
                { path: '/static', pathType: 'ImplementationSpecific', service: 'plain' },
                { path: '/Exact', pathType: 'Exact', service: 'plain' },
              ],
            },
            // Another host of the same Ingress: not in regex mode.
            { host: 'plain.test', paths: [{ path: '/static', pathType: 'ImplementationSpecific', service: 'plain' }] },
          ],
        }),
        ingress('redos', {
          annotations: { [`${NGINX}use-regex`]: 'true', [`${NGINX}rewrite-target`]: '/got/$1' },
          rules: [{ host: 'redos.test', paths: [{ path: '/(a+)+$', pathType: 'ImplementationSpecific', service: 'redos' }] }],
        }),
        ingress('other', { rules: [{ host: 'other.test', paths: [{ path: '/', pathType: 'Prefix', service: 'other' }] }] }),
        // preserve-trailing-slash: "false" drops the slash from the ssl-redirect Location, as ingress-nginx's default.
        ingress('strip', {
          annotations: { [`${NGINX}force-ssl-redirect`]: 'true', [`${NGINX}preserve-trailing-slash`]: 'false' },
          rules: [{ host: 'strip.test', paths: [{ path: '/', pathType: 'Prefix', service: 'other' }] }],
        }),
        ingress('keep', {
          annotations: { [`${NGINX}force-ssl-redirect`]: 'true' },
          rules: [{ host: 'keep.test', paths: [{ path: '/', pathType: 'Prefix', service: 'other' }] }],
        }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
  });

  const get = (target: string, host: string, headers = '') => rawExchange(gh.httpPort, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`);
  const last = (echo: Echo): Received => echo.received.at(-1)!;

  describe('rewrite-target, x-forwarded-prefix, upstream-vhost', () => {
    it.each([
      ['/something/new/path?x=1&y=%2F', '/new/path?x=1&y=%2F'],
      ['/something', '/'],
      ['/something/', '/'],
      ['/SOMETHING/Keeps/Case', '/Keeps/Case'],
      ['/something/a/../b//c/./d', '/b/c/d'],
      ['/something/a%2Fb/%7Euser/caf%c3%a9', '/a%2Fb/~user/caf%C3%A9'],
      ['/something/x?', '/x'],
    ])('sends %j upstream as %j, with the Host and X-Forwarded-Prefix the annotations name', async (target, want) => {
      const r = await get(target, 'rewrite.test', 'X-Forwarded-Prefix: /from-client\r\n');
      expect(r.status).toBe(200);
      const got = last(e.rw);
      expect(got.url).toBe(want);
      expect(headerValues(got.headers, 'host')).toEqual(['internal.example:8080']);
      expect(headerValues(got.headers, 'x-forwarded-prefix')).toEqual(['/something']);
      // The client's host is still the one X-Forwarded-Host names.
      expect(headerValues(got.headers, 'x-forwarded-host')).toEqual(['rewrite.test']);
    });

    it('answers a path the regex does not match with 404, forwarding nothing', async () => {
      const before = e.rw.received.length;
      expect((await get('/other', 'rewrite.test')).status).toBe(404);
      expect((await get('/somethingelse', 'rewrite.test')).status).toBe(404);
      expect(e.rw.received.length).toBe(before);
    });

    it('rewrites HTTP/2 requests the same way', async () => {
      let session: ClientHttp2Session | undefined;
      try {
        session = await h2Session(gh.httpsPort, { servername: 'rewrite.test' });
        const r = await h2Request(session, { ':method': 'GET', ':path': '/something/h2/x?q=1', ':authority': 'rewrite.test' });
        expect(r.status).toBe(200);
        const got = last(e.rw);
        expect(got.url).toBe('/h2/x?q=1');
        expect(headerValues(got.headers, 'host')).toEqual(['internal.example:8080']);
        expect(headerValues(got.headers, 'x-forwarded-prefix')).toEqual(['/something']);
      } finally {
        session?.close();
      }
    });

    it('rewrites a WebSocket upgrade’s target and Host', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/something/chat?room=1`, { headers: { host: 'rewrite.test' } });
      try {
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        const got = e.rw.received.filter((x) => x.upgrade).at(-1)!;
        expect(got.url).toBe('/chat?room=1');
        expect(headerValues(got.headers, 'host')).toEqual(['internal.example:8080']);
        expect(headerValues(got.headers, 'x-forwarded-prefix')).toEqual(['/something']);
      } finally {
        ws.terminate();
      }
    });
  });

  describe('regex mode (use-regex)', () => {
    it.each([
      // ingress-nginx's documented warning: the longer regex wins over the Prefix path it shadows.
      ['/foo/bar/bar', 'regex'],
      ['/FOO/Bar/xyz/more', 'regex'],
      ['/foo/bar/bar/1', 'regex'],
      // Prefix stays element-wise and case-sensitive.
      ['/docs', 'plain'],
      ['/docs/a/', 'plain'],
      // The other Ingress's ImplementationSpecific path is a regex too: case-insensitive, from the start.
      ['/STATIC/x', 'plain'],
      ['/staticx', 'plain'],
      ['/Exact', 'plain'],
    ])('routes %j on the regex host to %s, as sent', async (target, want) => {
      const r = await get(target, 'regex.test');
      expect(r.status).toBe(200);
      expect(r.headers.get('x-echo-name')).toEqual([want]);
      expect(last(e[want as 'regex' | 'plain']).url).toBe(target);
    });

    it.each(['/exact', '/x/static', '/foo/ba', '/DOCS', '/docsx'])('answers %j on the regex host with 404', async (target) => {
      expect((await get(target, 'regex.test')).status).toBe(404);
    });

    it('leaves another host of the same Ingress out of regex mode (Prefix, case-sensitive)', async () => {
      expect((await get('/static/x', 'plain.test')).status).toBe(200);
      expect((await get('/STATIC/x', 'plain.test')).status).toBe(404);
      expect((await get('/staticx', 'plain.test')).status).toBe(404);
    });
  });

  describe('a catastrophic-backtracking path regex', () => {
    it('does not stall the worker: (a+)+$ against 50 a and a ! answers, and so does the next request', async () => {
      const before = e.redos.received.length;
      // Sent together to a single worker: a backtracking engine would hold its event loop for ~2^50
      // steps and both would time out (rawExchange gives up after 5 s).
      const [stuck, next] = await Promise.all([get(CATASTROPHIC, 'redos.test'), get('/after', 'other.test')]);
      expect(stuck.status).toBe(404);
      expect(next.status).toBe(200);
      expect(e.redos.received.length).toBe(before);
      // The same regex still matches, and its group rewrites the path.
      expect((await get(`/${'a'.repeat(50)}`, 'redos.test')).status).toBe(200);
      expect(last(e.redos).url).toBe(`/got/${'a'.repeat(50)}`);
      // Many more in a row, with a long path: each is linear in the path.
      const long = `/${'a'.repeat(8000)}!`;
      const all = await Promise.all(Array.from({ length: 20 }, () => get(long, 'redos.test')));
      expect(all.map((r) => r.status)).toEqual(Array(20).fill(404));
      expect((await get('/', 'other.test')).status).toBe(200);
    });
  });

  describe('preserve-trailing-slash', () => {
    it.each([
      ['strip.test', '/dir/', 'https://strip.test/dir'],
      ['strip.test', '/', 'https://strip.test'],
      ['strip.test', '/dir/?q=1', 'https://strip.test/dir/?q=1'],
      ['strip.test', '/dir', 'https://strip.test/dir'],
      ['keep.test', '/dir/', 'https://keep.test/dir/'],
      ['keep.test', '/', 'https://keep.test/'],
    ])('redirects %s%s to %j', async (host, target, location) => {
      const r = await get(target, host);
      expect(r.status).toBe(308);
      expect(r.headers.get('location')).toEqual([location]);
    });
  });
});
