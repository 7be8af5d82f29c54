// explain (observability/explain.ts) on compiled tables: the rule that matches and why, the nearer
// candidates and why not, conflicts, the ssl-redirect, the policies in pipeline order with their
// effect on this URL, and endpoints with their health; the text rendering says the same.

import { describe, expect, it } from 'vitest';
import { compile } from '../core/compile.ts';
import { resolveEndpoints } from '../core/endpoints.ts';
import { Snapshot, toKubeObject } from '../core/snapshot.ts';
import { compileOptions, defaults } from '../options.ts';
import { backendService, ingress, ingressClass } from '../../test/support/harness.ts';
import { explain, renderExplanation, type ExplainState, type Explanation } from './explain.ts';

const A = 'nginx.ingress.kubernetes.io/';

function stateOf(objects: Record<string, unknown>[], extra: Partial<ExplainState> = {}): ExplainState {
  const snapshot = new Snapshot();
  for (const o of [ingressClass('gatehouse'), ...objects]) {
    const checked = toKubeObject(o);
    if (!checked.ok) throw new Error(checked.reason);
    snapshot.upsert(checked.object);
  }
  const result = compile(snapshot, compileOptions(defaults()), 7);
  return {
    table: result.table,
    endpoints: resolveEndpoints(snapshot, result.table.backends),
    conditions: result.conditions,
    ingresses: snapshot.list('Ingress'),
    httpsRedirectPort: 443,
    active: null,
    passive: null,
    ...extra,
  };
}

function ok(e: ReturnType<typeof explain>): Explanation {
  if ('error' in e) throw new Error(e.error);
  return e;
}

const SITE = [
  ...backendService('web', 9001),
  ...backendService('api', 9002),
  ingress('site', {
    creationTimestamp: '2020-01-01T00:00:00Z',
    rules: [
      { host: 'shop.test', paths: [{ path: '/', service: 'web' }, { path: '/api', service: 'api' }, { path: '/api/v1', pathType: 'Exact', service: 'api' }] },
      { host: '*.shop.test', paths: [{ path: '/', service: 'web' }] },
      { paths: [{ path: '/', service: 'web' }] },
    ],
  }),
];

describe('explain: hosts and paths', () => {
  const state = stateOf(SITE);

  it('an exact host beats the wildcard; the longest Prefix wins, element-wise; the nearer ones say why not', () => {
    const e = ok(explain(state, 'http://SHOP.test:8080/api/v1/users?q=1'));
    expect(e.hostMatch).toMatchObject({ host: 'shop.test', kind: 'exact' });
    expect(e.route).toMatchObject({ path: '/api', match: 'Prefix', ingress: 'default/site' });
    expect(e.answer).toBe('forwarded to default/api:80 (Prefix /api)');
    const why = Object.fromEntries(e.candidates.map((c) => [`${c.match} ${c.path}`, c.why]));
    expect(why['Exact /api/v1']).toMatch(/must be exactly \/api\/v1/);
    expect(why['Prefix /']).toMatch(/\/api is longer/);
    expect(e.generation).toBe(7);
  });

  it('Prefix matches whole segments: /apis is not under /api', () => {
    const e = ok(explain(state, 'http://shop.test/apis'));
    expect(e.route).toMatchObject({ path: '/', match: 'Prefix' });
    expect(e.candidates.find((c) => c.path === '/api')!.why).toMatch(/inside a segment/);
  });

  it('a wildcard takes one label; two labels fall to the catch-all, and say why the wildcard did not match', () => {
    expect(ok(explain(state, 'http://a.shop.test/')).hostMatch).toMatchObject({ host: '*.shop.test', kind: 'wildcard' });
    const e = ok(explain(state, 'http://a.b.shop.test/'));
    expect(e.hostMatch).toMatchObject({ host: '', kind: 'catch-all' });
    expect(e.hostMatch.others.join('\n')).toMatch(/\*\.shop\.test: a wildcard matches exactly one label/);
  });

  it('the path routing sees is the normalised one; a path above the root is 400', () => {
    const e = ok(explain(state, 'http://shop.test/x/../api/%76%31'));
    expect(e.path).toBe('/api/v1');
    expect(e.route).toMatchObject({ path: '/api/v1', match: 'Exact' });
    expect(ok(explain(state, 'http://shop.test/../etc')).answer).toMatch(/^400/);
    expect(explain(state, '')).toEqual({ error: expect.stringMatching(/not a URL/) });
  });

  it('no host and no catch-all: the built-in 404', () => {
    const e = ok(explain(stateOf(SITE.slice(0, 4).concat(ingress('only', { rules: [{ host: 'a.test', paths: [{ path: '/', service: 'web' }] }] }))), 'http://b.test/'));
    expect(e.hostMatch.kind).toBe('none');
    expect(e.answer).toMatch(/^404/);
    expect(e.backend).toBeNull();
  });

  it('a route that lost a conflict is shown with its condition', () => {
    const s = stateOf([...SITE, ingress('younger', { creationTimestamp: '2030-01-01T00:00:00Z', rules: [{ host: 'shop.test', paths: [{ path: '/api', service: 'web' }] }] })]);
    const e = ok(explain(s, 'http://shop.test/api'));
    expect(e.conditions).toContainEqual(expect.objectContaining({ ingress: 'default/younger', code: 'GH_ROUTE_CONFLICT' }));
    expect(renderExplanation(e)).toMatch(/GH_ROUTE_CONFLICT default\/younger/);
  });

  it('regex mode: routes in ingress-nginx order, the first match wins and the others say so', () => {
    const s = stateOf([
      ...backendService('web', 9001),
      ingress('re', {
        annotations: { [`${A}use-regex`]: 'true' },
        rules: [{ host: 're.test', paths: [{ path: '/foo/.+', pathType: 'ImplementationSpecific', service: 'web' }, { path: '/f', pathType: 'ImplementationSpecific', service: 'web' }] }],
      }),
    ]);
    const e = ok(explain(s, 'http://re.test/FOO/bar'));
    expect(e.route).toMatchObject({ path: '/foo/.+', match: 'Regex' });
    expect(e.route!.why).toMatch(/regex mode/);
    expect(e.candidates.find((c) => c.path === '/f')!.why).toMatch(/comes first in regex order/);
  });
});

describe('explain: redirects, policies and endpoints', () => {
  it('ssl-redirect on a TLS host: plain HTTP answers 308 to https, as the worker builds it', () => {
    const s = stateOf([...backendService('web', 9001), { ...ingress('tls', { rules: [{ host: 'secure.test', paths: [{ path: '/', service: 'web' }] }] }), spec: { ingressClassName: 'gatehouse', tls: [{ hosts: ['secure.test'], secretName: 'cert' }], rules: [{ host: 'secure.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] } }]);
    const e = ok(explain(s, 'http://secure.test:80/a?b'));
    expect(e.sslRedirect.applies).toBe(true);
    expect(e.answer).toBe('308 Permanent Redirect to https://secure.test/a?b');
    expect(ok(explain(s, 'https://secure.test/a')).sslRedirect).toMatchObject({ applies: false, why: expect.stringMatching(/already https/) });
    expect(ok(explain(s, 'http://secure.test/.well-known/acme-challenge/x')).sslRedirect.why).toMatch(/ACME/);
  });

  it('policies in pipeline order, the rewrite applied to this URL, Secrets by name only', () => {
    const s = stateOf([
      ...backendService('web', 9001),
      ...backendService('next', 9003),
      ingress('app', {
        annotations: {
          [`${A}rewrite-target`]: '/$2',
          [`${A}whitelist-source-range`]: '10.0.0.0/8',
          [`${A}limit-rps`]: '5',
          [`${A}enable-cors`]: 'true',
          [`${A}auth-type`]: 'basic',
          [`${A}auth-secret`]: 'users',
          [`${A}proxy-body-size`]: '8m',
        },
        rules: [{ host: 'app.test', paths: [{ path: '/app(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'web' }] }],
      }),
      ingress('app-canary', {
        annotations: { [`${A}canary`]: 'true', [`${A}canary-by-header`]: 'X-Next', [`${A}canary-weight`]: '10' },
        rules: [{ host: 'app.test', paths: [{ path: '/app(/|$)(.*)', pathType: 'ImplementationSpecific', service: 'next' }] }],
      }),
    ]);
    const e = ok(explain(s, 'http://app.test/app/items/1?x=y'));
    expect(e.policies.map((p) => p.step)).toEqual(['access-list', 'rate-limit', 'cors', 'basic-auth', 'body-size', 'canary', 'rewrite', 'balance']);
    expect(e.policies.find((p) => p.step === 'rewrite')!.effect).toBe('upstream target /items/1?x=y');
    expect(e.policies.find((p) => p.step === 'basic-auth')!.summary).toMatch(/Secret default\/users/);
    expect(e.policies.find((p) => p.step === 'body-size')!.summary).toMatch(/8388608/);
    expect(e.policies.find((p) => p.step === 'canary')!.summary).toMatch(/header x-next .*10 of 100/);
    expect(e.canaryBackend).toMatchObject({ id: 'default/next:80', endpoints: [{ address: '127.0.0.1', port: 9003 }] });
    expect(e.answer).toMatch(/forwarded to default\/web:80 .*canary default\/next:80/);
  });

  it('client certificates come first; plain HTTP presents none and is refused under verify on', () => {
    const s = stateOf([
      ...backendService('web', 9001),
      ingress('mtls', { annotations: { [`${A}auth-tls-secret`]: 'default/ca', [`${A}auth-tls-verify-client`]: 'on', [`${A}app-root`]: '/home' }, rules: [{ host: 'm.test', paths: [{ path: '/', service: 'web' }] }] }),
    ]);
    const e = ok(explain(s, 'http://m.test/'));
    expect(e.policies.map((p) => p.step).slice(0, 2)).toEqual(['client-cert', 'redirect']);
    expect(e.policies[0]!.summary).toMatch(/Secret default\/ca/);
    expect(e.answer).toBe('400: plain HTTP presents no certificate (client-cert)');
    expect(ok(explain(s, 'https://m.test/x')).answer).toBe('forwarded to default/web:80 (Prefix /)');
  });

  it('a redirect annotation answers before the backend', () => {
    const s = stateOf([...backendService('web', 9001), ingress('r', { annotations: { [`${A}app-root`]: '/home' }, rules: [{ host: 'r.test', paths: [{ path: '/', service: 'web' }] }] })]);
    expect(ok(explain(s, 'http://r.test/')).answer).toBe('302 to http://r.test/home (redirect)');
    expect(ok(explain(s, 'http://r.test/x')).policies[0]).toMatchObject({ step: 'redirect', effect: 'does not apply to this path' });
  });

  it('endpoints: unknown offline; down by active checks, ejected by passive health, up otherwise', () => {
    const objects = [...backendService('web', [9001, 9002, 9003]), ingress('h', { rules: [{ host: 'h.test', paths: [{ path: '/', service: 'web' }] }] })];
    expect(ok(explain(stateOf(objects), 'http://h.test/')).backend!.endpoints.map((x) => x.state)).toEqual(['unknown', 'unknown', 'unknown']);
    const live = stateOf(objects, {
      active: { 'default/web:80': [{ endpoint: '127.0.0.1|9001', healthy: false, streak: 3 }, { endpoint: '127.0.0.1|9002', healthy: true, streak: 5 }] },
      passive: { 'default/web:80': [{ endpoint: '127.0.0.1|9003', failures: 5, ejections: 1, ejectedForMs: 30_000 }] },
    });
    const b = ok(explain(live, 'http://h.test/')).backend!;
    expect(b.endpoints.map((x) => `${x.port} ${x.state}`)).toEqual(['9001 down', '9002 up', '9003 ejected']);
    const text = renderExplanation(ok(explain(live, 'http://h.test/')));
    expect(text).toMatch(/127\.0\.0\.1:9001 down: active checks: 3 failed in a row/);
    expect(text).toMatch(/127\.0\.0\.1:9003 ejected: passive health: ejected for 30 s more/);
  });
});
