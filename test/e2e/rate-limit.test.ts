// Rate and connection limits end to end, as ingress-nginx documents them, exact across the worker
// pool: one client over 8 connections spread over 4 workers gets the configured rate (limit-rps)
// and exactly its burst (limit-rpm); whitelisted clients are never limited, other clients have
// their own counters; limit-connections refuses the (n+1)th request in progress (HTTP/1.1 and
// HTTP/2 streams alike) and counts every request out once, whether it finished, failed or was
// abandoned; refusals carry 503 and Retry-After and never reach the upstream; limit-rate
// throttles a response; the status codes follow --limit-req-status-code / --limit-conn-status-code;
// a worker that dies holding requests gives their slots back.

import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { Client, type Dispatcher } from 'undici';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

function site(name: string, annotations: Record<string, string>): Record<string, unknown> {
  return ingress(name, { annotations, rules: [{ host: `${name}.test`, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });
}

interface Outcome {
  readonly status: number;
  readonly retryAfter: string | undefined;
}

async function get(client: Dispatcher, host: string, path: string): Promise<Outcome> {
  const res = await client.request({ path, method: 'GET', headers: { host } });
  await res.body.dump();
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined };
}

/** `n` kept-alive clients (one connection each) to the HTTPS listener, so each handshake shows which worker took it. */
function httpsClients(gh: Gatehouse, n: number): Client[] {
  return Array.from({ length: n }, () => new Client(`https://127.0.0.1:${gh.httpsPort}`, { pipelining: 1, connect: { rejectUnauthorized: false } }));
}

/** TLS handshakes per worker so far (the pool's shared counters). */
function handshakes(gh: Gatehouse): number[] {
  return gh.controller.pool.status().map((w) => w.counters.tlsHandshakes);
}

function receivedUnder(echo: Echo, prefix: string): number {
  return echo.received.filter((r) => r.url.startsWith(prefix)).length;
}

describe('rate and connection limits on a pool of 4 workers', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'limited' });
    gh = await startGatehouse({
      options: { workers: 4 },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        // 20 per second, burst 40.
        site('rps', { [NGINX + 'limit-rps']: '20', [NGINX + 'limit-burst-multiplier']: '2' }),
        // 6 per minute (one per 10 s), burst 30 (the default multiplier, 5).
        site('rpm', { [NGINX + 'limit-rpm']: '6' }),
        site('white', { [NGINX + 'limit-rps']: '1', [NGINX + 'limit-burst-multiplier']: '1', [NGINX + 'limit-whitelist']: '127.0.0.2/32, ::1' }),
        site('conn', { 'gatehouse.io/limit-connections': '2' }),
        site('bandwidth', { [NGINX + 'limit-rate']: '64', [NGINX + 'limit-rate-after']: '16' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('one client over 8 connections on 4 workers gets limit-rps within ±10 %, its burst accounted for', async () => {
    const before = handshakes(gh);
    const clients = httpsClients(gh, 8);
    const RATE = 20;
    const BURST = 40;
    const WINDOW_MS = 4000;
    let ok = 0;
    let refused = 0;
    const other: number[] = [];
    const start = performance.now();
    let end = start;
    try {
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; i < 10_000 && performance.now() - start < WINDOW_MS; i++) {
            const r = await get(client, 'rps.test', `/rps/${c}/${i}`);
            if (r.status === 200) ok++;
            else if (r.status === 503 && r.retryAfter === '1') refused++;
            else other.push(r.status);
            end = Math.max(end, performance.now());
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const seconds = (end - start) / 1000;
    // The kernel spread the 8 connections over more than one worker.
    const spread = handshakes(gh).map((n, i) => n - before[i]!);
    expect(spread.reduce((a, b) => a + b, 0)).toBe(8);
    expect(spread.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(other).toEqual([]);
    // The client offered far more than the limit the whole time.
    expect(refused).toBeGreaterThan(ok);
    // GCRA: burst + 1 at once, then RATE per second.
    const rate = (ok - BURST - 1) / seconds;
    expect(rate, `${ok} admitted in ${seconds.toFixed(2)} s`).toBeGreaterThanOrEqual(RATE * 0.9);
    expect(rate, `${ok} admitted in ${seconds.toFixed(2)} s`).toBeLessThanOrEqual(RATE * 1.1);
    // Refused requests were never forwarded.
    expect(receivedUnder(echo, '/rps/')).toBe(ok);
    // Nothing was forgotten or admitted uncounted (/debug/table shows the tables' counters).
    const debug = (await gh.admin('/debug/table')).body as { limits: unknown };
    expect(debug.limits).toEqual({ rates: { evictions: 0, lockTimeouts: 0 }, connections: { full: 0, lockTimeouts: 0 } });
  });

  it('admits exactly the limit-rpm burst across the pool, then 503 with Retry-After; nothing refused is forwarded', async () => {
    const clients = httpsClients(gh, 8);
    const outcomes: Outcome[] = [];
    const start = performance.now();
    try {
      await Promise.all(clients.map(async (client, c) => {
        for (let i = 0; i < 25; i++) outcomes.push(await get(client, 'rpm.test', `/rpm/${c}/${i}`));
      }));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const seconds = (performance.now() - start) / 1000;
    const ok = outcomes.filter((o) => o.status === 200).length;
    // Burst 30 + 1 from rest; one more per 10 s the run took (none when it took less).
    expect(ok).toBeGreaterThanOrEqual(31);
    expect(ok).toBeLessThanOrEqual(31 + Math.floor(seconds / 10));
    const refusals = outcomes.filter((o) => o.status !== 200);
    expect(refusals.length).toBe(200 - ok);
    for (const r of refusals) {
      expect(r.status).toBe(503);
      // The next request passes within one interval (10 s).
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(10);
    }
    expect(receivedUnder(echo, '/rpm/')).toBe(ok);
  });

  it('never limits a whitelisted client; every other client has its own counters', async () => {
    const white = new Client(gh.origin, { localAddress: '127.0.0.2' });
    const one = new Client(gh.origin, { localAddress: '127.0.0.1' });
    const three = new Client(gh.origin, { localAddress: '127.0.0.3' });
    try {
      const whitelisted = [];
      for (let i = 0; i < 60; i++) whitelisted.push((await get(white, 'white.test', `/white/w/${i}`)).status);
      expect(whitelisted).toEqual(new Array(60).fill(200));
      // 1 per second, burst 1: two at once, then refused, for each client on its own.
      const start = performance.now();
      const first = [];
      for (let i = 0; i < 6; i++) first.push((await get(one, 'white.test', `/white/a/${i}`)).status);
      const other = [];
      for (let i = 0; i < 6; i++) other.push((await get(three, 'white.test', `/white/b/${i}`)).status);
      if (performance.now() - start < 1000) {
        expect(first).toEqual([200, 200, 503, 503, 503, 503]);
        expect(other).toEqual([200, 200, 503, 503, 503, 503]);
      } else {
        expect(first.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
        expect(first.filter((s) => s === 503).length).toBeGreaterThan(0);
      }
      // The whitelisted client still is not limited.
      expect((await get(white, 'white.test', '/white/w/last')).status).toBe(200);
    } finally {
      await Promise.all([white.close(), one.close(), three.close()]);
    }
  });

  it('refuses the third request in progress with limit-connections 2 (503, Retry-After), never forwarding it', async () => {
    const held = [gh.request('/conn/held/1/__delay/1500', { host: 'conn.test' }), gh.request('/conn/held/2/__delay/1500', { host: 'conn.test' })];
    await waitFor('both held requests to reach the upstream', () => receivedUnder(echo, '/conn/held/') === 2);
    const third = await gh.request('/conn/third', { host: 'conn.test' });
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('1');
    expect(receivedUnder(echo, '/conn/third')).toBe(0);
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    // Counted out when they finished.
    expect((await gh.request('/conn/after', { host: 'conn.test' })).status).toBe(200);
  });

  /** Holds two requests in progress on conn.test, checks a third is refused, lets them finish. */
  async function atLimitExactly(tag: string): Promise<void> {
    const held = [gh.request(`/conn/${tag}/1/__delay/800`, { host: 'conn.test' }), gh.request(`/conn/${tag}/2/__delay/800`, { host: 'conn.test' })];
    await waitFor(`the ${tag} requests to reach the upstream`, () => receivedUnder(echo, `/conn/${tag}/`) === 2);
    expect((await gh.request(`/conn/${tag}-over`, { host: 'conn.test' })).status).toBe(503);
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
  }

  it('counts out, exactly once, requests the client abandoned and requests the upstream failed', async () => {
    // Abandoned: the client goes away while the upstream still works on them.
    const controllers = [new AbortController(), new AbortController()];
    const abandoned = controllers.map((ac, i) => gh.agent.request({ origin: gh.origin, path: `/conn/gone/${i}/__delay/5000`, method: 'GET', headers: { host: 'conn.test' }, signal: ac.signal }).catch(() => 'aborted'));
    await waitFor('the abandoned requests to reach the upstream', () => receivedUnder(echo, '/conn/gone/') === 2);
    for (const ac of controllers) ac.abort();
    expect(await Promise.all(abandoned)).toEqual(['aborted', 'aborted']);
    // Each is counted out when its response closes, which is also when the proxy drops the
    // upstream request: once the upstream saw both go, both slots are free (a probe passing
    // would only show that one is).
    await waitFor('the upstream to see both abandoned requests go', () => echo.received.filter((r) => r.url.startsWith('/conn/gone/') && r.finished).length === 2);
    expect((await gh.request('/conn/probe', { host: 'conn.test' })).status).toBe(200);
    // Failed: the upstream resets them (502), more times than the limit.
    for (let i = 0; i < 3; i++) expect((await gh.request(`/conn/reset/${i}/__reset`, { host: 'conn.test' })).status).toBe(502);
    // Neither leaked a slot nor was counted out twice: two in progress, and the third refused.
    await atLimitExactly('exact');
  });

  it('counts HTTP/2 streams of one connection as requests in progress', async () => {
    const session: ClientHttp2Session = h2connect(`https://127.0.0.1:${gh.httpsPort}`, { rejectUnauthorized: false });
    session.on('error', () => undefined);
    const stream = (path: string) =>
      new Promise<{ status: number; retryAfter: unknown }>((resolve, reject) => {
        const s = session.request({ ':path': path, ':authority': 'conn.test' });
        let status = 0;
        let retryAfter: unknown;
        s.on('response', (h) => {
          status = Number(h[':status']);
          retryAfter = h['retry-after'];
        });
        s.on('data', () => undefined);
        s.on('end', () => resolve({ status, retryAfter }));
        s.on('error', reject);
      });
    try {
      const held = [stream('/conn/h2/1/__delay/1000'), stream('/conn/h2/2/__delay/1000')];
      await waitFor('both streams to reach the upstream', () => receivedUnder(echo, '/conn/h2/') === 2);
      expect(await stream('/conn/h2-over')).toEqual({ status: 503, retryAfter: '1' });
      expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
      expect((await stream('/conn/h2-after')).status).toBe(200);
    } finally {
      session.close();
    }
  });

  it('counts an open WebSocket as a request in progress until it closes', async () => {
    const open = (path: string) =>
      new Promise<WebSocket | number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}${path}`, { headers: { host: 'conn.test' } });
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
        });
        ws.once('error', () => resolve(-1));
      });
    const first = await open('/conn/ws/1');
    const second = await open('/conn/ws/2');
    expect(first).toBeInstanceOf(WebSocket);
    expect(second).toBeInstanceOf(WebSocket);
    expect(await open('/conn/ws-over')).toBe(503);
    expect(receivedUnder(echo, '/conn/ws-over')).toBe(0);
    const closed = new Promise((r) => (first as WebSocket).once('close', r));
    (first as WebSocket).close();
    await closed;
    let third = 0 as WebSocket | number;
    await waitFor('an upgrade to pass once one socket closed', async () => (third = await open('/conn/ws/3')) instanceof WebSocket);
    (second as WebSocket).close();
    if (third instanceof WebSocket) third.close();
  });

  it('throttles a response to limit-rate after limit-rate-after, the body intact', async () => {
    // 160 KiB back from the upstream at 64 KiB/s after the first 16 KiB: at least 2.25 s.
    const body = randomBytes(160 * 1024);
    const start = performance.now();
    const res = await gh.agent.request({ origin: gh.origin, path: '/bandwidth/__echo', method: 'POST', headers: { host: 'bandwidth.test' }, body });
    const got = Buffer.from(await res.body.arrayBuffer());
    const seconds = (performance.now() - start) / 1000;
    expect(res.statusCode).toBe(200);
    expect(got.length).toBe(body.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(seconds).toBeGreaterThanOrEqual(((160 - 16) / 64) * 0.9);
  });
});

describe('limit status codes from the flags, and a worker that dies holding requests', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'codes' });
    gh = await startGatehouse({
      options: { workers: 1, limitReqStatusCode: 429, limitConnStatusCode: 599 },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        site('req', { [NGINX + 'limit-rpm']: '1', [NGINX + 'limit-burst-multiplier']: '0' }),
        site('conn', { [NGINX + 'limit-connections']: '1' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('answers --limit-req-status-code and --limit-conn-status-code', async () => {
    expect((await gh.request('/a', { host: 'req.test' })).status).toBe(200);
    const refused = await gh.request('/b', { host: 'req.test' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(50);
    const held = gh.request('/held/__delay/1000', { host: 'conn.test' });
    await waitFor('the held request to reach the upstream', () => receivedUnder(echo, '/held/') === 1);
    expect((await gh.request('/over', { host: 'conn.test' })).status).toBe(599);
    expect((await held).status).toBe(200);
  });

  it('gives back the slots of a worker killed while it held requests', async () => {
    const client = new Client(gh.origin);
    const held = client.request({ path: '/dying/__delay/10000', method: 'GET', headers: { host: 'conn.test' } }).then(
      () => 'answered',
      () => 'cut',
    );
    await waitFor('the held request to reach the upstream', () => receivedUnder(echo, '/dying/') === 1);
    await gh.controller.pool.kill(0);
    expect(await held).toBe('cut');
    await client.close().catch(() => undefined);
    // The replacement serves; the dead worker's request is no longer counted.
    await waitFor(
      'a request to pass on the replacement worker',
      async () => {
        const probe = new Client(gh.origin);
        try {
          return (await get(probe, 'conn.test', '/after-kill')).status === 200;
        } catch {
          return false;
        } finally {
          await probe.close().catch(() => undefined);
        }
      },
      15_000,
      50,
    );
  });
});
