import { describe, expect, it } from 'vitest';
import { addResponseCookies, downstreamResponseHeaders, dropHandlerHeaders, mergeVary, overrideFlatHeaders, overrideH2Headers, requestHeaderSet, upstreamH2RequestHeaders, upstreamRequestHeaders, upstreamRequestHeadersFromH2 } from './headers.ts';

const fwd = { clientIp: '10.1.2.3', forwardedFor: '10.1.2.3', proto: 'https' as const, host: 'a.test', port: 8443 };

describe('upstreamH2RequestHeaders', () => {
  it('from HTTP/2: pseudo-headers rebuilt, :authority kept, forwarding headers replaced, cookie crumbs kept', () => {
    const h = upstreamH2RequestHeaders(
      { method: 'POST', url: '/svc/Method?x', rawHeaders: [':method', 'POST', ':path', '/svc/Method?x', ':scheme', 'https', ':authority', 'a.test', 'content-type', 'application/grpc', 'te', 'trailers', 'cookie', 'a=1', 'cookie', 'b=2', 'x-forwarded-for', '6.6.6.6', 'grpc-timeout', '1S'] },
      true, undefined, 'http', fwd, false,
    );
    expect(h).toEqual({
      ':method': 'POST', ':scheme': 'http', ':path': '/svc/Method?x', ':authority': 'a.test',
      'content-type': 'application/grpc', cookie: ['a=1', 'b=2'], 'grpc-timeout': '1S', te: 'trailers',
      'x-forwarded-for': '10.1.2.3', 'x-real-ip': '10.1.2.3', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.test', 'x-forwarded-port': '8443',
    });
  });

  it('from HTTP/1.1: Host becomes :authority, hop-by-hop and Connection-named headers dropped, names lower-cased', () => {
    const h = upstreamH2RequestHeaders(
      { method: 'GET', url: '/', rawHeaders: ['Host', 'a.test:8080', 'Connection', 'keep-alive, X-Drop', 'X-Drop', '1', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'X-Keep', 'yes', 'TE', 'gzip'] },
      false, 'keep-alive, X-Drop', 'https', fwd, false,
    );
    expect(h[':authority']).toBe('a.test:8080');
    expect(h[':scheme']).toBe('https');
    expect(h['x-keep']).toBe('yes');
    for (const gone of ['host', 'connection', 'x-drop', 'keep-alive', 'transfer-encoding', 'upgrade', 'te']) expect(h[gone]).toBeUndefined();
  });

  it('te: trailers for gRPC backends whatever the client sent; only "trailers" ever goes (RFC 9113 §8.2.2)', () => {
    const raw = { method: 'POST', url: '/', rawHeaders: ['host', 'a.test'] };
    expect(upstreamH2RequestHeaders(raw, false, undefined, 'http', fwd, true).te).toBe('trailers');
    expect(upstreamH2RequestHeaders({ ...raw, rawHeaders: ['host', 'a.test', 'te', 'trailers, deflate;q=0.5'] }, false, undefined, 'http', fwd, false).te).toBe('trailers');
    expect(upstreamH2RequestHeaders({ ...raw, rawHeaders: ['host', 'a.test', 'te', 'deflate'] }, false, undefined, 'http', fwd, false).te).toBeUndefined();
  });
});

describe('overrideFlatHeaders and overrideH2Headers', () => {
  const none = { upstreamTarget: null, upstreamHost: null, upstreamHeaders: null };

  it('sets Host first and replaces same-named headers, whatever their case', () => {
    const flat = ['Host', 'a.test', 'X-Keep', '1', 'X-Set', 'old', 'x-set', 'older'];
    expect(overrideFlatHeaders(flat, { ...none, upstreamHost: 'b.internal', upstreamHeaders: ['x-set', 'new', 'x-add', 'y'] })).toEqual(['host', 'b.internal', 'X-Keep', '1', 'x-set', 'new', 'x-add', 'y']);
    expect(overrideFlatHeaders(flat, none)).toEqual(flat);
  });

  it("drops the client's headers named in upstreamRemoved, whatever their case, a header a step sets still going out", () => {
    expect(overrideFlatHeaders(['Host', 'a.test', 'Authorization', 'Basic eDp5', 'X-Keep', '1'], { ...none, upstreamRemoved: ['authorization'] })).toEqual(['Host', 'a.test', 'X-Keep', '1']);
    const flat = ['Host', 'a.test', 'X-Auth-Request-Email', 'spoofed', 'X-Keep', '1'];
    expect(overrideFlatHeaders(flat, { ...none, upstreamRemoved: ['x-auth-request-email', 'x-later'], upstreamHeaders: ['x-later', 'set'] })).toEqual(['Host', 'a.test', 'X-Keep', '1', 'x-later', 'set']);
    expect(overrideH2Headers({ ':path': '/', 'x-auth-request-email': 'spoofed', 'x-later': 'c' }, { ...none, upstreamRemoved: ['x-auth-request-email', 'x-later'], upstreamHeaders: ['x-later', 'set'] })).toEqual({ ':path': '/', 'x-later': 'set' });
  });

  it("adds responseCookies to the upstream's answer on add_header's statuses, or always; after a policy's own Set-Cookie", () => {
    const res = (own?: string) => {
      const h: Record<string, string | string[]> = own === undefined ? {} : { 'set-cookie': own };
      return { h, getHeaderNames: () => Object.keys(h), getHeader: (n: string) => h[n], setHeader: (n: string, v: string | string[]) => void (h[n] = v) };
    };
    const over = (always: boolean) => ({ ...none, responseCookies: { values: ['a=1', 'b=2'], always } });
    const out: Record<string, string | string[] | undefined> = { 'set-cookie': 'up=1' };
    addResponseCookies(out, res(), 200, over(false));
    expect(out['set-cookie']).toEqual(['up=1', 'a=1', 'b=2']);
    const err: Record<string, string | string[] | undefined> = {};
    addResponseCookies(err, res(), 503, over(false));
    expect(err['set-cookie']).toBeUndefined();
    addResponseCookies(err, res(), 503, over(true));
    expect(err['set-cookie']).toEqual(['a=1', 'b=2']);
    const policy = res('own=1');
    addResponseCookies({}, policy, 204, over(false));
    expect(policy.h['set-cookie']).toEqual(['own=1', 'a=1', 'b=2']);
  });

  it('sets :path, :authority and headers of an HTTP/2 upstream request', () => {
    const h = overrideH2Headers({ ':path': '/a', ':authority': 'a.test', 'x-set': 'old' }, { upstreamTarget: '/b?q', upstreamHost: 'b.internal', upstreamHeaders: ['x-set', 'new'] });
    expect(h).toEqual({ ':path': '/b?q', ':authority': 'b.internal', 'x-set': 'new' });
  });
});

describe('forwarding headers and proxy-set-headers', () => {
  const set = requestHeaderSet(['proxy', '', 'x-team', 'web']);
  const withSet = { ...fwd, forwardedFor: '198.51.100.1, 10.1.2.3', setHeaders: set };

  it('X-Forwarded-For is forwardedFor, X-Real-IP the client; set headers replace the client\'s, an empty one removes it', () => {
    const raw = ['Host', 'a.test', 'Proxy', 'http://evil', 'X-Team', 'spoofed', 'x-team', 'again', 'X-Keep', '1'];
    expect(upstreamRequestHeaders(raw, undefined, withSet)).toEqual([
      'Host', 'a.test', 'X-Keep', '1',
      'x-forwarded-for', '198.51.100.1, 10.1.2.3', 'x-real-ip', '10.1.2.3', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'a.test', 'x-forwarded-port', '8443',
      'x-team', 'web',
    ]);
    const fromH2 = upstreamRequestHeadersFromH2([':authority', 'a.test', 'proxy', 'x', 'x-team', 'spoofed', 'cookie', 'a=1'], withSet);
    expect(fromH2.filter((_, i) => i % 2 === 0)).toEqual(['host', 'cookie', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-team']);
    expect(fromH2[fromH2.length - 1]).toBe('web');
    const h2 = upstreamH2RequestHeaders({ method: 'GET', url: '/', rawHeaders: ['host', 'a.test', 'proxy', 'x', 'x-team', 'spoofed'] }, false, undefined, 'http', withSet, false);
    expect(h2).toMatchObject({ 'x-team': 'web', 'x-forwarded-for': '198.51.100.1, 10.1.2.3', 'x-real-ip': '10.1.2.3' });
    expect(h2.proxy).toBeUndefined();
  });

  it('a set cookie replaces the client\'s crumbs', () => {
    const cookieSet = { ...fwd, setHeaders: requestHeaderSet(['cookie', 'k=v']) };
    const out = upstreamRequestHeadersFromH2([':authority', 'a.test', 'cookie', 'a=1', 'cookie', 'b=2'], cookieSet);
    expect(out.filter((v) => v.includes('='))).toEqual(['k=v']);
  });
});

describe('response headers the handler set', () => {
  it('mergeVary: each element once, ignoring case, first spelling kept; `*` wins', () => {
    expect(mergeVary('Accept-Encoding', 'Origin')).toBe('Accept-Encoding, Origin');
    expect(mergeVary(['accept-encoding, Cookie', 'origin'], 'Origin')).toBe('accept-encoding, Cookie, origin');
    expect(mergeVary(undefined, ' Origin ')).toBe('Origin');
    expect(mergeVary('*', 'Origin')).toBe('*');
    expect(mergeVary(', ,', 'Origin')).toBe('Origin');
  });

  it('dropHandlerHeaders: the handler\'s win, except Vary, which is merged with the upstream\'s', () => {
    const set: Record<string, string> = { vary: 'Origin', 'x-frame-options': 'DENY' };
    const res = { getHeaderNames: () => Object.keys(set), getHeader: (n: string) => set[n], setHeader: (n: string, v: string) => void (set[n] = v) };
    const out: Record<string, string | string[] | undefined> = { vary: 'Accept-Encoding', 'x-frame-options': 'SAMEORIGIN', 'content-type': 'text/plain' };
    dropHandlerHeaders(out, res);
    expect(out).toEqual({ 'content-type': 'text/plain' });
    expect(set).toEqual({ vary: 'Accept-Encoding, Origin', 'x-frame-options': 'DENY' });
    // No Vary upstream: the handler's stands as it is.
    const only: Record<string, string | string[] | undefined> = {};
    dropHandlerHeaders(only, res);
    expect(set.vary).toBe('Accept-Encoding, Origin');
  });

  it('downstreamResponseHeaders: a copy without hop-by-hop headers, those named in Connection, or the handler\'s (Vary merged)', () => {
    const set: Record<string, string> = { vary: 'Origin', 'x-frame-options': 'DENY' };
    const res = { getHeaderNames: () => Object.keys(set), getHeader: (n: string) => set[n], setHeader: (n: string, v: string) => void (set[n] = v) };
    const upstream = { connection: 'keep-alive, X-Hop', 'keep-alive': 'timeout=5', 'x-hop': '1', 'transfer-encoding': 'chunked', vary: 'Accept-Encoding', 'x-frame-options': 'SAMEORIGIN', 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] };
    const out = downstreamResponseHeaders(upstream, res);
    expect(out).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
    expect(upstream['x-hop']).toBe('1');
    expect(set).toEqual({ vary: 'Accept-Encoding, Origin', 'x-frame-options': 'DENY' });
    const none = { getHeaderNames: () => [], getHeader: () => undefined, setHeader: () => undefined };
    expect(downstreamResponseHeaders({ connection: 'keep-alive', 'keep-alive': 'timeout=5', vary: 'Origin', upgrade: 'h2c' }, none)).toEqual({ vary: 'Origin' });
    expect(downstreamResponseHeaders({ connection: 'close', date: 'x' })).toEqual({ date: 'x' });
  });
});
