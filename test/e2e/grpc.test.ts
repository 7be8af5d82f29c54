// gRPC end to end through Gatehouse's HTTPS listener (ALPN h2), with @grpc/grpc-js on both ends:
// backend-protocol GRPC (h2c to the backend) and GRPCS (TLS to the backend, verified or not);
// unary, server-streaming and bidi calls; metadata both ways and trailing metadata, non-OK status
// with its message (a Trailers-Only answer); a cancelled call resets the backend's stream and a
// backend's reset reaches the client; te: trailers and forwarding headers reach the backend; an
// unreachable backend answers grpc-status 14 UNAVAILABLE, Trailers-Only.

import { createServer as createH2cServer, constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, h2Session, tlsSecret, type TestCa } from '../support/certs.ts';
import { grpc, grpcClient, startGrpcEcho, unary, type EchoReply, type GrpcEcho } from '../support/grpc-echo.ts';
import { backendService, freePort, ingress, ingressClass, manifest, service, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

const HOSTS = ['grpc.test', 'grpcs.test', 'verified.test', 'wrong-ca.test', 'down.test', 'empty.test', 'raw.test'];

function grpcIngress(name: string, host: string, svc: string, annotations: Record<string, string>) {
  return ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
}

function opaqueSecret(name: string, data: Record<string, string>) {
  const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: encoded };
}

/** One gRPC message frame (5-byte prefix) holding EchoReply { message } (or EchoRequest: field 1 too). */
function echoReplyFrame(message: string): Buffer {
  const text = Buffer.from(message);
  const proto = Buffer.concat([Buffer.from([0x0a, text.length]), text]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(proto.length, 1);
  return Buffer.concat([prefix, proto]);
}

const echoRequestFrame = echoReplyFrame;

/**
 * A raw h2c backend: `…/reset` and `…/ServerStream` answer headers and one message, then reset
 * the stream with CANCEL when the test calls `reset()` (once the message is out); `…/bidi` echoes what it gets and records whether its request stream
 * ended or was reset; anything else answers the request headers it got as JSON, with trailers.
 */
interface RawBidi {
  /** 'end' (END_STREAM) and 'aborted' (RST_STREAM), in the order they came; 'end' after 'aborted' is not recorded. */
  events: string[];
  closed: boolean;
  rstCode: number;
}

async function startRawBackend(): Promise<{
  port: number;
  received: IncomingHttpHeaders[];
  bidi: RawBidi[];
  /** Streams answered at `…/reset` or `…/ServerStream`, waiting for reset(). */
  awaitingReset(): number;
  /** Resets those streams (each once its message is written); returns how many. */
  reset(): number;
  close(): Promise<void>;
}> {
  const bidi: RawBidi[] = [];
  const awaitingReset = new Set<() => void>();
  const abortError = await sleep(0, undefined, { signal: AbortSignal.abort() }).catch((err: unknown) => err as Error);
  const received: IncomingHttpHeaders[] = [];
  const server: Http2Server = createH2cServer();
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    received.push(headers);
    stream.on('error', () => undefined);
    if (String(headers[':path']).endsWith('/bidi')) {
      const rec: RawBidi = { events: [], closed: false, rstCode: 0 };
      bidi.push(rec);
      stream.once('aborted', () => rec.events.push('aborted'));
      stream.once('end', () => {
        if (!rec.events.includes('aborted')) rec.events.push('end');
      });
      stream.once('close', () => Object.assign(rec, { closed: true, rstCode: stream.rstCode }));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.on('data', (c: Buffer) => stream.write(c));
      return;
    }
    if (/\/(reset|ServerStream)$/.test(String(headers[':path']))) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      // destroy(AbortError): RST_STREAM CANCEL alone (close(code) would send END_STREAM first).
      let written = false;
      let wanted = false;
      const reset = () => {
        if (written && wanted) stream.destroy(abortError);
      };
      awaitingReset.add(() => {
        wanted = true;
        reset();
      });
      stream.write(echoReplyFrame('before the reset'), () => {
        written = true;
        reset();
      });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-raw-trailer': 'yes', 'grpc-status': '0' }));
    stream.end(JSON.stringify(headers));
    stream.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    received,
    bidi,
    awaitingReset: () => awaitingReset.size,
    reset() {
      const n = awaitingReset.size;
      for (const reset of awaitingReset) reset();
      awaitingReset.clear();
      return n;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** One h2 request through Gatehouse, answer and trailers read whole; `rstCode` if the stream was reset. */
function rawCall(session: Awaited<ReturnType<typeof h2Session>>, headers: Record<string, string>, body?: Buffer) {
  return new Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders; body: Buffer; trailersOnly: boolean; rstCode: number }>((resolve) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    let trailersOnly = false;
    stream.on('response', (h, flags) => {
      head = h;
      trailersOnly = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ headers: head, trailers, body: Buffer.concat(chunks), trailersOnly, rstCode: stream.rstCode }));
    if (body !== undefined) stream.end(body);
  });
}

describe('gRPC through the HTTPS listener', () => {
  let ca: TestCa;
  let h2c: GrpcEcho;
  let tls: GrpcEcho;
  let raw: Awaited<ReturnType<typeof startRawBackend>>;
  let gh: Gatehouse;
  const clients: grpc.Client[] = [];
  const client = (host: string) => {
    const c = grpcClient(gh.httpsPort, host, ca.cert);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    ca = await createCa();
    const backendCa = await createCa('Backend CA');
    const otherCa = await createCa('Other CA');
    // The backend's certificate names the Service's DNS name, the default proxy-ssl-name.
    const backendPair = await backendCa.issue({ dnsNames: ['grpc-tls.default.svc'] });
    [h2c, tls, raw] = await Promise.all([startGrpcEcho({ name: 'h2c' }), startGrpcEcho({ name: 'tls', tls: backendPair }), startRawBackend()]);
    const listener = await ca.issue({ dnsNames: HOSTS });
    const withTls = grpcIngress('grpc', 'grpc.test', 'grpc-h2c', { 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC' });
    (withTls.spec as Record<string, unknown>).tls = [{ hosts: HOSTS, secretName: 'listener' }];
    const closed = await freePort();
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('grpc-h2c', h2c.port),
        backendService('grpc-tls', tls.port),
        backendService('raw', raw.port),
        backendService('down', closed),
        service('empty'),
        withTls,
        grpcIngress('grpcs', 'grpcs.test', 'grpc-tls', { 'gatehouse.io/backend-protocol': 'grpcs' }),
        grpcIngress('verified', 'verified.test', 'grpc-tls', {
          'nginx.ingress.kubernetes.io/backend-protocol': 'GRPCS',
          'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
          'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'default/backend-ca',
        }),
        grpcIngress('wrong-ca', 'wrong-ca.test', 'grpc-tls', {
          'nginx.ingress.kubernetes.io/backend-protocol': 'GRPCS',
          'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
          'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'default/other-ca',
        }),
        grpcIngress('down', 'down.test', 'down', { 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC' }),
        grpcIngress('empty', 'empty.test', 'empty', { 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC' }),
        grpcIngress('raw', 'raw.test', 'raw', { 'nginx.ingress.kubernetes.io/backend-protocol': 'GRPC' }),
        tlsSecret('listener', listener),
        opaqueSecret('backend-ca', { 'ca.crt': backendCa.cert }),
        opaqueSecret('other-ca', { 'ca.crt': otherCa.cert }),
      ),
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await gh?.close();
    await Promise.all([h2c?.close(), tls?.close(), raw?.close()]);
  });

  it('unary over GRPC (h2c): reply, request metadata, initial and trailing metadata', async () => {
    const md = new grpc.Metadata();
    md.set('x-test', 'hello');
    const r = await unary(client('grpc.test'), { message: 'ping' }, md);
    expect(r.error).toBeNull();
    expect(r.reply).toMatchObject({ message: 'ping', server: 'h2c' });
    expect(r.metadata?.get('x-echo-server')).toEqual(['h2c']);
    expect(r.metadata?.get('x-test')).toEqual(['hello']);
    expect(r.status.code).toBe(grpc.status.OK);
    expect(r.status.metadata.get('x-echo-trailer')).toEqual(['h2c']);
    expect(r.status.metadata.get('x-test')).toEqual(['hello']);
    const seen = h2c.received.at(-1)!;
    expect(seen.method).toBe('Unary');
    expect(seen.host).toBe('grpc.test');
    expect(seen.metadata['x-test']).toEqual(['hello']);
    expect(seen.metadata['x-forwarded-proto']).toEqual(['https']);
    expect(seen.metadata['x-forwarded-for']).toEqual(['127.0.0.1']);
  });

  it('keeps a non-OK status, its message and trailing metadata (a Trailers-Only answer)', async () => {
    const r = await unary(client('grpc.test'), { message: 'nope', status: grpc.status.PERMISSION_DENIED });
    expect(r.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.error?.details).toBe('failed on purpose: nope');
    expect(r.status.metadata.get('x-echo-trailer')).toEqual(['h2c']);
  });

  it('server streaming: every message, in order, then the trailers', async () => {
    const call = client('grpc.test').ServerStream({ message: 'tick', count: 5, intervalMs: 10 });
    const got: EchoReply[] = [];
    call.on('data', (m: EchoReply) => got.push(m));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(got.map((m) => m.message)).toEqual(['tick 0', 'tick 1', 'tick 2', 'tick 3', 'tick 4']);
    expect(status.metadata.get('x-echo-trailer')).toEqual(['h2c']);
  });

  it('bidi streaming: each reply comes back before the next request is sent (nothing buffered)', async () => {
    const call = client('grpc.test').Bidi();
    const replies: EchoReply[] = [];
    const next = () => new Promise<EchoReply>((resolve) => call.once('data', resolve));
    for (const word of ['one', 'two', 'three']) {
      const reply = next();
      call.write({ message: word });
      replies.push(await reply);
    }
    call.end();
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(replies.map((r) => [r.message, r.index])).toEqual([['one', 0], ['two', 1], ['three', 2]]);
    expect(status.code).toBe(grpc.status.OK);
  });

  it('a call the client cancels is reset at the backend (the server sees it cancelled)', async () => {
    const before = h2c.cancelled.length;
    const call = client('grpc.test').ServerStream({ message: 'long', count: 1000, intervalMs: 20 });
    let n = 0;
    await new Promise<void>((resolve) =>
      call.on('data', () => {
        if (++n === 2) resolve();
      }),
    );
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    call.cancel();
    expect((await status).code).toBe(grpc.status.CANCELLED);
    await waitFor('the backend to see the call cancelled', () => h2c.cancelled.length > before, 5000);
    expect(h2c.cancelled.at(-1)).toBe('ServerStream');
  });

  it('a client reset mid-stream reaches the backend as a reset, never as the end of its requests', async () => {
    // A raw client: grpc-js (through Http2Stream.close) sends END_STREAM before its RST_STREAM;
    // an aborted signal sends RST_STREAM CANCEL alone, which must arrive alone.
    const session = await h2Session(gh.httpsPort, { servername: 'raw.test', ca: ca.cert });
    try {
      const abort = new AbortController();
      const stream = session.request({ ':method': 'POST', ':path': '/x/bidi', ':authority': 'raw.test', 'content-type': 'application/grpc', te: 'trailers' }, { signal: abort.signal });
      stream.on('error', () => undefined);
      const first = new Promise<Buffer>((resolve) => stream.once('data', resolve));
      stream.write(echoRequestFrame('first'));
      expect(String(await first)).toContain('first');
      abort.abort();
      await waitFor('the backend to see the stream reset', () => raw.bidi.length > 0 && raw.bidi.at(-1)!.closed, 5000);
      expect(raw.bidi.at(-1)).toEqual({ events: ['aborted'], closed: true, rstCode: constants.NGHTTP2_CANCEL });
    } finally {
      session.close();
    }
  });

  it("a backend's reset (RST_STREAM CANCEL) reaches the client as a reset", async () => {
    const call = client('raw.test').ServerStream({ message: 'x' });
    const got: EchoReply[] = [];
    // The backend resets the stream once the client has its message (however long that takes).
    call.on('data', (m: EchoReply) => {
      got.push(m);
      raw.reset();
    });
    call.on('error', () => undefined);
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(got.map((m) => m.message)).toEqual(['before the reset']);
    expect(status.code).toBe(grpc.status.CANCELLED);

    const session = await h2Session(gh.httpsPort, { servername: 'raw.test', ca: ca.cert });
    try {
      const call = rawCall(session, { ':method': 'POST', ':path': '/x/reset', ':authority': 'raw.test', 'content-type': 'application/grpc' }, Buffer.alloc(5));
      await waitFor('the backend to answer /x/reset', () => raw.awaitingReset() === 1);
      expect(raw.reset()).toBe(1);
      const r = await call;
      expect(r.rstCode).toBe(constants.NGHTTP2_CANCEL);
    } finally {
      session.close();
    }
  });

  it('sends te: trailers, the client :authority and forwarding headers to the backend, and forwards its trailers', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'raw.test', ca: ca.cert });
    try {
      // No te from the client: a gRPC backend gets it anyway.
      const r = await rawCall(session, { ':method': 'POST', ':path': '/inspect', ':authority': 'raw.test', 'content-type': 'application/grpc', 'x-forwarded-for': '6.6.6.6' }, Buffer.alloc(5));
      expect(r.headers[':status']).toBe(200);
      const seen = JSON.parse(String(r.body)) as IncomingHttpHeaders;
      expect(seen.te).toBe('trailers');
      expect(seen[':authority']).toBe('raw.test');
      expect(seen[':scheme']).toBe('http');
      expect(seen[':path']).toBe('/inspect');
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen['x-forwarded-proto']).toBe('https');
      expect(r.trailers['x-raw-trailer']).toBe('yes');
    } finally {
      session.close();
    }
  });

  it('GRPCS: unary and streaming calls over TLS to the backend (certificate not checked by default)', async () => {
    const c = client('grpcs.test');
    const r = await unary(c, { message: 'secure' });
    expect(r.reply).toMatchObject({ message: 'secure', server: 'tls' });
    const call = c.ServerStream({ message: 's', count: 3 });
    const got: string[] = [];
    call.on('data', (m: EchoReply) => got.push(m.message));
    expect((await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve))).code).toBe(grpc.status.OK);
    expect(got).toEqual(['s 0', 's 1', 's 2']);
  });

  it('GRPCS with proxy-ssl-verify on: the right CA serves; a wrong one answers UNAVAILABLE and no call reaches the backend', async () => {
    const ok = await unary(client('verified.test'), { message: 'checked' });
    expect(ok.reply).toMatchObject({ message: 'checked', server: 'tls' });
    const before = tls.received.length;
    const r = await unary(client('wrong-ca.test'), { message: 'unchecked' });
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.details).toMatch(/^gatehouse: connection failed/);
    expect(tls.received.length).toBe(before);
  });

  it('an unreachable backend, or none ready, answers grpc-status 14 UNAVAILABLE, Trailers-Only; a request that is not gRPC gets 502', async () => {
    const down = await unary(client('down.test'), { message: 'anyone?' });
    expect(down.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(down.error?.details).toMatch(/^gatehouse: connection failed: ECONNREFUSED/);
    const empty = await unary(client('empty.test'), { message: 'anyone?' });
    expect(empty.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(empty.error?.details).toBe('gatehouse: no ready endpoint');

    const session = await h2Session(gh.httpsPort, { servername: 'down.test', ca: ca.cert });
    try {
      const r = await rawCall(session, { ':method': 'POST', ':path': '/gatehouse.test.Echo/Unary', ':authority': 'down.test', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.alloc(5));
      expect(r.trailersOnly).toBe(true);
      expect(r.headers[':status']).toBe(200);
      expect(r.headers['grpc-status']).toBe('14');
      expect(r.headers['content-type']).toBe('application/grpc');
      const plain = await rawCall(session, { ':method': 'GET', ':path': '/', ':authority': 'down.test' });
      expect(plain.headers[':status']).toBe(502);
    } finally {
      session.close();
    }
  });
});
