// The access log end to end over a pool of 2 workers: one JSON line per request with the fields of
// issue 11 (client, method, host, path, protocol, status, bytes, durations, upstream, Ingress and
// Service, request ID, user agent, TLS version); never the Authorization header, cookies or the
// values of query parameters that look secret; enable-access-log: "false" leaves an Ingress's
// requests out; --access-log-sample logs a share of them.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:http2';
import { Client } from 'undici';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';
import { parsePrometheusText } from '../support/prometheus-text.ts';
import type { AccessLogEntry } from '../../src/dataplane/observe/access-log.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

async function lines(file: string): Promise<AccessLogEntry[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AccessLogEntry);
}

/** Gatehouse (1 worker) logging to a file, Ingress `name` routing `host` to an echo upstream, for `run`; everything stopped after. */
async function withLoggedSite(o: { name: string; host: string; namespace?: string; sample?: number }, run: (t: { gh: Gatehouse; echo: Echo; file: string }) => Promise<void>): Promise<void> {
  const namespace = o.namespace ?? 'default';
  const echo = await startEcho({ name: o.name });
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-access-log-'));
  const file = path.join(dir, 'access.log');
  const gh = await startGatehouse({
    options: { workers: 1, accessLogSample: o.sample ?? 1, accessLogPath: file },
    manifests: manifest(ingressClass('gatehouse'), backendService('echo', echo.port, { namespace }), ingress(o.name, { namespace, rules: [{ host: o.host, paths: [{ path: '/', service: 'echo' }] }] })),
  });
  try {
    await run({ gh, echo, file });
  } finally {
    await gh.close();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the access log', () => {
  let echo: Echo;
  let gh: Gatehouse;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    echo = await startEcho({ name: 'logged' });
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-access-log-'));
    file = path.join(dir, 'access.log');
    gh = await startGatehouse({
      options: { workers: 2, accessLogSample: 1, accessLogPath: file },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port, { namespace: 'web' }),
        ingress('site', { namespace: 'web', rules: [{ host: 'site.test', paths: [{ path: '/', service: 'echo' }] }] }),
        ingress('quiet', { namespace: 'web', annotations: { [`${NGINX}enable-access-log`]: 'false' }, rules: [{ host: 'quiet.test', paths: [{ path: '/', service: 'echo' }] }] }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one line per request with its fields, never credentials or secret query values', async () => {
    const secretHeaders = { authorization: 'Bearer very-secret-token', cookie: 'session=cookie-secret', 'user-agent': 'access-log-test/1.0', 'x-request-id': 'req-given-1' };
    const a = await gh.request('/shop/item?page=2&token=query-secret&api_key=key-secret', { host: 'site.test', headers: secretHeaders });
    expect(a.status).toBe(200);
    const b = await gh.request('/nothing', { host: 'nobody.test' });
    expect(b.status).toBe(404);
    // Our own 400 (a malformed escape) is logged with who asked and for which host too.
    expect((await gh.request('/bad%zz', { host: 'site.test' })).status).toBe(400);
    for (let i = 0; i < 3; i++) expect((await gh.request('/', { host: 'quiet.test' })).status).toBe(200);
    const h2 = new Client(`https://127.0.0.1:${gh.httpsPort}`, { allowH2: true, connect: { rejectUnauthorized: false, servername: 'site.test' } });
    try {
      const res = await h2.request({ path: '/over-tls', method: 'POST', headers: { host: 'site.test' }, body: 'x'.repeat(1000) });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    } finally {
      await h2.close();
    }

    await waitFor('4 access-log lines', async () => (await lines(file)).length >= 4);
    const got = await lines(file);
    expect(got).toHaveLength(4);
    expect(got.find((l) => l.status === 400)).toMatchObject({ clientIp: '127.0.0.1', host: 'site.test', path: '/bad%zz', ingress: '' });
    const [first, unrouted, tls] = [got.find((l) => l.path.startsWith('/shop'))!, got.find((l) => l.host === 'nobody.test')!, got.find((l) => l.path === '/over-tls')!];
    expect(first).toMatchObject({
      requestId: 'req-given-1',
      clientIp: '127.0.0.1',
      method: 'GET',
      host: 'site.test',
      path: '/shop/item?page=2&token=REDACTED&api_key=REDACTED',
      protocol: 'HTTP/1.1',
      status: 200,
      upstreamAddress: `127.0.0.1:${echo.port}`,
      upstreamStatus: 200,
      namespace: 'web',
      ingress: 'site',
      service: 'echo',
      userAgent: 'access-log-test/1.0',
      tls: null,
    });
    expect(Date.parse(first.time)).toBeGreaterThan(Date.now() - 60_000);
    expect(first.bytesIn).toBeGreaterThan(100);
    expect(first.bytesOut).toBeGreaterThan(100);
    expect(first.durationMs).toBeGreaterThanOrEqual(first.upstreamDurationMs!);
    expect(unrouted).toMatchObject({ status: 404, namespace: '', ingress: '', service: '', upstreamAddress: null, upstreamStatus: null, upstreamDurationMs: null });
    expect(unrouted.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(tls).toMatchObject({ protocol: 'HTTP/2.0', tls: 'TLSv1.3', method: 'POST', ingress: 'site' });
    expect(tls.bytesIn).toBeGreaterThanOrEqual(1000);
    const text = await readFile(file, 'utf8');
    for (const secret of ['very-secret-token', 'cookie-secret', 'query-secret', 'key-secret']) expect(text).not.toContain(secret);
  });
});

describe('WebSocket upgrades', () => {
  it('are observed as requests: a line with 101 when the connection ends, the request ID sent upstream, counted in the metrics; a refused one with its status', async () => {
    await withLoggedSite({ name: 'chat', host: 'chat.test', namespace: 'web' }, async ({ gh, echo, file }) => {
      const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/socket?token=secret-value`, { headers: { host: 'chat.test', 'user-agent': 'ws-test/1', 'x-request-id': 'ws-req-1' } });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('hello');
    expect(await reply).toBe('chat:hello');
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close();
    await closed;
    // A refused upgrade (no route for the host) is a line too.
    const refused = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/socket`, { headers: { host: 'nobody.test' } });
    refused.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    refused.terminate();
    expect(status).toBe(404);

    await waitFor('2 access-log lines', async () => (await lines(file)).length >= 2);
    const [upgraded, notFound] = [(await lines(file)).find((l) => l.host === 'chat.test')!, (await lines(file)).find((l) => l.host === 'nobody.test')!];
    expect(upgraded).toMatchObject({ requestId: 'ws-req-1', method: 'GET', path: '/socket?token=REDACTED', protocol: 'HTTP/1.1', status: 101, upstreamStatus: 101, namespace: 'web', ingress: 'chat', service: 'echo', userAgent: 'ws-test/1' });
    expect(upgraded.upstreamAddress).toBe(`127.0.0.1:${echo.port}`);
    expect(upgraded.bytesOut).toBeGreaterThan(0);
    expect(notFound).toMatchObject({ status: 404, ingress: '', upstreamStatus: null });
    expect(echo.received.filter((r) => r.upgrade).map((r) => r.headers.find(([n]) => n.toLowerCase() === 'x-request-id')?.[1])).toEqual(['ws-req-1']);
    const scrape = parsePrometheusText(await (await fetch(`http://127.0.0.1:${gh.adminPort}/metrics`)).text());
    expect(scrape.sum('gatehouse_requests_total', { ingress: 'chat', status_class: '1xx' })).toBe(1);
    });
  });
});

describe('an HTTP/2 client that goes away with streams in flight', () => {
  it('leaves the worker up (reading its unbound socket threw and crashed it): the streams are logged as 499', async () => {
    await withLoggedSite({ name: 'site', host: 'site.test' }, async ({ gh, echo, file }) => {
      const session = connect(`https://127.0.0.1:${gh.httpsPort}`, { rejectUnauthorized: false, servername: 'site.test' });
      session.on('error', () => undefined);
      Array.from({ length: 10 }, () => {
        const s = session.request({ ':path': '/__hold', ':authority': 'site.test' });
        s.on('error', () => undefined);
        return s;
    });
    await waitFor('10 requests held at the upstream', () => echo.received.filter((r) => r.url.endsWith('/__hold')).length === 10);
    // The TCP connection cut under the session, as a load generator ending a timed run does.
    session.socket.destroy();
    await waitFor('10 lines of 499', async () => (await lines(file)).filter((l) => l.status === 499).length === 10);
    echo.release();
    expect((await gh.request('/after', { host: 'site.test' })).status).toBe(200);
    expect(gh.controller.pool.status().map((w) => w.restarts)).toEqual([0]);
    });
  });
});

describe('--access-log-sample', () => {
  it('logs about that share of the requests', async () => {
    await withLoggedSite({ name: 'site', host: 'site.test', sample: 0.5 }, async ({ gh, file }) => {
      for (let i = 0; i < 200; i++) expect((await gh.request(`/${i}`, { host: 'site.test' })).status).toBe(200);
      // Every request is counted in the metrics; the log has its share (binomial: 100 ± 7).
      const scrape = async () => parsePrometheusText(await (await fetch(`http://127.0.0.1:${gh.adminPort}/metrics`)).text());
      await waitFor('200 requests counted', async () => (await scrape()).sum('gatehouse_requests_total') === 200);
      const logged = (await scrape()).value('gatehouse_access_log_lines_total')!;
      await waitFor('the sampled lines written', async () => (await lines(file)).length === logged);
      expect(logged).toBeGreaterThan(50);
      expect(logged).toBeLessThan(150);
    });
  });
});
