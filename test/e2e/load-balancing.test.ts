// Load balancing and cookie affinity end to end, over real sockets and echo upstreams:
// - affinity: cookie with 4 workers: each request on a new TLS connection (the kernel spreads
//   connections over the workers, and the workers' handshake counters show it did), and every
//   request carrying the cookie reaches the same echo, in both affinity modes; a persistent cookie
//   naming an endpoint that is gone gets another endpoint and a new cookie;
// - the cookie over an HTTP/2 (H2C) backend too;
// - a slow endpoint (an echo answering after 300 ms) loses traffic under ewma and least_request;
// - upstream-hash-by: $arg_user sends a user to one echo, whichever worker serves it.

import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { send, servedBy, type Reply } from '../support/http-client.ts';
import { endpointSlice, ingress, ingressClass, manifest, service, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

function site(name: string, host: string, svc: string, annotations: Record<string, string>) {
  return ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
}

/** A Service whose EndpointSlice holds one endpoint per port, all on 127.0.0.1 (ports by name `http`). */
function servicePorts(name: string, ports: readonly number[]) {
  return [service(name), ...ports.map((port, i) => endpointSlice(`${name}-${i}`, name, { ports: [{ name: 'http', port }] }))];
}

/** One GET on a new connection (so any worker may take it), HTTPS unless `http`. */
async function fresh(gh: Gatehouse, path: string, headers: Record<string, string>, http = false): Promise<Reply> {
  const origin = http ? gh.origin : `https://127.0.0.1:${gh.httpsPort}`;
  const client = new Client(origin, { connect: { rejectUnauthorized: false } });
  try {
    return await send(client, origin, path, { headers });
  } finally {
    await client.close();
  }
}

/** The `NAME=VALUE` part of the Set-Cookie named `name`, or undefined. */
function setCookie(r: Reply, name: string): string | undefined {
  const all = r.headers['set-cookie'];
  const list = all === undefined ? [] : Array.isArray(all) ? all : [all];
  return list.find((c) => c.startsWith(`${name}=`))?.split(';')[0];
}

describe('across 4 workers: cookie affinity, upstream-hash-by', () => {
  let echoes: Echo[];
  let gh: Gatehouse;

  /** The manifests over these echo ports. */
  const sites = (ports: readonly number[]) =>
    manifest(
      ingressClass('gatehouse'),
      servicePorts('web', ports),
      site('balanced', 'balanced.test', 'web', { [`${A}affinity`]: 'cookie', [`${A}session-cookie-samesite`]: 'Lax' }),
      site('persistent', 'persistent.test', 'web', { [`${A}affinity`]: 'cookie', [`${A}affinity-mode`]: 'persistent', [`${A}session-cookie-name`]: 'route' }),
      site('hash', 'hash.test', 'web', { [`${A}upstream-hash-by`]: '$arg_user' }),
    );

  beforeAll(async () => {
    echoes = await Promise.all(['a', 'b', 'c'].map((name) => startEcho({ name })));
    gh = await startGatehouse({ options: { workers: 4 }, manifests: sites(echoes.map((e) => e.port)) });
  });

  afterAll(async () => {
    await gh?.close();
    await Promise.all((echoes ?? []).map((e) => e.close()));
  });

  const handshakes = () => gh.controller.pool.status().map((w) => w.counters.tlsHandshakes);

  it.each([
    ['balanced', 'balanced.test', 'INGRESSCOOKIE'],
    ['persistent', 'persistent.test', 'route'],
  ])('%s: every request with the cookie reaches the echo that served the first, whichever worker takes it', async (_mode, host, name) => {
    const first = await fresh(gh, '/', { host });
    expect(first.status).toBe(200);
    const cookie = setCookie(first, name);
    expect(cookie).toMatch(new RegExp(`^${name}=[A-Za-z0-9_-]{16,32}$`));
    const raw = ([] as string[]).concat(first.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`))!;
    expect(raw.slice(cookie!.length)).toBe(host === 'balanced.test' ? '; Path=/; Secure; HttpOnly; SameSite=Lax' : '; Path=/; Secure; HttpOnly');
    const owner = servedBy(first);
    const before = handshakes();
    for (let i = 0; i < 24; i++) {
      const r = await fresh(gh, `/req/${i}`, { host, cookie: `other=1; ${cookie}` });
      expect(servedBy(r)).toBe(owner);
      expect(setCookie(r, name)).toBeUndefined();
    }
    const served = handshakes().map((n, i) => n - before[i]!);
    expect(served.filter((n) => n > 0).length, `handshakes per worker: ${served.join(', ')}`).toBeGreaterThanOrEqual(2);
  });

  it('starts sessions on more than one echo', async () => {
    const owners = new Set<string | null>();
    for (let i = 0; i < 24 && owners.size < 2; i++) owners.add(servedBy(await fresh(gh, '/', { host: 'persistent.test' }, true)));
    expect(owners.size).toBeGreaterThanOrEqual(2);
  });

  it('upstream-hash-by $arg_user: sends each user to one echo, whichever worker serves the request, and the users to all three', async () => {
    const owners = new Map<string, Set<string | null>>();
    for (let round = 0; round < 2; round++) {
      for (let u = 0; u < 30; u++) {
        const r = await fresh(gh, `/items?page=${round}&user=u${u}`, { host: 'hash.test' }, true);
        expect(r.status).toBe(200);
        const seen = owners.get(`u${u}`) ?? new Set();
        seen.add(servedBy(r));
        owners.set(`u${u}`, seen);
      }
    }
    for (const [user, seen] of owners) expect(seen.size, user).toBe(1);
    expect(new Set([...owners.values()].flatMap((s) => [...s])).size).toBe(3);
  });

  it('persistent: a cookie naming an endpoint that is gone gets another endpoint and a new cookie, which then holds', async () => {
    let cookie: string | undefined;
    let owner: string | null = null;
    for (let i = 0; i < 24 && owner !== 'a'; i++) {
      const r = await fresh(gh, '/', { host: 'persistent.test' }, true);
      [cookie, owner] = [setCookie(r, 'route'), servedBy(r)];
    }
    expect(owner).toBe('a');
    await gh.write('manifests.yaml', sites(echoes.slice(1).map((e) => e.port)));
    const moved = await fresh(gh, '/', { host: 'persistent.test', cookie: cookie! }, true);
    expect(['b', 'c']).toContain(servedBy(moved));
    const renewed = setCookie(moved, 'route');
    expect(renewed).toBeDefined();
    expect(renewed).not.toBe(cookie);
    for (let i = 0; i < 8; i++) expect(servedBy(await fresh(gh, '/', { host: 'persistent.test', cookie: renewed! }, true))).toBe(servedBy(moved));
  });
});

describe('cookie affinity to an HTTP/2 (H2C) backend', () => {
  let servers: Http2Server[];
  let gh: Gatehouse;

  beforeAll(async () => {
    servers = ['x', 'y', 'z'].map((name) =>
      createH2cServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'x-echo-name': name, 'set-cookie': 'app=1; Path=/' });
        res.end(name);
      }),
    );
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))));
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        servicePorts('h2', servers.map((s) => (s.address() as AddressInfo).port)),
        site('h2', 'h2.test', 'h2', { [`${A}backend-protocol`]: 'H2C', [`${A}affinity`]: 'cookie' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await Promise.all((servers ?? []).map((s) => new Promise((r) => s.close(r))));
  });

  it("adds the cookie to the backend's own Set-Cookie, and holds the session", async () => {
    const first = await gh.request('/', { headers: { host: 'h2.test' } });
    expect(first.status).toBe(200);
    expect(first.headers['set-cookie']).toEqual(['app=1; Path=/', expect.stringMatching(/^INGRESSCOOKIE=[A-Za-z0-9_-]{16}; Path=\/; HttpOnly$/)]);
    const cookie = setCookie(first, 'INGRESSCOOKIE')!;
    for (let i = 0; i < 12; i++) expect(servedBy(await fresh(gh, '/', { host: 'h2.test', cookie }, true))).toBe(servedBy(first));
  });
});

describe('a slow endpoint loses traffic', () => {
  let echoes: Echo[];
  let gh: Gatehouse;
  const SLOW_MS = 300;

  beforeAll(async () => {
    echoes = await Promise.all([startEcho({ name: 'fast1' }), startEcho({ name: 'fast2' }), startEcho({ name: 'slow', delayMs: SLOW_MS })]);
    const ports = echoes.map((e) => e.port);
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        servicePorts('web', ports),
        site('ewma', 'ewma.test', 'web', { [`${A}load-balance`]: 'ewma' }),
        site('least', 'least.test', 'web', { 'gatehouse.io/load-balance': 'least_request' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await Promise.all((echoes ?? []).map((e) => e.close()));
  });

  // Round robin would send the slow echo a third of the requests (40 of 120).
  it.each([
    ['ewma', 'ewma.test'],
    ['least_request', 'least.test'],
  ])('%s: an echo answering in 300 ms gets under 15 percent of 120 requests from 4 concurrent clients', async (_lb, host) => {
    const counts = new Map<string | null, number>();
    let sent = 0;
    const deadline = Date.now() + 30_000;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (sent < 120 && Date.now() < deadline) {
          sent++;
          const r = await gh.request('/', { headers: { host } });
          expect(r.status).toBe(200);
          counts.set(servedBy(r), (counts.get(servedBy(r)) ?? 0) + 1);
        }
      }),
    );
    expect(sent).toBe(120);
    expect(counts.get('slow') ?? 0, JSON.stringify([...counts])).toBeLessThan(18);
    expect(counts.get('fast1')).toBeGreaterThan(20);
    expect(counts.get('fast2')).toBeGreaterThan(20);
  });
});
