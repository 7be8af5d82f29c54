// The proxy end to end: what reaches the upstream (Host, path, headers, body) and what comes
// back (streamed bodies, hop-by-hop headers, WebSocket), error statuses, round robin, and
// hostile requests. Real controller, worker threads and echo upstreams on 127.0.0.1.

import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { headerValues, startEchoes, type Echo } from '../support/echo-upstream.ts';
import { rawExchange, servedBy, type Reply } from '../support/http-client.ts';
import { backendService, freePort, ingress, ingressClass, manifest, simpleIngress, startGatehouse, type Gatehouse } from '../support/harness.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('proxy', () => {
  let e: Record<'p' | 'rr-0' | 'rr-1' | 'rr-2', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  beforeAll(async () => {
    e = await startEchoes(['p', 'rr-0', 'rr-1', 'rr-2'] as const);
    const closedPort = await freePort(); // nothing listens there
    gh = await startGatehouse({
      // 1 s read timeout so the 504 test is quick; every streaming test stays well below it per read.
      options: { proxyReadTimeout: 1 },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('p', e.p.port),
        backendService('rr', [e['rr-0'].port, e['rr-1'].port, e['rr-2'].port]),
        backendService('refused', closedPort),
        // One endpoint refuses connections, the other serves.
        backendService('half', [closedPort, e.p.port]),
        // Room for the 10 MB bodies below (proxy-body-size defaults to 1m, as in ingress-nginx).
        ingress('p', { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '16m' }, rules: [{ host: 'proxy.test', paths: [{ path: '/', pathType: 'Prefix', service: 'p' }] }] }),
        simpleIngress('rr', 'rr.test', 'rr'),
        simpleIngress('refused', 'refused.test', 'refused'),
        simpleIngress('half', 'half.test', 'half'),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
  });

  const last = () => e.p.received.at(-1)!;

  describe('request forwarding', () => {
    it('preserves the Host header as the client sent it', async () => {
      const r = await gh.request('/host', { host: 'Proxy.Test:1234' });
      expect(servedBy(r)).toBe('p');
      expect(headerValues(last().headers, 'host')).toEqual(['Proxy.Test:1234']);
    });

    it('forwards path and query byte for byte (no normalisation, no decoding)', async () => {
      const target = '/a%2Fb/../c?x=%20&y=1&y=2';
      const r = await gh.request(target, { host: 'proxy.test' });
      expect(r.status).toBe(200);
      expect(last().url).toBe(target);
      const raw = '/./x//y/%7E%41;p=1?q=a+b&q=%2F&=&empty';
      const rr = await rawExchange(gh.httpPort, `GET ${raw} HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n\r\n`);
      expect(rr.status).toBe(200);
      expect(last().url).toBe(raw);
    });

    it('removes hop-by-hop request headers, including those named in Connection', async () => {
      const r = await rawExchange(
        gh.httpPort,
        [
          'GET /hop-request HTTP/1.1',
          'Host: proxy.test',
          'Connection: close, x-secret',
          'X-Secret: s3cret',
          'Keep-Alive: timeout=5',
          'Proxy-Connection: keep-alive',
          'TE: trailers',
          'Trailer: x-checksum',
          'Upgrade: h2c',
          'Proxy-Authorization: Basic Zm9vOmJhcg==',
          'X-End-To-End: yes',
          '',
          '',
        ].join('\r\n'),
      );
      expect(r.status).toBe(200);
      const names = last().headers.map(([n]) => n.toLowerCase());
      for (const hop of ['x-secret', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization']) {
        expect(names, hop).not.toContain(hop);
      }
      // The proxy's own connection to the upstream may say keep-alive; the client's value never travels.
      expect(headerValues(last().headers, 'connection').join(',')).not.toMatch(/close|x-secret/i);
      expect(headerValues(last().headers, 'x-end-to-end')).toEqual(['yes']);
    });

    it('sets X-Forwarded-* and X-Real-IP from the connection and replaces what the client sent', async () => {
      await gh.request('/fwd', {
        host: 'proxy.test',
        headers: { 'x-forwarded-for': '6.6.6.6', 'x-real-ip': '6.6.6.6', 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https', 'x-forwarded-port': '1' },
      });
      const h = last().headers;
      expect(headerValues(h, 'x-forwarded-for')).toEqual(['127.0.0.1']);
      expect(headerValues(h, 'x-real-ip')).toEqual(['127.0.0.1']);
      expect(headerValues(h, 'x-forwarded-proto')).toEqual(['http']);
      expect(headerValues(h, 'x-forwarded-host')).toEqual(['proxy.test']);
      expect(headerValues(h, 'x-forwarded-port')).toEqual([String(gh.httpPort)]);
    });
  });

  describe('bodies', () => {
    it('streams a 10 MB request body through and the echoed body back, intact both ways', async () => {
      const body = randomBytes(10 * 1024 * 1024);
      const res = await gh.agent.request({ origin: gh.origin, path: '/__echo', method: 'POST', headers: { host: 'proxy.test' }, body });
      expect(res.statusCode).toBe(200);
      const back = Buffer.from(await res.body.arrayBuffer());
      expect(back.length).toBe(body.length);
      expect(sha256(back)).toBe(sha256(body));
      expect(last().bodyLength).toBe(body.length);
      expect(last().bodySha256).toBe(sha256(body));
    });

    it('streams a chunked request body of unknown length', async () => {
      const parts = Array.from({ length: 64 }, () => randomBytes(16 * 1024));
      const res = await gh.agent.request({ origin: gh.origin, path: '/upload', method: 'POST', headers: { host: 'proxy.test' }, body: Readable.from(parts) });
      expect(res.statusCode).toBe(200);
      const reply = (await res.body.json()) as { bodyLength: number; bodySha256: string };
      const all = Buffer.concat(parts);
      expect(reply.bodyLength).toBe(all.length);
      expect(reply.bodySha256).toBe(sha256(all));
    });

    it('answers Expect: 100-continue itself and then streams the body upstream', async () => {
      const body = randomBytes(64 * 1024);
      let continued = false;
      const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port: gh.httpPort,
          method: 'POST',
          path: '/expect',
          agent: false,
          headers: { host: 'proxy.test', expect: '100-continue', 'content-length': body.length, connection: 'close' },
        });
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += String(c)));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      expect(continued).toBe(true);
      expect(reply.status).toBe(200);
      expect(last().bodySha256).toBe(sha256(body));
      expect(headerValues(last().headers, 'expect')).toEqual([]);
    });

    it('answers pipelined requests in order', async () => {
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect({ port: gh.httpPort, host: '127.0.0.1' });
        let got = '';
        const timer = setTimeout(() => socket.destroy(new Error(`no end after 5 s; got ${got.slice(0, 300)}`)), 5000);
        socket.on('data', (c: Buffer) => (got += String(c)));
        socket.on('end', () => {
          clearTimeout(timer);
          resolve(got);
        });
        socket.on('error', reject);
        socket.write(
          'GET /pipe/1 HTTP/1.1\r\nHost: proxy.test\r\n\r\n' +
            'GET /pipe/2 HTTP/1.1\r\nHost: proxy.test\r\n\r\n' +
            'GET /pipe/3 HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n\r\n',
        );
      });
      expect(raw.match(/HTTP\/1\.1 200/g)).toHaveLength(3);
      expect([...raw.matchAll(/"url":"(\/pipe\/\d)"/g)].map((m) => m[1])).toEqual(['/pipe/1', '/pipe/2', '/pipe/3']);
    });

    it('streams the response: the first chunk arrives while the upstream is still sending', async () => {
      const res = await gh.agent.request({ origin: gh.origin, path: '/__stream/6?every=250', method: 'GET', headers: { host: 'proxy.test' } });
      expect(res.statusCode).toBe(200);
      const rec = last();
      let text = '';
      let finishedAtFirstChunk: boolean | null = null;
      for await (const chunk of res.body) {
        finishedAtFirstChunk ??= rec.finished;
        text += String(chunk);
      }
      expect(finishedAtFirstChunk).toBe(false);
      expect(text).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n');
    });

    it('answers HEAD with the upstream headers and no body', async () => {
      const r = await gh.request('/head', { method: 'HEAD', host: 'proxy.test' });
      expect(r.status).toBe(200);
      expect(servedBy(r)).toBe('p');
      expect(r.text).toBe('');
      expect(last().method).toBe('HEAD');
    });

    it('passes every Set-Cookie header through', async () => {
      const r = await gh.request('/__cookies', { host: 'proxy.test' });
      expect(r.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    });

    it('removes hop-by-hop response headers, including those named in Connection', async () => {
      const r = await gh.request('/__hop', { host: 'proxy.test' });
      expect(r.status).toBe(200);
      expect(r.headers['x-custom']).toBeUndefined();
      expect(r.headers['proxy-connection']).toBeUndefined();
      // Connection and Keep-Alive, if present, are Gatehouse's own for the client connection.
      expect(r.headers['keep-alive']).not.toBe('timeout=5');
      expect(String(r.headers.connection)).not.toMatch(/x-custom/i);
      expect(r.headers['x-end-to-end']).toBe('kept');
    });
  });

  describe('WebSocket', () => {
    it('proxies an upgrade and echoes messages both ways', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/chat`, { headers: { host: 'proxy.test' } });
      const messages: string[] = [];
      try {
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
          ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
        });
        const got = new Promise<void>((resolve) =>
          ws.on('message', (m) => {
            messages.push(String(m));
            if (messages.length === 2) resolve();
          }),
        );
        ws.send('hello');
        ws.send('again');
        await got;
      } finally {
        ws.terminate();
      }
      expect(messages).toEqual(['p:hello', 'p:again']);
      const up = e.p.received.filter((r) => r.upgrade).at(-1)!;
      expect(up.url).toBe('/chat');
      expect(headerValues(up.headers, 'host')).toEqual(['proxy.test']);
      expect(headerValues(up.headers, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    });
  });

  describe('upstream failures', () => {
    it('answers a WebSocket upgrade with 502 when the endpoint refuses the connection', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/chat`, { headers: { host: 'refused.test' } });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          ws.once('open', () => reject(new Error('upgrade to a refused endpoint succeeded')));
          ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.once('error', reject);
        });
        expect(status).toBe(502);
      } finally {
        ws.terminate();
      }
    });

    it('tries the next endpoint when one refuses the connection (a request without a body)', async () => {
      const client = new Client(gh.origin, { pipelining: 1 });
      try {
        for (let i = 0; i < 6; i++) {
          const res = await client.request({ path: `/half/${i}`, method: 'GET', headers: { host: 'half.test' } });
          await res.body.dump();
          expect(res.statusCode).toBe(200);
          expect(res.headers['x-echo-name']).toBe('p');
        }
      } finally {
        await client.close();
      }
    });

    const expectSmallPlainError = (r: Reply, status: number, text: string) => {
      expect(r.status).toBe(status);
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(r.text).toBe(`${status} ${text}\n`);
      expect(r.text).not.toMatch(/Error|\bat |node:|\.ts\b|ECONN|UND_ERR/);
    };

    it('answers 502 when the endpoint refuses the connection', async () => {
      expectSmallPlainError(await gh.request('/', { host: 'refused.test' }), 502, 'Bad Gateway');
    });

    it('answers 502 when the upstream resets the connection', async () => {
      expectSmallPlainError(await gh.request('/__reset', { host: 'proxy.test' }), 502, 'Bad Gateway');
    });

    it('answers 504 when the upstream sends no response within the read timeout', async () => {
      // The upstream answers only when told to, after the 504, however late the proxy's timer runs.
      expectSmallPlainError(await gh.request('/__hold', { host: 'proxy.test' }), 504, 'Gateway Timeout');
      // Tried 3 times: proxy-next-upstream's default `error timeout`, 3 tries (test/e2e/retries.test.ts).
      expect(e.p.release()).toBe(3);
    });

    it('passes upstream error statuses through untouched', async () => {
      const r = await gh.request('/__status/503', { host: 'proxy.test' });
      expect(r.status).toBe(503);
      expect(servedBy(r)).toBe('p');
    });

    it('keeps serving after upstream failures', async () => {
      expect(servedBy(await gh.request('/after-failures', { host: 'proxy.test' }))).toBe('p');
    });
  });

  describe('load balancing', () => {
    it('round-robins over the ready endpoints of a Service', async () => {
      // One connection, so one worker and its one round-robin counter.
      const client = new Client(gh.origin, { pipelining: 1 });
      const counts: Record<string, number> = {};
      try {
        for (let i = 0; i < 30; i++) {
          const res = await client.request({ path: `/rr/${i}`, method: 'GET', headers: { host: 'rr.test' } });
          await res.body.dump();
          expect(res.statusCode).toBe(200);
          const name = String(res.headers['x-echo-name']);
          counts[name] = (counts[name] ?? 0) + 1;
        }
      } finally {
        await client.close();
      }
      expect(counts).toEqual({ 'rr-0': 10, 'rr-1': 10, 'rr-2': 10 });
    });
  });

  describe('hostile requests', () => {
    const hostile: [string, string | Buffer][] = [
      ['an invalid request line', 'GARBAGE\r\n\r\n'],
      ['a request line with spaces in the target', 'GET /a b c HTTP/1.1\r\nHost: proxy.test\r\n\r\n'],
      ['an absolute-form target', 'GET http://proxy.test/x HTTP/1.1\r\nHost: proxy.test\r\n\r\n'],
      ['an asterisk-form target', 'OPTIONS * HTTP/1.1\r\nHost: proxy.test\r\n\r\n'],
      ['a huge header', `GET / HTTP/1.1\r\nHost: proxy.test\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`],
      ['both Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: proxy.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['an invalid header name', 'GET / HTTP/1.1\r\nHost: proxy.test\r\nBad Header: x\r\n\r\n'],
      ['a bad chunk size', 'POST /__echo HTTP/1.1\r\nHost: proxy.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ];
    for (const [what, data] of hostile) {
      it(`answers ${what} with a 4xx and keeps serving`, async () => {
        const before = e.p.received.length;
        const r = await rawExchange(gh.httpPort, data);
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        if (what === 'a huge header') expect(r.status).toBe(431);
        expect(r.body.length).toBeLessThan(64);
        expect(r.body).not.toMatch(/Error|\bat |node:|\.ts\b/);
        if (what !== 'a bad chunk size') expect(e.p.received.length).toBe(before);
        expect(servedBy(await gh.request('/still-serving', { host: 'proxy.test' }))).toBe('p');
      });
    }
  });
});
