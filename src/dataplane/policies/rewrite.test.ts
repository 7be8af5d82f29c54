import { describe, expect, it } from 'vitest';
import type { RewritePolicy, Route, VirtualHost } from '../../core/model.ts';
import { normaliseUriPath } from '../../core/normalise-uri-path.ts';
import type { ProxyRequest, ProxyResponse } from '../proxy/proxy.ts';
import type { Match } from '../router/router.ts';
import { RequestContext } from './pipeline.ts';
import { rewriteStep, sslRedirectTarget, upstreamTarget } from './rewrite.ts';

/** Runs the step on a request for `url` and returns what it left for the forward. */
function run(policy: RewritePolicy, url: string) {
  const ctx = new RequestContext({} as ProxyRequest, {} as ProxyResponse, false, 'http', 'h.test', url, normaliseUriPath(url)!, '127.0.0.1');
  expect(rewriteStep(policy)(ctx)).toBe(false);
  return { target: ctx.upstreamTarget, host: ctx.upstreamHost, headers: ctx.upstreamHeaders };
}

describe('rewrite step', () => {
  it('sends the target with the groups of the route’s regex on the normalised path, query kept', () => {
    const policy = { target: '/$2', pattern: '/something(/|$)(.*)' };
    expect(run(policy, '/something/new/x?a=1&b=%2F').target).toBe('/new/x?a=1&b=%2F');
    expect(run(policy, '/SomeThing').target).toBe('/');
    expect(run(policy, '/something/./a//b/%7Ec').target).toBe('/a/b/~c');
    expect(run(policy, '/something/a%2Fb/caf%c3%a9').target).toBe('/a%2Fb/caf%C3%A9');
  });

  it('replaces the whole path, as nginx’s rewrite does, and expands missing groups to nothing', () => {
    expect(run({ target: '/new/backend' }, '/foo/bar?x').target).toBe('/new/backend?x');
    expect(run({ target: '/v2/$1/$3' }, '/api/x').target).toBe('/v2//');
    expect(run({ target: '/x/$2', pattern: '/(a)' }, '/a').target).toBe('/x/');
  });

  it('adds a leading slash to a target that starts with a group', () => {
    expect(run({ target: '$1', pattern: '/(.*)' }, '/abc').target).toBe('/abc');
    expect(run({ target: '$1', pattern: '/(.*)' }, '/').target).toBe('/');
    expect(run({ target: '$1/x', pattern: '/a(/.*)' }, '/a/bc').target).toBe('/bc/x');
  });

  it('sets X-Forwarded-Prefix (groups expanded) after any header a step before it set, and the upstream Host', () => {
    const policy = { xForwardedPrefix: '/$1', upstreamVhost: 'internal.svc:8080', pattern: '/([a-z]+)/.*' };
    expect(run(policy, '/Shop/cart')).toEqual({ target: null, host: 'internal.svc:8080', headers: ['x-forwarded-prefix', '/Shop'] });
    const ctx = new RequestContext({} as ProxyRequest, {} as ProxyResponse, false, 'http', 'h', '/a/b', '/a/b', '');
    ctx.upstreamHeaders = ['x-other', '1'];
    rewriteStep({ xForwardedPrefix: '/p' })(ctx);
    expect(ctx.upstreamHeaders).toEqual(['x-other', '1', 'x-forwarded-prefix', '/p']);
  });

  it('changes nothing for preserve-trailing-slash alone', () => {
    expect(run({ stripTrailingSlash: true }, '/a/')).toEqual({ target: null, host: null, headers: null });
  });
});

describe('upstreamTarget', () => {
  it.each([
    ['/new', '/old', '/new'],
    ['/new', '/old?', '/new'],
    ['/new', '/old?a=1&b', '/new?a=1&b'],
    ['/new', '/old?a=1#frag', '/new?a=1'],
    ['/new', '/old#frag?x', '/new'],
    ['/new', '/old?q=a b\u0001\u00e9\u20ac', '/new?q=a%20b%01%E9%E2%82%AC'],
    ['new', '/old', '/new'],
    ['', '/old', '/'],
    ['/a%', '/old', '/a%25'],
    ['/a%2', '/old', '/a%252'],
    ['/a%2F', '/old', '/a%2F'],
  ])('path %j for request %j is %j', (path, url, want) => {
    expect(upstreamTarget(path, url)).toBe(want);
  });
});

describe('sslRedirectTarget', () => {
  const route = (policies?: Route['policies']): Route => ({ path: '/', match: 'Prefix', backend: 'b', ingress: 'ns/i', sslRedirect: true, ...(policies ? { policies } : {}) });
  const host = (defaultPolicies?: VirtualHost['defaultPolicies']): VirtualHost => ({ host: 'h', routes: [], defaultBackend: null, tls: true, sslRedirect: true, ...(defaultPolicies ? { defaultPolicies } : {}) });
  const match = (r: Route | null, h: VirtualHost | null): Match => ({ backend: 'b', route: r, host: h, steps: [], series: 0 });
  const strip = { rewrite: { stripTrailingSlash: true as const } };

  it('keeps the target as sent by default (preserve-trailing-slash)', () => {
    expect(sslRedirectTarget(match(route(), host()), '/a/')).toBe('/a/');
    expect(sslRedirectTarget(match(null, null), '/')).toBe('/');
  });

  it('drops a final "/" of the target, query included, under preserve-trailing-slash: "false" (ingress-nginx)', () => {
    expect(sslRedirectTarget(match(route(strip), host()), '/a/')).toBe('/a');
    expect(sslRedirectTarget(match(route(strip), host()), '/')).toBe('');
    expect(sslRedirectTarget(match(route(strip), host()), '/a/?x=1')).toBe('/a/?x=1');
    expect(sslRedirectTarget(match(route(strip), host()), '/a?x=/')).toBe('/a?x=');
    expect(sslRedirectTarget(match(null, host(strip)), '/b/')).toBe('/b');
    expect(sslRedirectTarget(match(route(), host(strip)), '/b/')).toBe('/b/');
  });
});
