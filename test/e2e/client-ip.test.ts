// Real client IPs behind a load balancer, end to end in local mode with the ConfigMap
// (--configmap) in the manifests directory: the PROXY protocol (v1 and v2, on the HTTP and the
// HTTPS listener, HTTP/1.1 and HTTP/2 over TLS, LOCAL, a connection without a valid header
// closed unanswered), X-Forwarded-For trusted only from proxy-real-ip-cidr (and the client it
// gives is what rate limits key on), and ConfigMap
// changes applied live (trust range, proxy-set-headers and add-headers, use-proxy-protocol
// switched on). The echo upstream shows exactly what it received.

import { connect as netConnect, type Socket } from 'node:net';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, h2Request, tlsSecret, type TestCa } from '../support/certs.ts';
import { headerValues, startEcho, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { rawExchange } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const CONFIGMAP = 'gatehouse/gatehouse';

function configMap(name: string, data: Record<string, string>, namespace = 'gatehouse'): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

/** web.test has TLS (so plain HTTP to it is redirected, ssl-redirect's default); plain.test has none. */
function site(): Record<string, unknown> {
  const ing = ingress('web', { rules: [{ host: 'web.test', paths: [{ path: '/', service: 'echo' }] }, { host: 'plain.test', paths: [{ path: '/', service: 'echo' }] }] });
  (ing.spec as Record<string, unknown>).tls = [{ hosts: ['web.test'], secretName: 'web' }];
  return ing;
}

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A PROXY v2 header: PROXY (or LOCAL) TCP over IPv4 or IPv6, source → destination. */
function v2(o: { local?: boolean; source?: number[]; destination?: number[]; sourcePort?: number; destinationPort?: number }): Buffer {
  if (o.local) return Buffer.from([...SIGNATURE, 0x20, 0x00, 0, 0]);
  const src = o.source!;
  const v6 = src.length === 16;
  const block = [...src, ...o.destination!, (o.sourcePort ?? 1234) >> 8, (o.sourcePort ?? 1234) & 0xff, (o.destinationPort ?? 80) >> 8, (o.destinationPort ?? 80) & 0xff];
  return Buffer.from([...SIGNATURE, 0x21, v6 ? 0x21 : 0x11, 0, block.length, ...block]);
}

/** A TCP connection to 127.0.0.1 that has written `head` (a PROXY header). */
function connectWith(port: number, head: Buffer | string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host: '127.0.0.1' }, () => {
      socket.off('error', reject);
      socket.write(head);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const GET = (headers = '', host = 'plain.test') => `GET /who HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`;

/** Resolves true when the server closes the connection having sent nothing; false if it answers. */
function closedUnanswered(socket: Socket, data?: string): Promise<boolean> {
  return new Promise((resolve) => {
    let answered = false;
    socket.on('data', () => (answered = true));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(!answered));
    if (data !== undefined) socket.write(data);
  });
}

function upstreamSaw(reply: { readonly body: string }, name: string): string[] {
  return headerValues((JSON.parse(reply.body) as EchoReply).headers, name);
}

/** limited.test: 2 requests per client at once (limit-rpm 1, burst 1), then limit-req-status-code. */
function limited(): Record<string, unknown> {
  const annotations = { 'nginx.ingress.kubernetes.io/limit-rpm': '1', 'nginx.ingress.kubernetes.io/limit-burst-multiplier': '1' };
  return ingress('limited', { annotations, rules: [{ host: 'limited.test', paths: [{ path: '/', service: 'echo' }] }] });
}

let ca: TestCa;

beforeAll(async () => {
  ca = await createCa();
});

describe('use-proxy-protocol', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'echo' });
    const pair = await ca.issue({ dnsNames: ['web.test'] });
    gh = await startGatehouse({
      manifests: manifest(ingressClass('gatehouse'), backendService('echo', echo.port), tlsSecret('web', pair), site(), configMap('gatehouse', { 'use-proxy-protocol': 'true', 'proxy-protocol-header-timeout': '300ms' })),
      options: { configmap: CONFIGMAP },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('v1 TCP4 on the HTTP listener: the source is X-Forwarded-For and X-Real-IP, the destination port X-Forwarded-Port', async () => {
    const r = await rawExchange(await connectWith(gh.httpPort, 'PROXY TCP4 203.0.113.7 192.0.2.10 50000 80\r\n'), GET('X-Forwarded-For: 6.6.6.6\r\n'));
    expect(r.status).toBe(200);
    expect(upstreamSaw(r, 'x-forwarded-for')).toEqual(['203.0.113.7']);
    expect(upstreamSaw(r, 'x-real-ip')).toEqual(['203.0.113.7']);
    expect(upstreamSaw(r, 'x-forwarded-port')).toEqual(['80']);
    expect(upstreamSaw(r, 'x-forwarded-proto')).toEqual(['http']);
  });

  it('v2 TCP6 on the HTTP listener, header and request in one write', async () => {
    const source = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07];
    const head = Buffer.concat([v2({ source, destination: [...new Array<number>(15).fill(0), 1], destinationPort: 8080 }), Buffer.from(GET())]);
    const socket = await connectWith(gh.httpPort, head);
    const r = await rawExchange(socket, '');
    expect(upstreamSaw(r, 'x-forwarded-for')).toEqual(['2001:db8::7']);
    expect(upstreamSaw(r, 'x-forwarded-port')).toEqual(['8080']);
  });

  it('keeps the source for every request of a kept-alive connection', async () => {
    const socket = await connectWith(gh.httpPort, 'PROXY TCP4 198.51.100.9 192.0.2.10 40000 80\r\n');
    const all = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('close', () => resolve(text));
      // Two requests on the connection, the second closing it.
      socket.write(`GET /a HTTP/1.1\r\nHost: plain.test\r\n\r\n${GET()}`);
    });
    expect(all.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
    // X-Forwarded-For and X-Real-IP in each echo.
    expect(all.match(/198\.51\.100\.9/g)?.length).toBe(4);
  });

  it('v1 on the HTTPS listener: the header, then TLS; destination port 443 → X-Forwarded-Proto https', async () => {
    const raw = await connectWith(gh.httpsPort, 'PROXY TCP4 203.0.113.8 192.0.2.10 50001 443\r\n');
    const tls = tlsConnect({ socket: raw, servername: 'web.test', ca: ca.cert, ALPNProtocols: ['http/1.1'] });
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
    const r = await rawExchange(tls, GET('', 'web.test'));
    expect(r.status).toBe(200);
    expect(upstreamSaw(r, 'x-forwarded-for')).toEqual(['203.0.113.8']);
    expect(upstreamSaw(r, 'x-forwarded-proto')).toEqual(['https']);
    expect(upstreamSaw(r, 'x-forwarded-port')).toEqual(['443']);
  });

  it('v2 on the HTTPS listener with HTTP/2', async () => {
    const raw = await connectWith(gh.httpsPort, v2({ source: [198, 51, 100, 20], destination: [192, 0, 2, 10], destinationPort: 443 }));
    const session = h2connect('https://web.test', { createConnection: () => tlsConnect({ socket: raw, servername: 'web.test', ca: ca.cert, ALPNProtocols: ['h2'] }) });
    try {
      const r = await h2Request(session, { ':path': '/who', ':authority': 'web.test' });
      expect(r.status).toBe(200);
      expect(upstreamSaw({ body: r.body.toString() }, 'x-forwarded-for')).toEqual(['198.51.100.20']);
    } finally {
      session.close();
    }
  });

  it('LOCAL (a load balancer health check): the TCP peer is the client', async () => {
    const r = await rawExchange(await connectWith(gh.httpPort, v2({ local: true })), GET());
    expect(r.status).toBe(200);
    expect(upstreamSaw(r, 'x-forwarded-for')).toEqual(['127.0.0.1']);
  });

  it('destination port 443 on the HTTP listener (TLS ended at the load balancer): no ssl-redirect; port 80: 308', async () => {
    const viaTls = await rawExchange(await connectWith(gh.httpPort, 'PROXY TCP4 203.0.113.7 192.0.2.10 50000 443\r\n'), GET('', 'web.test'));
    expect(viaTls.status).toBe(200);
    expect(upstreamSaw(viaTls, 'x-forwarded-proto')).toEqual(['https']);
    const plain = await rawExchange(await connectWith(gh.httpPort, 'PROXY TCP4 203.0.113.7 192.0.2.10 50000 80\r\n'), GET('', 'web.test'));
    expect(plain.status).toBe(308);
  });

  it('closes a connection without a valid header, unanswered, and forwards nothing: an HTTP request, a broken header, a TLS ClientHello', async () => {
    const before = echo.received.length;
    expect(await closedUnanswered(await connectWith(gh.httpPort, GET()))).toBe(true);
    expect(await closedUnanswered(await connectWith(gh.httpPort, 'PROXY TCP4 203.0.113.7 not-an-ip 1 2\r\n'), GET())).toBe(true);
    expect(await closedUnanswered(await connectWith(gh.httpPort, `PROXY TCP4 ${'1'.repeat(200)}`))).toBe(true);
    const hello = tlsConnect({ port: gh.httpsPort, host: '127.0.0.1', servername: 'web.test', ca: ca.cert });
    const failed = await new Promise<boolean>((resolve) => {
      hello.once('secureConnect', () => resolve(false));
      hello.once('error', () => resolve(true));
      hello.once('close', () => resolve(true));
    });
    expect(failed).toBe(true);
    expect(echo.received.length).toBe(before);
  });

  it('closes a connection that sends no header within proxy-protocol-header-timeout', async () => {
    const started = Date.now();
    expect(await closedUnanswered(await connectWith(gh.httpPort, 'PROXY TCP4 203.0.113.7'))).toBe(true);
    // 300 ms in the ConfigMap; well under the 5 s default even on a busy machine.
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

describe('use-forwarded-headers and proxy-real-ip-cidr, changed live', () => {
  let echo: Echo;
  let gh: Gatehouse;
  const base = { 'use-forwarded-headers': 'true', 'proxy-set-headers': 'gatehouse/upstream-headers', 'add-headers': 'gatehouse/response-headers' };

  beforeAll(async () => {
    echo = await startEcho({ name: 'echo' });
    const pair = await ca.issue({ dnsNames: ['web.test'] });
    gh = await startGatehouse({
      manifests: {
        'site.yaml': manifest(ingressClass('gatehouse'), backendService('echo', echo.port), tlsSecret('web', pair), site(), limited()),
        'configmap.yaml': manifest(configMap('gatehouse', { ...base, 'proxy-real-ip-cidr': '127.0.0.1/32' })),
        'headers.yaml': manifest(configMap('upstream-headers', { 'X-Team': 'web', Proxy: '' }), configMap('response-headers', { 'X-Frame-Options': 'DENY' })),
      },
      options: { configmap: CONFIGMAP },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  const ask = (headers: string, host?: string) => rawExchange(gh.httpPort, GET(headers, host));

  it('a peer inside the range: the rightmost untrusted address of X-Forwarded-For, and its X-Forwarded-Proto/Host/Port', async () => {
    const r = await ask('X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\nX-Forwarded-Port: 443\r\n');
    expect(r.status).toBe(200);
    expect(upstreamSaw(r, 'x-forwarded-for')).toEqual(['203.0.113.7']);
    expect(upstreamSaw(r, 'x-real-ip')).toEqual(['203.0.113.7']);
    expect(upstreamSaw(r, 'x-forwarded-proto')).toEqual(['https']);
    expect(upstreamSaw(r, 'x-forwarded-host')).toEqual(['shop.example']);
    expect(upstreamSaw(r, 'x-forwarded-port')).toEqual(['443']);
  });

  it('rate limits key on the client address found this way, not on the peer', async () => {
    const from = (client: string) => ask(`X-Forwarded-For: ${client}\r\n`, 'limited.test').then((r) => r.status);
    expect([await from('203.0.113.1'), await from('203.0.113.1'), await from('203.0.113.1')]).toEqual([200, 200, 503]);
    expect(await from('203.0.113.2')).toBe(200);
  });

  it('a trusted X-Forwarded-Proto: https means no ssl-redirect; http is redirected', async () => {
    expect((await ask('X-Forwarded-Proto: https\r\n', 'web.test')).status).toBe(200);
    expect((await ask('X-Forwarded-Proto: http\r\n', 'web.test')).status).toBe(308);
  });

  it('proxy-set-headers replace the client\'s (an empty one removes it); add-headers go on the response', async () => {
    const r = await ask('X-Team: spoofed\r\nProxy: http://evil\r\n');
    expect(upstreamSaw(r, 'x-team')).toEqual(['web']);
    expect(upstreamSaw(r, 'proxy')).toEqual([]);
    expect(r.headers.get('x-frame-options')).toEqual(['DENY']);
  });

  it('a change to the header ConfigMaps applies live', async () => {
    await gh.write('headers.yaml', manifest(configMap('upstream-headers', { 'X-Team': 'shop' }), configMap('response-headers', { 'X-Frame-Options': 'SAMEORIGIN' })));
    const r = await ask('Proxy: kept-now\r\n');
    expect(upstreamSaw(r, 'x-team')).toEqual(['shop']);
    expect(upstreamSaw(r, 'proxy')).toEqual(['kept-now']);
    expect(r.headers.get('x-frame-options')).toEqual(['SAMEORIGIN']);
  });

  it('proxy-body-size from the ConfigMap is the default of every route (live): a larger body answers 413', async () => {
    const post = (bytes: number) => rawExchange(gh.httpPort, `POST /who HTTP/1.1\r\nHost: plain.test\r\nContent-Length: ${bytes}\r\nConnection: close\r\n\r\n${'x'.repeat(bytes)}`);
    expect((await post(2048)).status).toBe(200);
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { ...base, 'proxy-real-ip-cidr': '127.0.0.1/32', 'proxy-body-size': '1k' })));
    expect((await post(2048)).status).toBe(413);
    expect((await post(1024)).status).toBe(200);
  });

  it('the peer moved out of proxy-real-ip-cidr (live): it is the client, and its X-Forwarded-* are not believed', async () => {
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { ...base, 'proxy-real-ip-cidr': '10.0.0.0/8' })));
    const r = await ask('X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n');
    expect(upstreamSaw(r, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(upstreamSaw(r, 'x-real-ip')).toEqual(['127.0.0.1']);
    expect(upstreamSaw(r, 'x-forwarded-proto')).toEqual(['http']);
    expect(upstreamSaw(r, 'x-forwarded-host')).toEqual(['plain.test']);
    // X-Forwarded-Proto: https not believed: plain HTTP to the TLS host is redirected.
    expect((await ask('X-Forwarded-Proto: https\r\n', 'web.test')).status).toBe(308);
  });

  it('compute-full-forwarded-for: the incoming chain with the peer appended; X-Real-IP the client', async () => {
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { ...base, 'proxy-real-ip-cidr': '127.0.0.0/8', 'compute-full-forwarded-for': 'true' })));
    const r = await ask('X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\nX-Forwarded-Proto: https\r\n');
    expect(upstreamSaw(r, 'x-forwarded-for')).toEqual(['198.51.100.1, 203.0.113.7, 127.0.0.1']);
    expect(upstreamSaw(r, 'x-real-ip')).toEqual(['203.0.113.7']);
  });

  it('use-proxy-protocol switched on live: new connections must send the header, and its source is trusted on', async () => {
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { ...base, 'proxy-real-ip-cidr': '127.0.0.0/8, 192.0.2.0/24', 'use-proxy-protocol': 'true' })));
    expect(await closedUnanswered(await connectWith(gh.httpPort, GET('X-Forwarded-Proto: https\r\n')))).toBe(true);
    // The PROXY source (a trusted L7 proxy) passes X-Forwarded-For on.
    const trusted = await rawExchange(await connectWith(gh.httpPort, 'PROXY TCP4 192.0.2.5 192.0.2.10 50000 80\r\n'), GET('X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n'));
    expect(upstreamSaw(trusted, 'x-forwarded-for')).toEqual(['203.0.113.7']);
    // An untrusted PROXY source is the client.
    const untrusted = await rawExchange(await connectWith(gh.httpPort, 'PROXY TCP4 198.51.100.5 192.0.2.10 50000 443\r\n'), GET('X-Forwarded-For: 203.0.113.7\r\n'));
    expect(upstreamSaw(untrusted, 'x-forwarded-for')).toEqual(['198.51.100.5']);
  });
});
