// HTTP/2 clients to HTTP/1.1 upstreams, end to end: `:authority` routes and becomes Host,
// pseudo-headers and connection-specific headers never reach the upstream, cookie crumbs are
// joined, X-Forwarded-Proto/Port say https and the listener's port, large bodies stream both ways
// under HTTP/2 flow control, and many concurrent streams share one connection.

import { createHash, randomBytes } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, h2Request, h2Session, tlsSecret, type TestCa } from '../support/certs.ts';
import { END_STREAM, h2Frames } from '../support/h2-frames.ts';
import { headerValues, startEcho, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { backendService, freePort, ingress, ingressClass, manifest, service, simpleIngress, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('HTTP/2 to HTTP/1.1 upstreams', () => {
  let echo: Echo;
  let gh: Gatehouse;
  let ca: TestCa;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    echo = await startEcho({ name: 'h2' });
    ca = await createCa();
    const pair = await ca.issue({ dnsNames: ['h2.test', 'other.test', 'empty.test'] });
    // Room for the 10 MB upload below (proxy-body-size defaults to 1m, as in ingress-nginx).
    const withTls = ingress('h2', { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '16m' }, rules: [{ host: 'h2.test', paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });
    (withTls.spec as Record<string, unknown>).tls = [{ hosts: ['h2.test', 'other.test', 'empty.test'], secretName: 'h2' }];
    const closed = await freePort();
    gh = await startGatehouse({
      // The drain test's request in flight is answered when the test says so, well inside this.
      options: { shutdownGracePeriod: 10 },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        backendService('refused', closed),
        service('empty'),
        withTls,
        simpleIngress('refused', 'other.test', 'refused'),
        simpleIngress('empty', 'empty.test', 'empty'),
        tlsSecret('h2', pair),
      ),
    });
    session = await h2Session(gh.httpsPort, { servername: 'h2.test', ca: ca.cert });
  });

  afterAll(async () => {
    session?.close();
    await gh?.close();
    await echo?.close();
  });

  const last = () => echo.received.at(-1)!;

  it('routes by :authority and forwards it as Host, path and query byte for byte', async () => {
    const r = await h2Request(session, { ':method': 'GET', ':path': '/a%2Fb/../c?x=%20&y=1', ':authority': 'H2.test:443' });
    expect(r.status).toBe(200);
    const reply = JSON.parse(String(r.body)) as EchoReply;
    expect(reply.url).toBe('/a%2Fb/../c?x=%20&y=1');
    expect(reply.headers[0]).toEqual(['host', 'H2.test:443']);
    expect(headerValues(reply.headers, 'host')).toEqual(['H2.test:443']);
  });

  it('sends no pseudo-headers or connection-specific headers upstream, and sets X-Forwarded-* for https', async () => {
    const r = await h2Request(session, { ':method': 'GET', ':path': '/headers', ':authority': 'h2.test', 'x-forwarded-proto': 'http', 'x-end-to-end': 'yes', te: 'trailers' });
    expect(r.status).toBe(200);
    const h = last().headers;
    expect(h.filter(([n]) => n.startsWith(':'))).toEqual([]);
    expect(headerValues(h, 'te')).toEqual([]);
    expect(headerValues(h, 'x-end-to-end')).toEqual(['yes']);
    expect(headerValues(h, 'x-forwarded-proto')).toEqual(['https']);
    expect(headerValues(h, 'x-forwarded-port')).toEqual([String(gh.httpsPort)]);
    expect(headerValues(h, 'x-forwarded-host')).toEqual(['h2.test']);
    expect(headerValues(h, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    // The answer carries no HTTP/1.1 connection headers (Node would refuse to send them anyway).
    expect(r.headers.connection).toBeUndefined();
    expect(r.headers['keep-alive']).toBeUndefined();
  });

  it('joins cookie crumbs into one Cookie header (RFC 9113 §8.2.3)', async () => {
    await h2Request(session, { ':path': '/cookies', ':authority': 'h2.test', cookie: ['a=1', 'b=2'] });
    expect(headerValues(last().headers, 'cookie')).toEqual(['a=1; b=2']);
  });

  it('streams a 10 MB upload through h2 and the echoed body back, intact both ways', async () => {
    const body = randomBytes(10 * 1024 * 1024);
    // In 64 KiB pieces, so the client writes as flow control lets it.
    const pieces = Array.from({ length: body.length / 65536 }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
    const r = await h2Request(session, { ':method': 'POST', ':path': '/__echo', ':authority': 'h2.test' }, Readable.from(pieces));
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(body.length);
    expect(sha256(r.body)).toBe(sha256(body));
    const rec = echo.received.find((x) => x.url === '/__echo' && x.bodyLength === body.length)!;
    expect(rec.bodySha256).toBe(sha256(body));
    // No length was announced: the upstream got it chunked, streamed rather than buffered.
    expect(headerValues(rec.headers, 'transfer-encoding')).toEqual(['chunked']);
  });

  it('sends a body with content-length as it came', async () => {
    const body = randomBytes(100_000);
    const r = await h2Request(session, { ':method': 'PUT', ':path': '/sized', ':authority': 'h2.test', 'content-length': String(body.length) }, body);
    const reply = JSON.parse(String(r.body)) as EchoReply;
    expect(reply.bodySha256).toBe(sha256(body));
    expect(headerValues(reply.headers, 'content-length')).toEqual([String(body.length)]);
  });

  it('serves 100 concurrent streams on one connection', async () => {
    const before = echo.received.length;
    const answers = Promise.all(
      Array.from({ length: 100 }, (_, i) => h2Request(session, { ':method': 'POST', ':path': `/many/${i}/__hold`, ':authority': 'h2.test' }, Buffer.from(`stream ${i}`))),
    );
    // The streams are in flight together: the upstream holds each until all 100 have reached it.
    await waitFor('all 100 streams to reach the upstream', () => echo.received.length - before === 100);
    expect(echo.release()).toBe(100);
    const all = await answers;
    expect(all.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(all.map((r) => (JSON.parse(String(r.body)) as EchoReply).url)).toEqual(Array.from({ length: 100 }, (_, i) => `/many/${i}/__hold`));
  });

  it('answers 404, 502 and 503 over h2 like over HTTP/1.1', async () => {
    expect((await h2Request(session, { ':path': '/', ':authority': 'nothing.test' })).status).toBe(404);
    expect((await h2Request(session, { ':path': '/', ':authority': 'other.test' })).status).toBe(502);
    const r = await h2Request(session, { ':path': '/', ':authority': 'empty.test' });
    expect(r.status).toBe(503);
    expect(String(r.body)).toBe('503 Service Unavailable\n');
  });

  it('keeps the session usable after upstream failures', async () => {
    const r = await h2Request(session, { ':path': '/__reset', ':authority': 'h2.test' });
    expect(r.status).toBe(502);
    expect((await h2Request(session, { ':path': '/after', ':authority': 'h2.test' })).status).toBe(200);
  });

  it('ends an answer with its last DATA frame, with no empty frame or trailers after it', async () => {
    // node:http2's compatibility response ends every stream with one more frame (proxy/h2-response.ts).
    const proxied = await h2Frames(gh.httpsPort, { authority: 'h2.test', path: '/framed', ca: ca.cert });
    expect(proxied.map((f) => f.type)).toEqual(['HEADERS', 'DATA']);
    expect(proxied[0]!.flags & END_STREAM).toBe(0);
    expect(proxied[1]!.flags & END_STREAM).toBe(END_STREAM);
    expect(proxied[1]!.length).toBeGreaterThan(0);
    const own = await h2Frames(gh.httpsPort, { authority: 'empty.test', path: '/', ca: ca.cert });
    expect(own.map((f) => [f.type, f.flags & END_STREAM, f.length > 0])).toEqual([['HEADERS', 0, true], ['DATA', END_STREAM, true]]);
  });

  it('answers HEAD, 204 and 304 with headers alone, and the session goes on', async () => {
    const head = await h2Request(session, { ':method': 'HEAD', ':path': '/head', ':authority': 'h2.test' });
    expect(head.status).toBe(200);
    expect(head.headers['x-echo-name']).toBe('h2');
    expect(head.body.length).toBe(0);
    expect(last().method).toBe('HEAD');
    for (const status of [204, 304]) {
      const r = await h2Request(session, { ':path': `/__status/${status}`, ':authority': 'h2.test' });
      expect(r.status).toBe(status);
      expect(r.body.length).toBe(0);
    }
    expect((await h2Request(session, { ':path': '/after', ':authority': 'h2.test' })).status).toBe(200);
  });

  it('drains on shutdown: open sessions get GOAWAY, a request in flight completes (runs last)', async () => {
    const idle = await h2Session(gh.httpsPort, { servername: 'h2.test', ca: ca.cert });
    const goaway = new Promise<void>((resolve) => idle.once('goaway', () => resolve()));
    // In flight for as long as the test needs: the upstream holds it until the GOAWAY has come.
    const inFlight = h2Request(session, { ':path': '/slow/__hold', ':authority': 'h2.test' });
    await waitFor('the request to reach the upstream', () => echo.received.some((r) => r.url === '/slow/__hold'));
    const closing = gh.close();
    await goaway;
    expect(echo.release()).toBe(1);
    expect((await inFlight).status).toBe(200);
    await closing;
    idle.close();
  });
});
