// Canary Ingresses end to end, over real sockets and two echo upstreams, `main` and `canary`
// (ingress-nginx test/e2e/annotations/canary.go): the canary attaches to the main Ingress's route;
// canary-by-header (value, pattern, always/never), canary-by-cookie, canary-weight(-total) and
// their precedence decide per request; the main Ingress's policies still apply; a canary Service
// without endpoints leaves traffic on the main one; weighted splits over 10,000 requests; the
// canary removed live sends everything to main, the main removed leaves the canary unserved.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { h2Request, h2Session } from '../support/certs.ts';
import { startEchoes, type Echo } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, service, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

function site(name: string, host: string, svc: string, annotations: Record<string, string> = {}) {
  return ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
}

function canary(name: string, host: string, annotations: Record<string, string>, svc = 'canary') {
  return site(name, host, svc, { [`${A}canary`]: 'true', ...annotations });
}

describe('canary', () => {
  let e: Record<'main' | 'canary', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  /** Which echo served a GET of `host` with these headers. */
  const who = async (host: string, headers: Record<string, string> = {}, path = '/') => {
    const r = await gh.request(path, { host, headers });
    expect(r.status).toBe(200);
    return servedBy(r);
  };

  beforeAll(async () => {
    e = await startEchoes(['main', 'canary'] as const);
    const mains = ['value', 'pattern', 'always', 'cookie', 'order', 'empty', 'policies', 'w10', 'w50', 'w333'].map((h) => site(`main-${h}`, `${h}.test`, 'main'));
    gh = await startGatehouse({
      manifests: {
        'base.yaml': manifest(
          ingressClass('gatehouse'),
          backendService('main', e.main.port),
          backendService('canary', e.canary.port),
          service('no-endpoints'),
          mains.filter((m) => (m.metadata as { name: string }).name !== 'main-policies'),
          // The main Ingress's policies hold for the canary's requests too; the canary's own are ignored.
          site('main-policies', 'policies.test', 'main', { [`${A}rewrite-target`]: '/rewritten', 'gatehouse.io/request-headers': 'X-Team: main\n' }),
          canary('c-value', 'value.test', { [`${A}canary-by-header`]: 'X-Canary', [`${A}canary-by-header-value`]: 'yes please' }),
          canary('c-pattern', 'pattern.test', { [`${A}canary-by-header`]: 'x-region', [`${A}canary-by-header-pattern`]: '^eu-(west|north)$' }),
          canary('c-always', 'always.test', { [`${A}canary-by-header`]: 'x-canary', [`${A}canary-weight`]: '100' }),
          canary('c-cookie', 'cookie.test', { [`${A}canary-by-cookie`]: 'beta' }),
          canary('c-order', 'order.test', { [`${A}canary-by-header`]: 'x-canary', [`${A}canary-by-cookie`]: 'beta', [`${A}canary-weight`]: '100' }),
          canary('c-empty', 'empty.test', { [`${A}canary-weight`]: '100' }, 'no-endpoints'),
          canary('c-policies', 'policies.test', { [`${A}canary-by-header`]: 'x-canary', [`${A}rewrite-target`]: '/canary-own', 'gatehouse.io/request-headers': 'X-Team: canary\n' }),
          canary('c-w10', 'w10.test', { [`${A}canary-weight`]: '10' }),
          canary('c-w50', 'w50.test', { [`${A}canary-weight`]: '50' }),
          canary('c-w333', 'w333.test', { [`${A}canary-weight`]: '333', [`${A}canary-weight-total`]: '1000' }),
        ),
      },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
  });

  it('serves the canary Ingress with no route conflict', () => {
    expect(gh.controller.conditions()).toEqual([]);
  });

  it('canary-by-header-value: the exact value goes to the canary, any other value or none to main', async () => {
    expect(await who('value.test', { 'x-canary': 'yes please' })).toBe('canary');
    expect(await who('value.test', { 'X-CANARY': 'yes please' })).toBe('canary');
    expect(await who('value.test', { 'x-canary': 'Yes please' })).toBe('main');
    // With a value set, `always` is just another value.
    expect(await who('value.test', { 'x-canary': 'always' })).toBe('main');
    expect(await who('value.test')).toBe('main');
  });

  it('canary-by-header-pattern: a match goes to the canary (RE2, case-sensitive), else main', async () => {
    expect(await who('pattern.test', { 'x-region': 'eu-west' })).toBe('canary');
    expect(await who('pattern.test', { 'x-region': 'eu-north' })).toBe('canary');
    expect(await who('pattern.test', { 'x-region': 'eu-south' })).toBe('main');
    expect(await who('pattern.test', { 'x-region': 'EU-WEST' })).toBe('main');
    expect(await who('pattern.test')).toBe('main');
  });

  it('canary-by-header alone: always → canary, never → main, anything else falls to the weight (100 here)', async () => {
    expect(await who('always.test', { 'x-canary': 'always' })).toBe('canary');
    expect(await who('always.test', { 'x-canary': 'never' })).toBe('main');
    expect(await who('always.test', { 'x-canary': 'sometimes' })).toBe('canary');
    expect(await who('always.test')).toBe('canary');
  });

  it('canary-by-cookie: always → canary, never or anything else → main (weight 0), the name matched ignoring case as nginx', async () => {
    expect(await who('cookie.test', { cookie: 'a=1; beta=always' })).toBe('canary');
    expect(await who('cookie.test', { cookie: 'Beta=always' })).toBe('canary');
    expect(await who('cookie.test', { cookie: 'beta=never' })).toBe('main');
    expect(await who('cookie.test', { cookie: 'beta=yes' })).toBe('main');
    expect(await who('cookie.test')).toBe('main');
  });

  it('precedence: header, then cookie, then weight', async () => {
    expect(await who('order.test', { 'x-canary': 'never', cookie: 'beta=always' })).toBe('main');
    expect(await who('order.test', { 'x-canary': 'always', cookie: 'beta=never' })).toBe('canary');
    expect(await who('order.test', { 'x-canary': 'other', cookie: 'beta=never' })).toBe('main');
    expect(await who('order.test', { cookie: 'beta=never' })).toBe('main');
    expect(await who('order.test', { cookie: 'beta=other' })).toBe('canary');
  });

  it('keeps requests on main when the canary Service has no endpoint (ingress-nginx has no balancer for it)', async () => {
    expect(await who('empty.test')).toBe('main');
  });

  it("applies the main Ingress's policies to canary requests and ignores the canary's own", async () => {
    const before = e.canary.received.length;
    expect(await who('policies.test', { 'x-canary': 'always' }, '/x?q=1')).toBe('canary');
    const got = e.canary.received[before]!;
    expect(got.url).toBe('/rewritten?q=1');
    expect(got.headers.filter(([n]) => n.toLowerCase() === 'x-team').map(([, v]) => v)).toEqual(['main']);
  });

  it("attaches a canary of Prefix / to a host's default backend when no Ingress routes / (ingress-nginx's root location)", async () => {
    await gh.write('default.yaml', manifest(
      ingress('main-default', { defaultBackend: { service: 'main' }, rules: [{ host: 'default.test', paths: [{ path: '/x', service: 'main' }] }] }),
      canary('c-default', 'default.test', { [`${A}canary-weight`]: '100' }),
    ));
    expect(await who('default.test', {}, '/other')).toBe('canary');
    expect(await who('default.test', {}, '/x')).toBe('main');
    await gh.remove('default.yaml');
  });

  it('decides HTTP/2 requests alike', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'order.test' });
    try {
      const get = async (headers: Record<string, string>) => (await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'order.test', ...headers })).headers['x-echo-name'];
      expect(await get({ 'x-canary': 'never' })).toBe('main');
      expect(await get({ 'x-canary': 'always' })).toBe('canary');
      expect(await get({ cookie: 'beta=never' })).toBe('main');
      expect(await get({})).toBe('canary');
    } finally {
      session.close();
    }
  });

  it('routes a WebSocket upgrade by the same rules', async () => {
    for (const [value, want] of [['always', 'canary'], ['never', 'main']] as const) {
      const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/chat`, { headers: { host: 'always.test', 'x-canary': value } });
      try {
        const reply = await new Promise<string>((resolve, reject) => {
          ws.once('open', () => ws.send('hi'));
          ws.once('message', (data) => resolve(String(data)));
          ws.once('error', reject);
        });
        expect(reply).toBe(`${want}:hi`);
      } finally {
        ws.terminate();
      }
    }
  });

  it.each([
    ['w10.test', 0.1],
    ['w50.test', 0.5],
    ['w333.test', 0.333],
  ])('%s: a canary share of %s holds within ±0.03 over 10,000 requests', async (host, share) => {
    const counts = { main: 0, canary: 0 };
    const deadline = Date.now() + 120_000;
    let sent = 0;
    const worker = async () => {
      while (sent < 10_000 && Date.now() < deadline) {
        sent++;
        const name = await who(host);
        if (name === 'main' || name === 'canary') counts[name]++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(counts.main + counts.canary).toBe(10_000);
    expect(Math.abs(counts.canary / 10_000 - share)).toBeLessThanOrEqual(0.03);
  }, 150_000);

  describe('live changes', () => {
    it('the canary removed: every request goes to main; the main removed: the canary is a condition and not served', async () => {
      await gh.write('live.yaml', manifest(site('main-live', 'live.test', 'main'), canary('c-live', 'live.test', { [`${A}canary-weight`]: '100' })));
      expect(await who('live.test')).toBe('canary');
      await gh.write('live.yaml', manifest(site('main-live', 'live.test', 'main')));
      for (let i = 0; i < 20; i++) expect(await who('live.test')).toBe('main');
      const before = e.canary.received.length + e.main.received.length;
      await gh.write('live.yaml', manifest(canary('c-live', 'live.test', { [`${A}canary-weight`]: '100' })));
      expect(gh.controller.conditions().map((c) => [c.code, c.ref.name])).toEqual([['GH_CANARY_NO_MAIN', 'c-live']]);
      expect((await gh.request('/', { host: 'live.test' })).status).toBe(404);
      expect(e.canary.received.length + e.main.received.length).toBe(before);
    });
  });
});
