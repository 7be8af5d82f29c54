import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { annotated, annotationValue, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import type { CompileOptions, Condition, ForwardPolicy, NextUpstreamCase } from '../model.ts';
import { parseConfigMapData, readGlobalConfig } from '../global-config.ts';
import { printable } from '../conditions.ts';
import { Snapshot, toKubeObject } from '../snapshot.ts';
import { DEFAULT_FORWARD_POLICY, NEXT_UPSTREAM_CASES, parseNextUpstream, parseNginxTime, readForwardPolicy, tableForwardPolicy } from './forward-policy.ts';

const N = 'nginx.ingress.kubernetes.io/';
const NAMES = ['proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout', 'proxy-next-upstream', 'proxy-next-upstream-tries', 'proxy-next-upstream-timeout'];

const read = (annotations: Record<string, string>, defaults = {}) => readForwardPolicy(annotated(annotations), defaults);
const policy = (over: Partial<ForwardPolicy>): ForwardPolicy => ({ ...DEFAULT_FORWARD_POLICY, ...over });

describe('forward-policy family: annotations', () => {
  it('has ingress-nginx\'s defaults: 5/60/60 s, "error timeout", 3 tries, no tries timeout', () => {
    expect(DEFAULT_FORWARD_POLICY).toEqual({ connectTimeoutMs: 5000, sendTimeoutMs: 60_000, readTimeoutMs: 60_000, nextUpstream: ['error', 'timeout'], tries: 3, triesTimeoutMs: 0 });
  });

  it('an Ingress without the annotations carries no policy (the table\'s applies)', () => {
    expect(read({})).toEqual({ ok: true, value: undefined });
    expect(read({ [`${N}proxy-body-size`]: '1m' })).toEqual({ ok: true, value: undefined });
  });

  it.each([
    ['proxy-connect-timeout', '10', { connectTimeoutMs: 10_000 }],
    ['proxy-send-timeout', '1', { sendTimeoutMs: 1000 }],
    ['proxy-read-timeout', '3600', { readTimeoutMs: 3_600_000 }],
    ['proxy-read-timeout', ' 120 ', { readTimeoutMs: 120_000 }],
    ['proxy-read-timeout', '2147483', { readTimeoutMs: 2_147_483_000 }],
    ['proxy-next-upstream', 'error timeout http_503', { nextUpstream: ['error', 'timeout', 'http_503'] }],
    ['proxy-next-upstream', 'http_429 http_404 http_403 http_504 http_503 http_502 http_500 invalid_header timeout error non_idempotent', { nextUpstream: NEXT_UPSTREAM_CASES }],
    ['proxy-next-upstream', 'off', { nextUpstream: [] }],
    ['proxy-next-upstream', ' OFF ', { nextUpstream: [] }],
    ['proxy-next-upstream', 'Error  Timeout', { nextUpstream: ['error', 'timeout'] }],
    ['proxy-next-upstream', 'error error', { nextUpstream: ['error'] }],
    ['proxy-next-upstream', 'non_idempotent', { nextUpstream: [] }],
    ['proxy-next-upstream', 'error non_idempotent', { nextUpstream: ['error', 'non_idempotent'] }],
    ['proxy-next-upstream-tries', '1', { tries: 1 }],
    ['proxy-next-upstream-tries', '0', { tries: 0 }],
    ['proxy-next-upstream-tries', '100', { tries: 100 }],
    ['proxy-next-upstream-timeout', '0', { triesTimeoutMs: 0 }],
    ['proxy-next-upstream-timeout', '15', { triesTimeoutMs: 15_000 }],
  ] as const)('%s: %j', (name, value, want) => {
    expect(read({ [N + name]: value })).toEqual({ ok: true, value: policy(want) });
  });

  it.each([
    ['proxy-connect-timeout', '0'], ['proxy-connect-timeout', '5s'], ['proxy-connect-timeout', '-1'], ['proxy-connect-timeout', '+5'], ['proxy-connect-timeout', '1.5'],
    ['proxy-send-timeout', ''], ['proxy-read-timeout', '2147484'], ['proxy-read-timeout', '99999999'],
    ['proxy-next-upstream-timeout', '1m'], ['proxy-next-upstream-timeout', '-1'],
  ])('refuses %s %j, naming the annotation, the value and whole seconds', (name, value) => {
    const r = read({ [N + name]: value });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.key).toBe(N + name);
    expect(r.problems[0]!.message).toMatch(new RegExp(`^${N}${name}: ${JSON.stringify(value).replace(/[+.]/g, '\\$&')} is not a whole number of seconds [01]-2147483`));
  });

  it.each(['', 'all', 'error,timeout', 'http_501', 'off error', 'error off', 'updating', 'error timeout;'])('refuses proxy-next-upstream %j, listing the cases', (value) => {
    expect(read({ [`${N}proxy-next-upstream`]: value })).toEqual({
      ok: false,
      problems: [{ key: `${N}proxy-next-upstream`, message: `${N}proxy-next-upstream: ${JSON.stringify(value)} is not cases separated by spaces (${NEXT_UPSTREAM_CASES.join(', ')}), or off` }],
    });
  });

  it.each(['-1', '101', 'three', '1.0', ''])('refuses proxy-next-upstream-tries %j', (value) => {
    expect(read({ [`${N}proxy-next-upstream-tries`]: value })).toEqual({
      ok: false,
      problems: [{ key: `${N}proxy-next-upstream-tries`, message: `${N}proxy-next-upstream-tries: ${JSON.stringify(value)} is not a whole number 0-100 (0: one try per endpoint)` }],
    });
  });

  it('reports every bad annotation at once', () => {
    const r = read({ [`${N}proxy-read-timeout`]: 'x', [`${N}proxy-next-upstream`]: 'y' });
    expect(r.ok ? [] : r.problems.map((p) => p.key)).toEqual([`${N}proxy-read-timeout`, `${N}proxy-next-upstream`]);
  });

  it('reads gatehouse.io/ over the nginx prefix', () => {
    expect(read({ [`${N}proxy-read-timeout`]: '5', 'gatehouse.io/proxy-read-timeout': '7' })).toEqual({ ok: true, value: policy({ readTimeoutMs: 7000 }) });
  });

  it('fills what the Ingress leaves out from the global defaults (ConfigMap, flags)', () => {
    const defaults = { proxyConnectTimeoutMs: 2000, proxyReadTimeoutMs: 30_000, proxyNextUpstream: ['error'] as const, proxyNextUpstreamTries: 5 };
    expect(read({ [`${N}proxy-read-timeout`]: '9' }, defaults)).toEqual({ ok: true, value: policy({ connectTimeoutMs: 2000, readTimeoutMs: 9000, nextUpstream: ['error'], tries: 5 }) });
  });

  it('retry-non-idempotent adds non_idempotent to the annotation\'s cases, not to off', () => {
    expect(read({ [`${N}proxy-next-upstream`]: 'error http_502' }, { retryNonIdempotent: true })).toEqual({ ok: true, value: policy({ nextUpstream: ['error', 'http_502', 'non_idempotent'] }) });
    expect(read({ [`${N}proxy-next-upstream`]: 'off' }, { retryNonIdempotent: true })).toEqual({ ok: true, value: policy({ nextUpstream: [] }) });
    expect(tableForwardPolicy({ retryNonIdempotent: true }).nextUpstream).toEqual(['error', 'timeout', 'non_idempotent']);
  });

  it('parses every case list to its cases in the canonical order (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...NEXT_UPSTREAM_CASES.filter((c) => c !== 'non_idempotent')), { minLength: 1 }), fc.constantFrom(' ', '  ', '\t'), (cases: NextUpstreamCase[], sep) => {
      const got = parseNextUpstream(cases.join(sep));
      expect(got).toEqual(NEXT_UPSTREAM_CASES.filter((c) => cases.includes(c)));
    }));
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    fuzzAnnotation(NAMES.flatMap((n) => [N + n, `gatehouse.io/${n}`]), (ing) => readForwardPolicy(ing, {}));
  });
});

const BASE: CompileOptions = { controllerClass: 'gatehouse.io/ingress-controller', ingressClass: 'gatehouse', watchIngressWithoutClass: false, defaultBackendService: null };

function global(data: Record<string, unknown>, options: Partial<CompileOptions> = {}) {
  const s = new Snapshot();
  const cm = toKubeObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gatehouse', namespace: 'gatehouse' }, data });
  if (cm.ok) s.upsert(cm.object);
  const conditions: Condition[] = [];
  return { ...readGlobalConfig(s, { ...BASE, configMap: 'gatehouse/gatehouse', ...options }, conditions), conditions };
}

describe('forward-policy family: ConfigMap keys and flags', () => {
  it('reads every key', () => {
    expect(parseConfigMapData({
      'proxy-connect-timeout': '2', 'proxy-send-timeout': '3', 'proxy-read-timeout': '4', 'proxy-next-upstream': 'error http_503', 'proxy-next-upstream-tries': '2',
      'proxy-next-upstream-timeout': '10', 'retry-non-idempotent': 'true', 'upstream-keepalive-connections': '0', 'upstream-keepalive-timeout': '5',
      'upstream-keepalive-requests': '100', 'upstream-keepalive-time': '30m',
    })).toEqual({
      settings: {
        proxyConnectTimeoutMs: 2000, proxySendTimeoutMs: 3000, proxyReadTimeoutMs: 4000, proxyNextUpstream: ['error', 'http_503'], proxyNextUpstreamTries: 2, proxyNextUpstreamTimeoutMs: 10_000,
        retryNonIdempotent: true, upstreamKeepaliveConnections: 0, upstreamKeepaliveTimeoutMs: 5000, upstreamKeepaliveRequests: 100, upstreamKeepaliveTimeMs: 1_800_000,
      },
      problems: [],
      unsupported: [],
    });
  });

  it.each([['1h', 3_600_000], ['90s', 90_000], ['3600', 3_600_000], ['500ms', 500], ['2d', 172_800_000], [' 10m ', 600_000]])('upstream-keepalive-time %j → %d ms (nginx time)', (v, ms) => {
    expect(parseNginxTime(v)).toBe(ms);
  });

  it.each(['', '0', '0s', '1h30m', '1.5h', '1w', '-1s', '9999999d'])('upstream-keepalive-time refuses %j', (v) => {
    expect(parseNginxTime(v)).toBeNull();
  });

  it('a refused value is a condition naming the key and what it takes; the default applies', () => {
    const { settings, problems } = parseConfigMapData({ 'proxy-read-timeout': '60s', 'proxy-next-upstream': 'sometimes', 'upstream-keepalive-requests': '0', 'upstream-keepalive-connections': '-1' });
    expect(settings).toEqual({});
    expect(problems).toEqual([
      { key: 'proxy-read-timeout', message: '"60s" is not a whole number of seconds 1-2147483; the default 60 (or --proxy-read-timeout) applies' },
      { key: 'proxy-next-upstream', message: `"sometimes" is not cases separated by spaces (${NEXT_UPSTREAM_CASES.join(', ')}), or off; the default "error timeout" applies` },
      { key: 'upstream-keepalive-connections', message: '"-1" is not a whole number 0-1000000000 (0: no keep-alive); the default 320 applies' },
      { key: 'upstream-keepalive-requests', message: '"0" is not a whole number 1-1000000000; the default 10000 applies' },
    ]);
  });

  it('the table carries no forward or keepalive policy at ingress-nginx\'s defaults', () => {
    expect(global({}).policy).toBeUndefined();
    expect(global({ 'proxy-read-timeout': '60', 'upstream-keepalive-connections': '320' }).policy).toBeUndefined();
  });

  it('ConfigMap keys over the flags; the table\'s policy and the annotation defaults follow them', () => {
    const flags = { proxyConnectTimeoutMs: 1000, proxyReadTimeoutMs: 2000, proxySendTimeoutMs: 3000 };
    expect(global({}, flags).policy).toEqual({ forward: policy({ connectTimeoutMs: 1000, readTimeoutMs: 2000, sendTimeoutMs: 3000 }) });
    const got = global({ 'proxy-read-timeout': '7', 'proxy-next-upstream': 'off', 'upstream-keepalive-timeout': '5' }, flags);
    expect(got.policy).toEqual({
      forward: policy({ connectTimeoutMs: 1000, readTimeoutMs: 7000, sendTimeoutMs: 3000, nextUpstream: [] }),
      upstreamKeepalive: { connections: 320, timeoutMs: 5000, requests: 10_000, timeMs: 3_600_000 },
    });
    expect(got.options).toMatchObject({ proxyReadTimeoutMs: 7000, proxyConnectTimeoutMs: 1000, proxyNextUpstream: [] });
    expect(got.conditions).toEqual([]);
  });

  it('random ConfigMap values for these keys never throw and yield no control characters (fast-check)', () => {
    const keys = ['proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout', 'proxy-next-upstream', 'proxy-next-upstream-tries', 'proxy-next-upstream-timeout', 'retry-non-idempotent', 'upstream-keepalive-connections', 'upstream-keepalive-timeout', 'upstream-keepalive-requests', 'upstream-keepalive-time'];
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...keys), annotationValue), (data) => {
      const r = parseConfigMapData(data);
      expect(r.unsupported).toEqual([]);
      for (const text of [...r.problems.map((p) => printable(p.message)), ...Object.values(r.settings).flat().filter((v) => typeof v === 'string')]) {
        expect([...text].some((c) => c < ' ' || c === '\x7f'), JSON.stringify(text)).toBe(false);
      }
    }), { numRuns: 1000 });
  });
});
