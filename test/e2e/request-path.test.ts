// One normalised path per request, end to end (core/normalise-uri-path.ts): with `/private`
// routed to one Service and `/` to another, no spelling of a path steps around `/private`'s
// route, and the upstream still gets the request-target as the client sent it. Framing checks
// (duplicate Host, malformed escapes, too many header lines) answer before anything is forwarded.

import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, h2Request, h2Session, tlsSecret } from '../support/certs.ts';
import { startEchoes, type Echo } from '../support/echo-upstream.ts';
import { rawExchange } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

describe('the normalised request path', () => {
  let e: Record<'private' | 'public' | 'exact', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    e = await startEchoes(['private', 'public', 'exact'] as const);
    const ca = await createCa();
    const pair = await ca.issue({ dnsNames: ['n.test'] });
    const pub = ingress('public', { rules: [{ host: 'n.test', paths: [{ path: '/', pathType: 'Prefix', service: 'public' }] }] });
    (pub.spec as Record<string, unknown>).tls = [{ hosts: ['n.test'], secretName: 'n' }];
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('private', e.private.port),
        backendService('public', e.public.port),
        backendService('exact', e.exact.port),
        ingress('private', { rules: [{ host: 'n.test', paths: [{ path: '/private', pathType: 'Prefix', service: 'private' }, { path: '/a~b/c', pathType: 'Exact', service: 'exact' }] }] }),
        pub,
        tlsSecret('n', pair),
      ),
      options: { defaultSslRedirect: false },
    });
    session = await h2Session(gh.httpsPort, { servername: 'n.test', ca: ca.cert });
  });

  afterAll(async () => {
    session?.close();
    await gh?.close();
    await e?.closeAll();
  });

  /** Sends `target` as written on a fresh connection: the echo that answered, or the status. */
  async function routed(target: string, extraHeaders = ''): Promise<string | number> {
    const r = await rawExchange(gh.httpPort, `GET ${target} HTTP/1.1\r\nHost: n.test\r\n${extraHeaders}Connection: close\r\n\r\n`);
    return r.status === 200 ? (r.headers.get('x-echo-name')?.[0] ?? 'non-echo') : r.status;
  }

  // [target as sent, where it goes]: every spelling of /private reaches `private`.
  const MATRIX: readonly (readonly [string, string | number])[] = [
    ['/private', 'private'],
    ['/private/x', 'private'],
    ['//private', 'private'],
    ['/./private', 'private'],
    ['/public/../private', 'private'],
    ['/public/%2e%2e/private', 'private'],
    ['/public/%2E%2E/private/x', 'private'],
    ['/public/.%2e/private', 'private'],
    ['/%70rivate', 'private'],
    ['/%70RIVATE', 'public'], // case is kept: `/pRIVATE` is another path
    ['/pr%69vate/', 'private'],
    ['/private//x', 'private'],
    ['/private/./', 'private'],
    ['/private?x=/../public', 'private'],
    ['/private/../public', 'public'],
    ['/PRIVATE', 'public'],
    ['/private.', 'public'], // a trailing dot is part of the segment (as nginx on Linux)
    ['/private..', 'public'],
    ['/private;x', 'public'], // `;` is a character of the segment, not a delimiter
    ['/private%2fx', 'public'], // `%2F` never splits a segment
    ['/private%2Fx', 'public'],
    ['/a%7Eb/c', 'exact'],
    ['/a%7eb//c', 'exact'],
    ['/a~b/./c', 'exact'],
    ['/a~b/c/', 'public'],
    // Refused before routing: above the root, malformed escapes.
    ['/%2e%2e/private', 400],
    ['/../private', 400],
    ['/public/../../private', 400],
    ['/%zz', 400],
    ['/private/%', 400],
    ['/private/%2', 400],
  ];

  it.each(MATRIX)('%j goes to %j', async (target, want) => {
    expect(await routed(target)).toBe(want);
  });

  it('forwards the request-target to the upstream exactly as the client sent it', async () => {
    for (const target of ['//private/./x?q=%2e%2e', '/public/%2e%2e/private/y', '/%70rivate/%7E']) {
      const before = e.private.received.length;
      expect(await routed(target)).toBe('private');
      expect(e.private.received.slice(before).map((r) => r.url)).toEqual([target]);
    }
  });

  it('normalises HTTP/2 :path the same way', async () => {
    const cases: readonly (readonly [string, string | number])[] = [
      ['//private', 'private'],
      ['/public/%2e%2e/private', 'private'],
      ['/%2e%2e/private', 400],
      ['/%zz', 400],
    ];
    for (const [path, want] of cases) {
      const r = await h2Request(session, { ':method': 'GET', ':path': path, ':authority': 'n.test' });
      const got = r.status === 200 ? r.headers['x-echo-name'] : r.status;
      expect([path, got]).toEqual([path, want]);
    }
  });
});

describe('framing checks', () => {
  let echo: Record<'f', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEchoes(['f'] as const);
    gh = await startGatehouse({
      manifests: manifest(ingressClass('gatehouse'), backendService('f', echo.f.port), ingress('f', { rules: [{ paths: [{ path: '/', pathType: 'Prefix', service: 'f' }] }] })),
      options: { maxRequestHeaders: 20 },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.closeAll();
  });

  function headerLines(n: number): string {
    return Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');
  }

  async function unforwarded(request: string): Promise<number> {
    const before = echo.f.received.length;
    const r = await rawExchange(gh.httpPort, request);
    expect(echo.f.received.length).toBe(before);
    return r.status;
  }

  it('answers 400 to two Host header lines and forwards nothing (RFC 9112 §3.2)', async () => {
    expect(await unforwarded('GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n')).toBe(400);
    expect(await unforwarded('GET / HTTP/1.1\r\nHost: a.test\r\nhost: a.test\r\n\r\n')).toBe(400);
    expect(await unforwarded('GET /ws HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')).toBe(400);
  });

  it('answers 400 to a malformed percent-escape and to a path above the root, on upgrades too', async () => {
    expect(await unforwarded('GET /%zz HTTP/1.1\r\nHost: a.test\r\n\r\n')).toBe(400);
    expect(await unforwarded('GET /../x HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')).toBe(400);
  });

  it('answers 431 to more header lines than --max-request-headers, and serves exactly that many', async () => {
    // Host is one of the lines.
    expect(await unforwarded(`GET / HTTP/1.1\r\nHost: a.test\r\n${headerLines(20)}\r\n`)).toBe(431);
    expect(await unforwarded(`GET / HTTP/1.1\r\nHost: a.test\r\n${headerLines(500)}\r\n`)).toBe(431);
    const r = await rawExchange(gh.httpPort, `GET / HTTP/1.1\r\nHost: a.test\r\n${headerLines(18)}Connection: close\r\n\r\n`);
    expect(r.status).toBe(200);
  });

  it('answers 431 to headers larger than --max-request-header-bytes', async () => {
    expect(await unforwarded(`GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toBe(431);
  });
});
