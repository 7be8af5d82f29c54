import fc from 'fast-check';
import { printable } from './conditions.ts';
import { describe, expect, it } from 'vitest';
import type { CompileOptions, Condition } from './model.ts';
import { parseConfigMapData, parseHeaderData, readGlobalConfig } from './global-config.ts';
import { Snapshot, toKubeObject } from './snapshot.ts';

const BASE: CompileOptions = { controllerClass: 'gatehouse.io/ingress-controller', ingressClass: 'gatehouse', watchIngressWithoutClass: false, defaultBackendService: null };

function snapshotOf(...configMaps: { ns?: string; name: string; data?: unknown }[]): Snapshot {
  const s = new Snapshot();
  for (const c of configMaps) {
    const checked = toKubeObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: c.name, namespace: c.ns ?? 'gatehouse' }, ...(c.data === undefined ? {} : { data: c.data }) });
    if (!checked.ok) throw new Error(checked.reason);
    s.upsert(checked.object);
  }
  return s;
}

function read(data: unknown, extra: { name: string; ns?: string; data?: unknown }[] = [], options: Partial<CompileOptions> = {}) {
  const conditions: Condition[] = [];
  const got = readGlobalConfig(snapshotOf({ name: 'gatehouse', data }, ...extra), { ...BASE, configMap: 'gatehouse/gatehouse', ...options }, conditions);
  return { ...got, conditions };
}

describe('parseConfigMapData: every key, every accepted form', () => {
  it('an empty or missing data is no setting at all', () => {
    expect(parseConfigMapData(undefined)).toEqual({ settings: {}, problems: [], unsupported: [] });
    expect(parseConfigMapData({})).toEqual({ settings: {}, problems: [], unsupported: [] });
  });

  it.each(['true', 'True', 'TRUE', 't', 'T', '1'])('booleans as Go strconv.ParseBool reads them: %s', (v) => {
    expect(parseConfigMapData({ 'use-proxy-protocol': v, 'use-forwarded-headers': v, 'enable-real-ip': v, 'compute-full-forwarded-for': v }).settings)
      .toEqual({ useProxyProtocol: true, useForwardedHeaders: true, enableRealIp: true, computeFullForwardedFor: true });
  });

  it.each(['false', 'False', 'FALSE', 'f', 'F', '0'])('and false: %s', (v) => {
    expect(parseConfigMapData({ 'use-forwarded-headers': v }).settings).toEqual({ useForwardedHeaders: false });
  });

  it('an empty value is the default (as if absent); surrounding spaces are ignored', () => {
    expect(parseConfigMapData({ 'use-forwarded-headers': '', 'proxy-body-size': '  ', 'limit-req-status-code': ' 429 ' }).settings).toEqual({ limitReqStatusCode: 429 });
  });

  it('a value that is not a string (a hand-written manifest) reads as its JSON text', () => {
    expect(parseConfigMapData({ 'use-forwarded-headers': true, 'limit-conn-status-code': 429 }).settings).toEqual({ useForwardedHeaders: true, limitConnStatusCode: 429 });
  });

  it.each([
    ['5s', 5000], ['500ms', 500], ['1m', 60_000], ['1.5s', 1500], ['1ms', 1], ['60m', 3_600_000],
  ])('proxy-protocol-header-timeout %s → %d ms', (v, ms) => {
    expect(parseConfigMapData({ 'proxy-protocol-header-timeout': v }).settings).toEqual({ proxyProtocolHeaderTimeoutMs: ms });
  });

  it.each([
    ['X-Forwarded-For', 'x-forwarded-for'], ['CF-Connecting-IP', 'cf-connecting-ip'], ['True-Client-IP', 'true-client-ip'],
  ])('forwarded-for-header %s, lower-cased', (v, want) => {
    expect(parseConfigMapData({ 'forwarded-for-header': v }).settings).toEqual({ forwardedForHeader: want });
  });

  it.each([
    ['10.0.0.0/8', ['10.0.0.0/8']],
    ['10.1.2.3/8, 192.168.0.0/16,2001:DB8::/32', ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32']],
    ['192.0.2.7', ['192.0.2.7/32']],
    ['10.0.0.0/8,,10.0.0.0/8,', ['10.0.0.0/8']],
    ['0.0.0.0/0,::/0', ['0.0.0.0/0', '::/0']],
    ['', []],
    [',', []],
  ])('proxy-real-ip-cidr %j, normalised (empty: no peer trusted)', (v, want) => {
    expect(parseConfigMapData({ 'proxy-real-ip-cidr': v }).settings).toEqual({ proxyRealIpCidr: want });
  });

  it.each([
    ['0', 0], ['1024', 1024], ['8k', 8192], ['8K', 8192], ['1m', 1_048_576], ['10M', 10_485_760], ['1g', 1_073_741_824],
  ])('proxy-body-size %s → %d bytes', (v, n) => {
    expect(parseConfigMapData({ 'proxy-body-size': v }).settings).toEqual({ proxyBodySize: n });
  });

  it('limit-req-status-code and limit-conn-status-code: 400-599', () => {
    expect(parseConfigMapData({ 'limit-req-status-code': '429', 'limit-conn-status-code': '503' }).settings).toEqual({ limitReqStatusCode: 429, limitConnStatusCode: 503 });
  });

  it('add-headers and proxy-set-headers name ConfigMaps as namespace/name', () => {
    expect(parseConfigMapData({ 'add-headers': 'ns/resp', 'proxy-set-headers': 'ns/req.v1' }).settings).toEqual({ addHeaders: 'ns/resp', proxySetHeaders: 'ns/req.v1' });
  });

  it('global-allowed-response-headers: header names, lower-cased, empty entries skipped', () => {
    expect(parseConfigMapData({ 'global-allowed-response-headers': 'My-Custom-Header, X-Frame-Options,,x-frame-options' }).settings).toEqual({ allowedResponseHeaders: ['my-custom-header', 'x-frame-options'] });
    expect(parseConfigMapData({ 'global-allowed-response-headers': '' }).settings).toEqual({});
  });

  it.each([
    ['whitelist-source-range', 'whitelistSourceRange'],
    ['denylist-source-range', 'denylistSourceRange'],
  ])('%s: addresses and CIDR ranges, normalised; empty: no list', (key, field) => {
    expect(parseConfigMapData({ [key]: '10.1.2.3/8, 192.0.2.7,2001:DB8::/32' }).settings).toEqual({ [field]: ['10.0.0.0/8', '192.0.2.7/32', '2001:db8::/32'] });
    expect(parseConfigMapData({ [key]: '' }).settings).toEqual({});
    expect(parseConfigMapData({ [key]: ' , ' }).settings).toEqual({});
  });

  it('limit-rate and limit-rate-after: whole kilobytes, as the annotations', () => {
    expect(parseConfigMapData({ 'limit-rate': '100', 'limit-rate-after': '0' }).settings).toEqual({ limitRate: 100, limitRateAfter: 0 });
  });

  it('load-balance: an algorithm of its own (round_robin, ewma, least_request)', () => {
    expect(parseConfigMapData({ 'load-balance': 'ewma' }).settings).toEqual({ loadBalance: 'ewma' });
    expect(parseConfigMapData({ 'load-balance': ' least_request ' }).settings).toEqual({ loadBalance: 'least_request' });
    expect(parseConfigMapData({ 'load-balance': 'round_robin' }).settings).toEqual({ loadBalance: 'round_robin' });
  });

  it('custom-http-errors: statuses 300-599 (ingress-nginx filterErrors); service-upstream: a boolean', () => {
    expect(parseConfigMapData({ 'custom-http-errors': '503, 404,302', 'service-upstream': 'true' }).settings).toEqual({ customHttpErrors: [302, 404, 503], serviceUpstream: true });
    const bad = parseConfigMapData({ 'custom-http-errors': '404,200' });
    expect(bad.settings).toEqual({});
    expect(bad.problems).toEqual([{ key: 'custom-http-errors', message: '"404,200" is not a comma-separated list of HTTP status codes 300-599; the default none applies' }]);
  });

  it('forwarded-for-proxy-protocol-header is accepted and not needed; other keys are listed as unsupported, sorted', () => {
    // enable-cors is an annotation only: ingress-nginx's ConfigMap has no CORS key.
    const r = parseConfigMapData({ 'forwarded-for-proxy-protocol-header': 'X-Foo', 'ssl-protocols': 'TLSv1.3', 'use-forwarded-header': 'true', 'allow-snippet-annotations': 'false', 'enable-cors': 'true' });
    expect(r.settings).toEqual({});
    expect(r.problems).toEqual([]);
    expect(r.unsupported).toEqual(['allow-snippet-annotations', 'enable-cors', 'ssl-protocols', 'use-forwarded-header']);
  });
});

describe('parseConfigMapData: refusals name the key, the value and what was expected', () => {
  it.each([
    ['use-proxy-protocol', 'yes', /^"yes" is not a boolean \("true" or "false"\); the default false/],
    ['use-forwarded-headers', 'on', /^"on" is not a boolean/],
    ['proxy-protocol-header-timeout', '5', /^"5" is not a duration above 0 and at most 1h/],
    ['proxy-protocol-header-timeout', '0s', /is not a duration/],
    ['proxy-protocol-header-timeout', '2h', /is not a duration/],
    ['forwarded-for-header', 'X Forwarded', /^"X Forwarded" is not a header name \(RFC 9110 token\); the default X-Forwarded-For applies$/],
    ['forwarded-for-header', 'X-A:b', /is not a header name/],
    ['proxy-real-ip-cidr', '10.0.0.0/33', /^"10.0.0.0\/33" is not a comma-separated list of IP addresses and CIDR ranges; the default 0.0.0.0\/0 applies$/],
    ['proxy-real-ip-cidr', '10.0.0.0/8, lb.example.com', /is not a comma-separated list/],
    ['proxy-body-size', '1.5m', /^"1.5m" is not a size/],
    ['proxy-body-size', '1t', /is not a size/],
    ['proxy-body-size', '-1', /is not a size/],
    ['limit-req-status-code', '200', /^"200" is not an HTTP status code 400-599; the default 503 \(or --limit-req-status-code\) applies$/],
    ['limit-conn-status-code', '0x1F7', /is not an HTTP status code/],
    ['add-headers', 'just-a-name', /^"just-a-name" is not a ConfigMap as namespace\/name/],
    ['proxy-set-headers', 'NS/Upper', /is not a ConfigMap as namespace\/name/],
    ['global-allowed-response-headers', 'X-A, X B', /^"X-A, X B" is not a comma-separated list of header names \(RFC 9110 tokens\); the default none applies$/],
    ['limit-rate', '100k', /^"100k" is not a whole number 0-1000000000; the default 0 \(none\) applies$/],
    ['limit-rate-after', '-1', /is not a whole number/],
    ['load-balance', 'chash', /^"chash" is not a load-balancing algorithm \("round_robin", "ewma", "least_request"\); the default round_robin applies$/],
    ['load-balance', 'EWMA', /is not a load-balancing algorithm/],
  ])('%s: %j', (key, value, message) => {
    const r = parseConfigMapData({ 'use-forwarded-headers': 'true', [key]: value });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.key).toBe(key);
    expect(r.problems[0]!.message).toMatch(message);
    // The rest of the ConfigMap still applies.
    expect(r.settings.useForwardedHeaders).toBe(key === 'use-forwarded-headers' ? undefined : true);
  });

  it.each([
    ['whitelist-source-range', 'whitelistSourceRange', [], 'without an allow list'],
    ['denylist-source-range', 'denylistSourceRange', ['0.0.0.0/0', '::/0'], 'without a deny list'],
  ])('%s refused fails closed: every client is refused where it applies', (key, field, closed, where) => {
    const r = parseConfigMapData({ [key]: '10.0.0.0/8, 10.0.0.0/33' });
    expect(r.settings).toEqual({ [field]: closed });
    expect(r.problems).toEqual([{ key, message: `"10.0.0.0/8, 10.0.0.0/33" is not a comma-separated list of IP addresses and CIDR ranges; every client is refused (403) on routes ${where} of their own until it is fixed` }]);
  });

  it('data that is not a mapping is one problem, and no setting', () => {
    expect(parseConfigMapData(['a'])).toEqual({ settings: {}, problems: [{ key: '', message: 'data is not a mapping; the defaults apply' }], unsupported: [] });
  });

  it('a long value is cut in the message', () => {
    const r = parseConfigMapData({ 'proxy-body-size': 'x'.repeat(5000) });
    expect(r.problems[0]!.message.length).toBeLessThan(300);
  });
});

describe('parseHeaderData', () => {
  it('names lower-cased, sorted, values trimmed; a request header with an empty value is kept (it removes the header)', () => {
    expect(parseHeaderData({ 'X-Using-Gatehouse': 'true', 'A-First': ' a b ', 'X-Empty': '' }, 'request')).toEqual({
      headers: ['a-first', 'a b', 'x-empty', '', 'x-using-gatehouse', 'true'],
      problems: [],
    });
  });

  it('takes what ingress-nginx\'s custom-headers example sets (Content-Type) and common security headers', () => {
    expect(parseHeaderData({ 'Content-Type': 'application/json', 'X-Frame-Options': 'DENY', 'Strict-Transport-Security': 'max-age=60' }, 'response').headers)
      .toEqual(['content-type', 'application/json', 'strict-transport-security', 'max-age=60', 'x-frame-options', 'DENY']);
  });

  it.each([
    ['Bad Name', 'v', /is not a header name/],
    ['Connection', 'close', /belongs to the connection or its framing/],
    ['Transfer-Encoding', 'chunked', /belongs to the connection or its framing/],
    ['Content-Length', '0', /belongs to the connection or its framing/],
    ['Host', 'evil.test', /is set by upstream-vhost/],
    ['X-Forwarded-For', '1.2.3.4', /is set by the proxy from the connection/],
    ['x-forwarded-proto', 'https', /is set by the proxy from the connection/],
    ['X-Real-IP', '1.2.3.4', /is set by the proxy from the connection/],
    ['X-Bad-Value', 'a\r\nInjected: 1', /is not printable ASCII and tabs/],
    ['X-Nul', 'a\u0000b', /is not printable ASCII and tabs/],
    ['X-Wide', 'ü€', /is not printable ASCII and tabs/],
    ['X-Long', 'a'.repeat(5000), /of at most 4096 characters/],
    ['X-Request-Start', 't=${msec}', /nginx variable .* which Gatehouse does not expand/],
    ['X-Client', '$remote_addr', /nginx variable/],
  ])('refuses %j', (name, value, message) => {
    const r = parseHeaderData({ [name]: value, 'X-Good': 'yes' }, 'request');
    expect(r.headers).toEqual(['x-good', 'yes']);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.key).toBe(name);
    expect(r.problems[0]!.message).toMatch(message);
    expect(r.problems[0]!.message).toMatch(new RegExp(`^header ${JSON.stringify(name).replace(/[$]/g, '\\$')} `));
  });

  it('literal: a $ is itself (custom-headers, where ingress-nginx escapes it), other rules alike', () => {
    expect(parseHeaderData({ 'X-Client': '$remote_addr', 'X-T': 't=${msec}' }, 'response', true)).toEqual({ headers: ['x-client', '$remote_addr', 'x-t', 't=${msec}'], problems: [] });
    expect(parseHeaderData({ Connection: 'close' }, 'response', true).problems).toHaveLength(1);
  });

  it('in add-headers, Host and the forwarding headers are headers like others (only requests compute them)', () => {
    expect(parseHeaderData({ 'X-Forwarded-Proto': 'https', Host: 'a' }, 'response')).toEqual({ headers: ['host', 'a', 'x-forwarded-proto', 'https'], problems: [] });
  });

  it('refuses an empty response header value, and a name set twice in another case', () => {
    expect(parseHeaderData({ 'X-Empty': '' }, 'response').problems[0]!.message).toMatch(/empty value/);
    const twice = parseHeaderData({ 'X-A': '1', 'x-a': '2' }, 'response');
    expect(twice.headers).toEqual(['x-a', '1']);
    expect(twice.problems[0]).toMatchObject({ key: 'x-a', message: expect.stringMatching(/set twice/) });
  });

  it('a literal $ that is no nginx variable is taken', () => {
    expect(parseHeaderData({ 'X-Price': '5$ or $5' }, 'response').headers).toEqual(['x-price', '5$ or $5']);
  });
});

describe('readGlobalConfig', () => {
  it('without --configmap: no policy, no condition, options as given (use-proxy-protocol from the flag)', () => {
    const conditions: Condition[] = [];
    expect(readGlobalConfig(new Snapshot(), BASE, conditions)).toEqual({ options: BASE, policy: undefined, configMaps: [] });
    const pp = readGlobalConfig(new Snapshot(), { ...BASE, useProxyProtocol: true }, conditions);
    expect(pp.policy).toEqual({ proxyProtocol: { headerTimeoutMs: 5000 }, realIp: { trusted: ['0.0.0.0/0'], header: null, forwardedHeaders: false, fullForwardedFor: false } });
    expect(conditions).toEqual([]);
  });

  it('a missing ConfigMap is a condition on it, and the defaults', () => {
    const conditions: Condition[] = [];
    const got = readGlobalConfig(new Snapshot(), { ...BASE, configMap: 'gatehouse/gatehouse' }, conditions);
    expect(got.policy).toBeUndefined();
    expect(conditions).toEqual([{ ref: { kind: 'ConfigMap', namespace: 'gatehouse', name: 'gatehouse' }, code: 'GH_CONFIGMAP_NOT_FOUND', field: '', message: 'ConfigMap gatehouse/gatehouse (--configmap) does not exist; the defaults apply until it does' }]);
  });

  it('use-forwarded-headers: X-Forwarded-For from 0.0.0.0/0 by default; compute-full-forwarded-for only with it', () => {
    expect(read({ 'use-forwarded-headers': 'true' }).policy).toEqual({ realIp: { trusted: ['0.0.0.0/0'], header: 'x-forwarded-for', forwardedHeaders: true, fullForwardedFor: false } });
    expect(read({ 'use-forwarded-headers': 'true', 'compute-full-forwarded-for': 'true', 'forwarded-for-header': 'CF-Connecting-IP', 'proxy-real-ip-cidr': '10.0.0.0/8' }).policy)
      .toEqual({ realIp: { trusted: ['10.0.0.0/8'], header: 'cf-connecting-ip', forwardedHeaders: true, fullForwardedFor: true } });
    expect(read({ 'compute-full-forwarded-for': 'true' }).policy).toBeUndefined();
  });

  it('generate-request-id: true by default (no policy); "false" is carried to the workers', () => {
    expect(read({ 'generate-request-id': 'true' }).policy).toBeUndefined();
    expect(read({ 'generate-request-id': 'false' }).policy).toEqual({ generateRequestId: false });
    expect(parseConfigMapData({ 'generate-request-id': 'maybe' }).problems).toHaveLength(1);
  });

  it('enable-real-ip alone reads forwarded-for-header without passing X-Forwarded-*; with use-proxy-protocol the PROXY header alone', () => {
    expect(read({ 'enable-real-ip': 'true' }).policy).toEqual({ realIp: { trusted: ['0.0.0.0/0'], header: 'x-forwarded-for', forwardedHeaders: false, fullForwardedFor: false } });
    expect(read({ 'enable-real-ip': 'true', 'use-proxy-protocol': 'true', 'proxy-protocol-header-timeout': '2s' }).policy)
      .toEqual({ proxyProtocol: { headerTimeoutMs: 2000 }, realIp: { trusted: ['0.0.0.0/0'], header: null, forwardedHeaders: false, fullForwardedFor: false } });
  });

  it('use-proxy-protocol in the ConfigMap overrides the flag either way', () => {
    expect(read({ 'use-proxy-protocol': 'false' }, [], { useProxyProtocol: true }).policy).toBeUndefined();
    expect(read({ 'use-proxy-protocol': 'true' }, [], { useProxyProtocol: false }).policy?.proxyProtocol).toEqual({ headerTimeoutMs: 5000 });
    expect(read({}, [], { useProxyProtocol: true }).policy?.proxyProtocol).toEqual({ headerTimeoutMs: 5000 });
  });

  it('the family defaults go into the compile options; absent keys leave the options as they were', () => {
    expect(read({ 'proxy-body-size': '8k', 'limit-req-status-code': '429', 'limit-conn-status-code': '429' }).options)
      .toEqual({ ...BASE, configMap: 'gatehouse/gatehouse', proxyBodySize: 8192, limitReqStatusCode: 429, limitConnStatusCode: 429 });
    expect(read({ 'limit-rate': '10', 'limit-rate-after': '5', 'whitelist-source-range': '10.0.0.0/8', 'denylist-source-range': '10.9.0.0/16', 'global-allowed-response-headers': 'X-A' }).options)
      .toEqual({ ...BASE, configMap: 'gatehouse/gatehouse', limitRate: 10, limitRateAfter: 5, whitelistSourceRange: ['10.0.0.0/8'], denylistSourceRange: ['10.9.0.0/16'], allowedResponseHeaders: ['x-a'] });
    expect(read({}, [], { proxyBodySize: 5 }).options.proxyBodySize).toBe(5);
  });

  it('bad values are conditions naming the key on the ConfigMap; unknown keys one condition; the rest applies', () => {
    const { policy, conditions } = read({ 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': 'nope', 'limit-req-status-code': '99', 'ssl-protocols': 'TLSv1.3', 'hsts': 'true' });
    expect(policy?.realIp?.trusted).toEqual(['0.0.0.0/0']);
    expect(conditions.map((c) => [c.ref.kind, c.ref.name, c.code, c.field])).toEqual([
      ['ConfigMap', 'gatehouse', 'GH_CONFIGMAP_KEY_INVALID', 'data["proxy-real-ip-cidr"]'],
      ['ConfigMap', 'gatehouse', 'GH_CONFIGMAP_KEY_INVALID', 'data["limit-req-status-code"]'],
      ['ConfigMap', 'gatehouse', 'GH_CONFIGMAP_KEY_UNSUPPORTED', 'data'],
    ]);
    expect(conditions[2]!.message).toBe('Gatehouse does not read "hsts", "ssl-protocols"; they have no effect');
  });

  it('add-headers and proxy-set-headers: the named ConfigMaps\' data; bad entries are conditions on that ConfigMap, the others apply', () => {
    const { policy, conditions, configMaps } = read({ 'add-headers': 'web/resp', 'proxy-set-headers': 'web/req' }, [
      { ns: 'web', name: 'resp', data: { 'X-Frame-Options': 'DENY', Connection: 'close' } },
      { ns: 'web', name: 'req', data: { 'X-Team': 'web', 'X-Drop': '' } },
    ]);
    expect(policy).toEqual({ requestHeaders: ['x-drop', '', 'x-team', 'web'], responseHeaders: ['x-frame-options', 'DENY'] });
    expect(configMaps).toEqual(['web/req', 'web/resp']);
    expect(conditions).toEqual([{
      ref: { kind: 'ConfigMap', namespace: 'web', name: 'resp' }, code: 'GH_CONFIGMAP_KEY_INVALID', field: 'data["Connection"]',
      message: 'header "Connection" belongs to the connection or its framing; it is left out (add-headers of ConfigMap gatehouse/gatehouse)',
    }]);
  });

  it('a header ConfigMap that does not exist is a condition on the key, and is still watched', () => {
    const { policy, conditions, configMaps } = read({ 'proxy-set-headers': 'web/req' });
    expect(policy).toBeUndefined();
    expect(configMaps).toEqual(['web/req']);
    expect(conditions.map((c) => [c.code, c.field, c.message])).toEqual([['GH_CONFIGMAP_NOT_FOUND', 'data["proxy-set-headers"]', 'names ConfigMap web/req, which does not exist; no headers are set until it does']]);
  });
});

describe('property: random ConfigMap data never throws, and nothing unescaped comes out', () => {
  const KEYS = ['use-proxy-protocol', 'proxy-protocol-header-timeout', 'use-forwarded-headers', 'enable-real-ip', 'forwarded-for-header', 'compute-full-forwarded-for', 'proxy-real-ip-cidr', 'proxy-body-size', 'limit-req-status-code', 'limit-conn-status-code', 'add-headers', 'proxy-set-headers', 'global-allowed-response-headers', 'whitelist-source-range', 'denylist-source-range', 'limit-rate', 'limit-rate-after', 'load-balance'];
  const value = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('true', '5s', '10.0.0.0/8', '1m', '429', 'ns/name', 'X-Forwarded-For'), fc.integer(), fc.boolean(), fc.constant(null));
  // Control characters but HTAB (a header value may hold one); header text also nothing above 0xff (Node refuses it).
  const control = (s: string) => [...s].some((c) => (c < ' ' && c !== '\t') || c === '\x7f');
  const headerText = (s: string) => !control(s) && [...s].every((c) => c.charCodeAt(0) <= 0xff);

  it('parseConfigMapData', () => {
    fc.assert(fc.property(fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string()), value), (data) => {
      const r = parseConfigMapData(data);
      for (const v of Object.values(r.settings)) for (const s of [v].flat()) if (typeof s === 'string') expect(control(s), JSON.stringify(s)).toBe(false);
      for (const p of r.problems) expect(control(printable(p.message)), p.message).toBe(false); // as conditions carry it
    }), { numRuns: 500 });
  });

  it('parseHeaderData, both directions, literal or not', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), value), fc.constantFrom('request' as const, 'response' as const), fc.boolean(), (data, direction, literal) => {
      const r = parseHeaderData(data, direction, literal);
      for (const s of r.headers) expect(headerText(s), JSON.stringify(s)).toBe(true);
      for (let i = 0; i < r.headers.length; i += 2) expect(r.headers[i]).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
      for (const p of r.problems) expect(control(printable(p.message)), p.message).toBe(false); // as conditions carry it
    }), { numRuns: 500 });
  });
});
