// custom-http-errors and default-backend end to end, as ingress-nginx (nginx.tmpl `error_page …
// = @custom_…`, `location @custom_…`; controller.go's custom-default-backend upstream): answers
// with a listed status, from the upstream or Gatehouse's own 502/503/504, are replaced by the
// error backend's answer (its status, headers and body), which gets the same method, `/` with the
// client's query, and exactly ingress-nginx's X-* headers; default-backend takes the requests of a
// backend without endpoints (X-Code 503); no error backend answers 404 (ingress-nginx's own default
// server); a failing error backend's failure is final. HTTP/1.1 and HTTP/2 clients, HTTP/1.1 and
// h2c upstreams.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2cServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Request, h2Session } from '../support/certs.ts';
import type { Reply } from '../support/http-client.ts';
import { backendService, endpointSlice, freePort, ingress, ingressClass, manifest, service, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

interface Recorder {
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/**
 * An upstream that records what it got and answers `<name> <status>`: `…/status/<code>` answers
 * that status, `…/hold` never answers, else the X-Code it was sent (an error backend rendering the page for the code), else 200.
 */
async function recorder(name: string, h2c = false): Promise<Recorder> {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: [string, string][] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
      seen.push({ method: req.method!, url: req.url!, headers, body: Buffer.concat(chunks).toString() });
      if (req.url!.endsWith('/hold')) return; // never answered: the proxy's read timeout ends it
      const m = /\/status\/(\d{3})$/.exec(req.url!.split('?')[0]!);
      const code = req.headers['x-code'];
      const status = m !== null ? Number(m[1]) : typeof code === 'string' ? Number(code) : 200;
      const body = `${name} ${status}`;
      (res as ServerResponse).writeHead(status, { 'content-type': 'text/plain', 'x-served-by': name, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
  const server = h2c ? createH2cServer(handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => {
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

/** The X-* headers an error backend got, lower case, sorted. */
function xHeaders(s: Seen): [string, string][] {
  return s.headers.filter(([n]) => n.startsWith('x-')).map(([n, v]) => [n, v] as [string, string]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

function site(name: string, host: string, annotations: Record<string, string>, paths: readonly { path: string; service: string }[]) {
  return ingress(name, { annotations, rules: [{ host, paths: paths.map((p) => ({ ...p, pathType: 'Prefix' as const })) }] });
}

describe('custom-http-errors and default-backend', () => {
  let app: Recorder;
  let h2app: Recorder;
  let pages: Recorder;
  let global: Recorder;
  let gh: Gatehouse;
  let closed: number;

  beforeAll(async () => {
    [app, h2app, pages, global, closed] = await Promise.all([recorder('app'), recorder('h2app', true), recorder('pages'), recorder('global'), freePort()]);
    const codes = { [`${A}custom-http-errors`]: '404,500,502,503,504', [`${A}default-backend`]: 'pages' };
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('app', app.port),
        backendService('h2app', h2app.port),
        backendService('pages', pages.port),
        backendService('global', global.port),
        // No endpoints; an endpoint nothing listens on.
        service('empty'),
        service('dead'),
        endpointSlice('dead', 'dead', { ports: [{ name: 'http', port: closed }] }),
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gatehouse', namespace: 'gatehouse' }, data: { 'custom-http-errors': '418' } },
        site('errors', 'errors.test', codes, [{ path: '/', service: 'app' }, { path: '/empty', service: 'empty' }, { path: '/dead', service: 'dead' }]),
        site('slow', 'slow.test', { ...codes, [`${A}proxy-read-timeout`]: '1' }, [{ path: '/', service: 'app' }]),
        site('global', 'global.test', { 'gatehouse.io/custom-http-errors': '503' }, [{ path: '/', service: 'app' }]),
        site('fallback', 'fallback.test', { [`${A}default-backend`]: 'pages' }, [{ path: '/', service: 'empty' }]),
        site('h2c', 'h2c.test', { ...codes, [`${A}backend-protocol`]: 'H2C' }, [{ path: '/', service: 'h2app' }]),
        site('configmap', 'configmap.test', {}, [{ path: '/', service: 'app' }]),
      ),
      options: { defaultBackendService: 'default/global', configmap: 'gatehouse/gatehouse' },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await Promise.all([app, h2app, pages, global].map((r) => r?.close()));
  });

  const served = (r: Reply) => [r.status, r.headers['x-served-by'], r.text];

  it('passes answers with other statuses through, and sends nothing to the error backend', async () => {
    const before = pages.seen.length + global.seen.length;
    for (const path of ['/ok', '/status/201', '/status/403', '/status/501']) {
      const r = await gh.request(path, { host: 'errors.test' });
      expect(served(r)).toEqual([path === '/ok' ? 200 : Number(path.slice(-3)), 'app', `app ${path === '/ok' ? 200 : path.slice(-3)}`]);
    }
    expect(pages.seen.length + global.seen.length).toBe(before);
  });

  it('answers a listed upstream status with the error backend\'s answer: same method, `/` and the query, exactly ingress-nginx\'s X-* headers', async () => {
    const r = await gh.request('/shop/status/404?q=1&r=2', { host: 'errors.test', method: 'POST', body: 'form=1', headers: { accept: 'text/html', 'x-request-id': 'abc-123', 'x-code': '999', 'x-namespace': 'spoofed' } });
    expect(served(r)).toEqual([404, 'pages', 'pages 404']);
    const got = pages.seen.at(-1)!;
    expect([got.method, got.url, got.body]).toEqual(['POST', '/?q=1&r=2', 'form=1']);
    expect(xHeaders(got)).toEqual([
      ['x-code', '404'], ['x-format', 'text/html'],
      // The forwarding headers every upstream request of Gatehouse carries.
      ['x-forwarded-for', '127.0.0.1'], ['x-forwarded-host', 'errors.test'], ['x-forwarded-port', String(gh.httpPort)], ['x-forwarded-proto', 'http'],
      ['x-ingress-name', 'errors'], ['x-namespace', 'default'], ['x-original-uri', '/shop/status/404?q=1&r=2'], ['x-real-ip', '127.0.0.1'],
      ['x-request-id', 'abc-123'], ['x-service-name', 'app'], ['x-service-port', '80'],
    ]);
    expect(got.headers.find(([n]) => n === 'host')?.[1]).toBe('errors.test');
  });

  it('sends a body past the 64 KiB kept for retries no second time (an empty body instead)', async () => {
    const r = await gh.request('/status/404', { host: 'errors.test', method: 'PUT', body: Buffer.alloc(100 * 1024, 'a') });
    expect(served(r)).toEqual([404, 'pages', 'pages 404']);
    expect(app.seen.at(-1)!.body.length).toBe(100 * 1024);
    const got = pages.seen.at(-1)!;
    // undici states an empty body of a PUT as Content-Length: 0.
    expect([got.method, got.body, got.headers.filter(([n]) => n === 'content-length' || n === 'transfer-encoding')]).toEqual(['PUT', '', [['content-length', '0']]]);
  });

  it('generates a 32-hex X-Request-ID when the client sends none, the one answered, and sends no X-Format without an Accept', async () => {
    const r = await gh.request('/status/500', { host: 'errors.test' });
    expect(served(r)).toEqual([500, 'pages', 'pages 500']);
    const x = new Map(xHeaders(pages.seen.at(-1)!));
    expect(x.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
    // The one the client is answered, and the upstream was sent.
    expect(r.headers['x-request-id']).toBe(x.get('x-request-id'));
    expect(x.has('x-format')).toBe(false);
  });

  it('sends Gatehouse\'s own 502 (refused) and 504 (timeout) to the error backend', async () => {
    expect(served(await gh.request('/dead/x', { host: 'errors.test' }))).toEqual([502, 'pages', 'pages 502']);
    expect(new Map(xHeaders(pages.seen.at(-1)!)).get('x-service-name')).toBe('dead');
    expect(served(await gh.request('/hold', { host: 'slow.test' }))).toEqual([504, 'pages', 'pages 504']);
    expect(new Map(xHeaders(pages.seen.at(-1)!)).get('x-code')).toBe('504');
  });

  it('default-backend takes the requests of a backend without endpoints, as the route\'s, with X-Code 503 and no X-Original-URI', async () => {
    const r = await gh.request('/empty/page?x=1', { host: 'errors.test', headers: { accept: 'application/json' } });
    // The route's request goes to pages (its target, X-Code 503); pages answers 503, which the
    // route's custom-http-errors send to the error backend (pages again), as nginx's error_page does.
    expect(served(r)).toEqual([503, 'pages', 'pages 503']);
    const [fallback, page] = pages.seen.slice(-2);
    expect(fallback!.url).toBe('/empty/page?x=1');
    expect(new Map(xHeaders(fallback!)).get('x-code')).toBe('503');
    expect(new Map(xHeaders(fallback!)).has('x-original-uri')).toBe(false);
    expect(new Map(xHeaders(fallback!)).get('x-service-name')).toBe('empty');
    expect(page!.url).toBe('/?x=1');
    // Without custom-http-errors the fallback's answer is the client's.
    const plain = await gh.request('/a', { host: 'fallback.test' });
    expect(served(plain)).toEqual([503, 'pages', 'pages 503']);
    expect(pages.seen.at(-1)!.url).toBe('/a');
    expect(xHeaders(pages.seen.at(-1)!).map(([n]) => n)).toEqual(['x-code', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-proto', 'x-ingress-name', 'x-namespace', 'x-real-ip', 'x-request-id', 'x-service-name', 'x-service-port']);
  });

  it('without a default-backend annotation the error backend is --default-backend-service', async () => {
    expect(served(await gh.request('/status/503', { host: 'global.test' }))).toEqual([503, 'global', 'global 503']);
    expect(new Map(xHeaders(global.seen.at(-1)!)).get('x-ingress-name')).toBe('global');
    // 404 is not in this Ingress's list (its own replaces the ConfigMap's).
    expect(served(await gh.request('/status/404', { host: 'global.test' }))).toEqual([404, 'app', 'app 404']);
  });

  it('the ConfigMap\'s custom-http-errors hold for Ingresses without the annotation', async () => {
    expect(served(await gh.request('/status/418', { host: 'configmap.test' }))).toEqual([418, 'global', 'global 418']);
    expect(served(await gh.request('/status/404', { host: 'configmap.test' }))).toEqual([404, 'app', 'app 404']);
    // A request that matches no host: the default backend's own answer, then the error page (X-Code, empty Ingress headers left out).
    expect(served(await gh.request('/status/418?z', { host: 'unknown.test' }))).toEqual([418, 'global', 'global 418']);
    const [first, page] = global.seen.slice(-2);
    expect([first!.url, page!.url]).toEqual(['/status/418?z', '/?z']);
    expect(xHeaders(page!).filter(([n]) => !n.startsWith('x-forwarded') && n !== 'x-real-ip').map(([n, v]) => (n === 'x-request-id' ? [n, v.length] : [n, v]))).toEqual([
      ['x-code', '418'], ['x-original-uri', '/status/418?z'], ['x-request-id', 32],
    ]);
  });

  it('works the same for HTTP/2 clients, and for h2c upstreams', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'errors.test' });
    try {
      const r = await h2Request(session, { ':method': 'GET', ':path': '/status/503?h2=1', ':authority': 'errors.test', accept: '*/*' });
      expect([r.status, r.headers['x-served-by'], r.body.toString()]).toEqual([503, 'pages', 'pages 503']);
      const x = new Map(xHeaders(pages.seen.at(-1)!));
      expect([x.get('x-original-uri'), x.get('x-format'), x.get('x-forwarded-proto')]).toEqual(['/status/503?h2=1', '*/*', 'https']);
      const h2c = await h2Request(session, { ':method': 'GET', ':path': '/status/500', ':authority': 'h2c.test' });
      expect([h2c.status, h2c.headers['x-served-by']]).toEqual([500, 'pages']);
      expect(h2app.seen.at(-1)!.url).toBe('/status/500');
      const ok = await h2Request(session, { ':method': 'GET', ':path': '/status/201', ':authority': 'h2c.test' });
      expect([ok.status, ok.headers['x-served-by']]).toEqual([201, 'h2app']);
    } finally {
      session.close();
    }
    // An HTTP/1.1 client to the h2c upstream.
    expect(served(await gh.request('/status/404', { host: 'h2c.test' }))).toEqual([404, 'pages', 'pages 404']);
  });
});

describe('custom-http-errors without a usable error backend', () => {
  let app: Recorder;
  let gh: Gatehouse;

  beforeAll(async () => {
    app = await recorder('app');
    const closed = await freePort();
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('app', app.port),
        service('empty'),
        service('broken'),
        endpointSlice('broken', 'broken', { ports: [{ name: 'http', port: closed }] }),
        site('none', 'none.test', { [`${A}custom-http-errors`]: '500,503' }, [{ path: '/', service: 'app' }, { path: '/empty', service: 'empty' }]),
        // default-backend without endpoints: not an error backend (ingress-nginx creates no upstream for it).
        site('no-endpoints', 'no-endpoints.test', { [`${A}custom-http-errors`]: '500', [`${A}default-backend`]: 'empty' }, [{ path: '/', service: 'app' }]),
        site('broken', 'broken.test', { [`${A}custom-http-errors`]: '500', [`${A}default-backend`]: 'broken' }, [{ path: '/', service: 'app' }]),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await app?.close();
  });

  it('answers 404 (ingress-nginx\'s own default server answers the error location)', async () => {
    for (const [host, path] of [['none.test', '/status/500'], ['none.test', '/empty/x'], ['no-endpoints.test', '/status/500']]) {
      const r = await gh.request(path!, { host });
      expect([r.status, r.text], `${host}${path}`).toEqual([404, '404 Not Found\n']);
    }
  });

  it('answers the error backend\'s own failure (502), not the original answer', async () => {
    const r = await gh.request('/status/500', { host: 'broken.test' });
    expect([r.status, r.text]).toEqual([502, '502 Bad Gateway\n']);
  });
});
