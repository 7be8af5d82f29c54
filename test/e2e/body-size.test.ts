// proxy-body-size end to end: a declared Content-Length above the limit is answered 413 and
// nothing reaches the upstream; a chunked (or HTTP/2, length undeclared) body is cut the moment it
// passes the limit: the upstream sees an aborted request (HTTP/1.1) or a reset stream (h2c), never
// a complete one, and the client gets 413; a body exactly at the limit passes intact; the default
// 1m applies to routes without the annotation; 0 is no limit; `Expect: 100-continue` with too
// large a length gets 413 and no 100 Continue.

import { createHash, randomBytes } from 'node:crypto';
import { constants, createServer as createH2cServer, type ClientHttp2Session, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Session } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { rawExchange } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';
const LIMIT = 1024;
const MIB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What the h2c upstream saw of one stream. */
interface H2Seen {
  bodyLength: number;
  ended: boolean;
  /** The stream closed with a reset (rstCode not NO_ERROR) before its request ended. */
  reset: boolean;
  closed: boolean;
}

async function startH2c(): Promise<{ port: number; seen: H2Seen[]; close(): Promise<void> }> {
  const seen: H2Seen[] = [];
  const server = createH2cServer((req: Http2ServerRequest, res: Http2ServerResponse) => {
    const s: H2Seen = { bodyLength: 0, ended: false, reset: false, closed: false };
    seen.push(s);
    req.on('data', (c: Buffer) => (s.bodyLength += c.length));
    req.on('end', () => {
      s.ended = !req.stream.closed || req.stream.rstCode === constants.NGHTTP2_NO_ERROR;
      if (res.writable) res.end(JSON.stringify({ bodyLength: s.bodyLength }));
    });
    req.stream.on('close', () => {
      s.reset = req.stream.rstCode !== constants.NGHTTP2_NO_ERROR;
      s.closed = true;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A raw HTTP/1.1 connection: write pieces, read everything the server sends. */
function rawConnection(port: number) {
  const socket = connect({ port, host: '127.0.0.1' });
  let text = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  return {
    write: (data: string | Buffer) => socket.write(data),
    received: () => text,
    closed: () => closed,
    destroy: () => socket.destroy(),
  };
}

const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);

describe('proxy-body-size', () => {
  let echo: Echo;
  let h2c: Awaited<ReturnType<typeof startH2c>>;
  let gh: Gatehouse;

  const site = (name: string, host: string, svc: string, annotations: Record<string, string> = {}) =>
    ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });

  beforeAll(async () => {
    echo = await startEcho({ name: 'b' });
    h2c = await startH2c();
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        backendService('h2c', h2c.port),
        site('small', 'small.test', 'echo', { [`${A}proxy-body-size`]: '1k' }),
        site('plain', 'plain.test', 'echo'),
        site('unlimited', 'unlimited.test', 'echo', { 'gatehouse.io/proxy-body-size': '0' }),
        site('h2c', 'h2c.test', 'h2c', { [`${A}proxy-body-size`]: '1k', [`${A}backend-protocol`]: 'H2C' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
    await h2c?.close();
  });

  const post = (host: string, length: number, extra = '') => `POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${length}\r\n${extra}\r\n`;

  it('answers 413 to a Content-Length above the limit, forwarding nothing, and closes the connection', async () => {
    const before = echo.received.length;
    const r = await rawExchange(gh.httpPort, post('small.test', LIMIT + 1));
    expect(r.status).toBe(413);
    expect(r.closed || r.headers.get('connection')?.[0] === 'close').toBe(true);
    expect(echo.received.length).toBe(before);
  });

  it('passes a body exactly at the limit intact, with Content-Length or chunked', async () => {
    const body = randomBytes(LIMIT);
    const r = await gh.request('/upload', { method: 'POST', host: 'small.test', body });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ bodyLength: LIMIT, bodySha256: sha256(body) });

    const chunked = await rawExchange(gh.httpPort, Buffer.concat([
      Buffer.from('POST /chunked HTTP/1.1\r\nHost: small.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'),
      chunk(body.subarray(0, 1000)), chunk(body.subarray(1000)), Buffer.from('0\r\n\r\n'),
    ]));
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.body)).toMatchObject({ url: '/chunked', bodyLength: LIMIT, bodySha256: sha256(body) });
  });

  /**
   * Sends a chunked body to `host` over HTTP/1.1: 600 bytes, then (once `upstreamHasFirst` says the
   * upstream got them) 600 more, which pass the 1k limit; expects 413 and returns the connection.
   */
  async function chunkedPastLimit(host: string, upstreamHasFirst: () => boolean) {
    const c = rawConnection(gh.httpPort);
    try {
      c.write(`POST /stream HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      c.write(chunk(randomBytes(600)));
      await waitFor('the upstream to get the request and its first 600 bytes', upstreamHasFirst);
      c.write(chunk(randomBytes(600)));
      await waitFor('the 413', () => /\r\n\r\n/.test(c.received()));
      expect(c.received()).toMatch(/^HTTP\/1\.1 413 /);
      return c;
    } catch (err) {
      c.destroy();
      throw err;
    }
  }

  it('cuts a chunked body the moment it passes the limit: the upstream sees an aborted request, the client 413', async () => {
    const before = echo.received.length;
    const c = await chunkedPastLimit('small.test', () => echo.received[before]?.bodyLength === 600);
    try {
      const rec = echo.received[before]!;
      await waitFor('the upstream request to end', () => rec.finished);
      // Aborted, not complete: no end of body (bodySha256 is set on 'end'), nothing past the limit.
      expect(rec.bodySha256).toBe('');
      expect(rec.bodyLength).toBe(600);
      await waitFor('the client connection to close', () => c.closed());
    } finally {
      c.destroy();
    }
  });

  it('applies the default 1m to a route without the annotation', async () => {
    const before = echo.received.length;
    expect((await rawExchange(gh.httpPort, post('plain.test', MIB + 1))).status).toBe(413);
    expect(echo.received.length).toBe(before);
    const body = randomBytes(MIB);
    const r = await gh.request('/', { method: 'POST', host: 'plain.test', body });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ bodyLength: MIB, bodySha256: sha256(body) });
  });

  it('takes no limit with 0', async () => {
    const body = randomBytes(2 * MIB);
    const r = await gh.request('/', { method: 'POST', host: 'unlimited.test', body });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ bodyLength: 2 * MIB, bodySha256: sha256(body) });
  });

  it('answers Expect: 100-continue with 413 and no 100 Continue when the length is too large', async () => {
    const before = echo.received.length;
    const r = await rawExchange(gh.httpPort, post('small.test', LIMIT + 1, 'Expect: 100-continue\r\n'));
    expect(r.status).toBe(413);
    expect(r.raw).not.toContain('100 Continue');
    expect(echo.received.length).toBe(before);
  });

  it('sends 100 Continue for a request it forwards, then the body', async () => {
    const c = rawConnection(gh.httpPort);
    try {
      c.write(post('small.test', 5, 'Expect: 100-continue\r\nConnection: close\r\n'));
      await waitFor('100 Continue', () => c.received().includes('\r\n\r\n'));
      expect(c.received()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
      c.write('hello');
      await waitFor('the answer', () => c.closed());
      expect(c.received()).toMatch(/\r\n\r\nHTTP\/1\.1 200 /);
      expect(c.received()).toContain('"bodyLength":5');
    } finally {
      c.destroy();
    }
  });

  describe('HTTP/2 clients', () => {
    let session: ClientHttp2Session;
    beforeAll(async () => {
      session = await h2Session(gh.httpsPort, { servername: 'small.test' });
    });
    afterAll(() => session?.close());

    it('answers 413 to a content-length above the limit, forwarding nothing', async () => {
      const before = echo.received.length;
      const stream = session.request({ ':method': 'POST', ':path': '/', ':authority': 'small.test', 'content-length': String(LIMIT + 1) }, { endStream: false });
      stream.on('error', () => undefined);
      const status = await new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
      expect(status).toBe(413);
      stream.destroy();
      expect(echo.received.length).toBe(before);
    });

    it('cuts DATA without content-length the moment it passes the limit: aborted upstream, 413, the stream reset with NO_ERROR', async () => {
      const before = echo.received.length;
      const stream = session.request({ ':method': 'POST', ':path': '/h2-stream', ':authority': 'small.test' }, { endStream: false });
      stream.on('error', () => undefined);
      stream.resume(); // the answer read, so the reset can close the stream
      const status = new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))));
      const closed = new Promise<number | undefined>((resolve) => stream.once('close', () => resolve(stream.rstCode)));
      stream.write(randomBytes(600));
      await waitFor('the upstream to get the request', () => echo.received.length > before && echo.received[before]!.bodyLength === 600);
      const rec = echo.received[before]!;
      stream.write(randomBytes(600));
      expect(await status).toBe(413);
      expect(await closed).toBe(constants.NGHTTP2_NO_ERROR);
      await waitFor('the upstream request to end', () => rec.finished);
      expect(rec.bodySha256).toBe('');
      expect(rec.bodyLength).toBe(600);
    });
  });

  it('cuts a chunked body to an HTTP/2 (h2c) upstream: its stream is reset, never ended', async () => {
    const before = h2c.seen.length;
    const c = await chunkedPastLimit('h2c.test', () => h2c.seen[before]?.bodyLength === 600);
    try {
      const s = h2c.seen[before]!;
      await waitFor('the upstream stream to close', () => s.closed);
      expect(s).toMatchObject({ reset: true, ended: false, bodyLength: 600 });
    } finally {
      c.destroy();
    }
  });

  it('passes a chunked body at the limit to an h2c upstream intact', async () => {
    const r = await rawExchange(gh.httpPort, Buffer.concat([
      Buffer.from('POST /h2c-ok HTTP/1.1\r\nHost: h2c.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'),
      chunk(randomBytes(LIMIT)), Buffer.from('0\r\n\r\n'),
    ]));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ bodyLength: LIMIT });
  });
});
