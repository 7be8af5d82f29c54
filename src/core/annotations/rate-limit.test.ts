import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Condition, RateLimitPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readIngressAnnotations } from './ingress-annotations.ts';
import { readRateLimit, type RateLimitDefaults } from './rate-limit.ts';

function ing(annotations: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations } };
}

const N = 'nginx.ingress.kubernetes.io/';
const G = 'gatehouse.io/';
const defaults: RateLimitDefaults = { reqStatus: 503, connStatus: 503 };

function policy(annotations: Record<string, unknown>, d = defaults): RateLimitPolicy | undefined {
  const r = readRateLimit(ing(annotations), d);
  if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('; '));
  return r.value;
}

const base: RateLimitPolicy = { zone: 'shop/web', rps: 0, rpm: 0, burstMultiplier: 5, connections: 0, whitelist: [], rate: 0, rateAfter: 0, reqStatus: 503, connStatus: 503 };

describe('rate-limit family', () => {
  it('is absent without annotations, or with only zeros (ingress-nginx: 0 is no limit)', () => {
    expect(policy({})).toBeUndefined();
    expect(policy({ [N + 'limit-rps']: '0', [N + 'limit-rpm']: '0', [N + 'limit-connections']: '0', [N + 'limit-rate']: '0' })).toBeUndefined();
    // Settings that only shape a limit do nothing alone.
    expect(policy({ [N + 'limit-burst-multiplier']: '2', [N + 'limit-whitelist']: '10.0.0.0/8', [N + 'limit-rate-after']: '10' })).toBeUndefined();
  });

  it('reads limit-rps, limit-rpm and limit-connections, one zone per Ingress, burst multiplier 5 by default', () => {
    expect(policy({ [N + 'limit-rps']: '5' })).toEqual({ ...base, rps: 5 });
    expect(policy({ [N + 'limit-rpm']: '300', [G + 'limit-rps']: '10', [N + 'limit-connections']: '4' })).toEqual({ ...base, rps: 10, rpm: 300, connections: 4 });
    expect(policy({ [N + 'limit-rps']: '1000000', [N + 'limit-burst-multiplier']: '0' })).toEqual({ ...base, rps: 1_000_000, burstMultiplier: 0 });
    expect(policy({ [N + 'limit-rps']: '007', [N + 'limit-burst-multiplier']: '1000' })).toEqual({ ...base, rps: 7, burstMultiplier: 1000 });
  });

  it('reads gatehouse.io/ over nginx.ingress.kubernetes.io/', () => {
    expect(policy({ [N + 'limit-rps']: '5', [G + 'limit-rps']: '7' })?.rps).toBe(7);
  });

  it('takes limit-rate and limit-rate-after in kilobytes, as ingress-nginx writes them (limit_rate <n>k)', () => {
    expect(policy({ [N + 'limit-rate']: '100' })).toEqual({ ...base, rate: 102_400 });
    expect(policy({ [N + 'limit-rate']: '100', [N + 'limit-rate-after']: '8' })).toEqual({ ...base, rate: 102_400, rateAfter: 8192 });
  });

  it('reads limit-whitelist and its newer name limit-allowlist (which wins), addresses and CIDRs, IPv4 and IPv6', () => {
    expect(policy({ [N + 'limit-rps']: '1', [N + 'limit-whitelist']: '10.0.0.0/8, 192.0.2.7,2001:db8::/32' })?.whitelist).toEqual(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
    expect(policy({ [N + 'limit-rps']: '1', [N + 'limit-whitelist']: '10.0.0.0/8', [G + 'limit-allowlist']: '::1' })?.whitelist).toEqual(['::1']);
    expect(policy({ [N + 'limit-rps']: '1', [N + 'limit-whitelist']: '' })?.whitelist).toEqual([]);
    // Without a request or connection limit the list has nothing to exempt from.
    expect(policy({ [N + 'limit-rate']: '1', [N + 'limit-whitelist']: '10.0.0.0/8' })?.whitelist).toEqual([]);
  });

  it('takes the ConfigMap\'s limit-rate and limit-rate-after where the Ingress sets none; its own win, 0 too', () => {
    const d = { ...defaults, rate: 10, rateAfter: 2 };
    expect(policy({}, d)).toEqual({ ...base, rate: 10_240, rateAfter: 2048 });
    expect(policy({ [N + 'limit-rate-after']: '0' }, d)).toEqual({ ...base, rate: 10_240 });
    expect(policy({ [N + 'limit-rate']: '0' }, d)).toBeUndefined();
    expect(policy({}, { ...defaults, rateAfter: 2 })).toBeUndefined();
  });

  it('carries limit-req-status-code and limit-conn-status-code from the defaults', () => {
    expect(policy({ [N + 'limit-connections']: '1' }, { reqStatus: 429, connStatus: 503 })).toEqual({ ...base, connections: 1, reqStatus: 429 });
  });

  it.each([
    ['limit-rps', '-1'], ['limit-rps', '1.5'], ['limit-rps', 'ten'], ['limit-rps', ''], ['limit-rps', ' 5'], ['limit-rps', '1000001'],
    ['limit-rpm', '+3'], ['limit-connections', '1e3'], ['limit-burst-multiplier', '1001'], ['limit-burst-multiplier', '-5'],
    ['limit-rate', '100k'], ['limit-rate-after', '1m'], ['limit-rate', '99999999999'],
  ])('refuses %s: %j, naming the annotation, the value and what was expected', (name, value) => {
    const annotations = { [N + 'limit-rps']: '5', [N + 'limit-rate']: '1', [N + name]: value };
    const r = readRateLimit(ing(annotations), defaults);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.key)).toEqual([N + name]);
    if (!r.ok) expect(r.problems[0]!.message).toMatch(new RegExp(`^${N}${name}: ${JSON.stringify(value).replace(/[.+]/g, '\\$&')} is not a whole number 0-\\d+$`));
  });

  it.each(['10.0.0.0/33', 'a.b.c.d', '10.0.0.0/8,,', '2001:db8::/129', '10.0.0.0/8;10.1.0.0/16'])('refuses the whitelist %j', (value) => {
    const r = readRateLimit(ing({ [N + 'limit-rps']: '1', [N + 'limit-whitelist']: value }), defaults);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([{ key: N + 'limit-whitelist', message: expect.stringMatching(/^nginx\.ingress\.kubernetes\.io\/limit-whitelist: ".*" is not an IP address or CIDR range \(expected comma-separated IP addresses and CIDR ranges\)$/) }]);
  });

  it('turns problems into GH_ANNOTATION_INVALID conditions and leaves the Ingress out', () => {
    const conditions: Condition[] = [];
    expect(readIngressAnnotations(ing({ [G + 'limit-rps']: 'fast' }), { sslRedirect: true }, conditions)).toBeNull();
    expect(conditions).toEqual([
      { ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_ANNOTATION_INVALID', field: 'metadata.annotations["gatehouse.io/limit-rps"]', message: 'gatehouse.io/limit-rps: "fast" is not a whole number 0-1000000; the Ingress is left out' },
    ]);
    expect(readIngressAnnotations(ing({ [G + 'limit-rps']: '3' }), { sslRedirect: true, limitReqStatusCode: 429 }, conditions)?.policies.rateLimit).toEqual({ ...base, rps: 3, reqStatus: 429 });
  });

  it('never throws on random values, and nothing it keeps holds a control character', () => {
    const names = ['limit-rps', 'limit-rpm', 'limit-connections', 'limit-burst-multiplier', 'limit-whitelist', 'limit-allowlist', 'limit-rate', 'limit-rate-after'];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f:./, \r\n\t-]{0,40}$/), fc.integer().map(String))), (values) => {
        const annotations = Object.fromEntries(Object.entries(values).map(([k, v]) => [N + k, v]));
        const r = readRateLimit(ing({ ...annotations, [N + 'limit-rps']: annotations[N + 'limit-rps'] ?? '1' }), defaults);
        if (r.ok && r.value !== undefined) {
          for (const entry of r.value.whitelist) expect(entry).not.toMatch(/\p{Cc}/u);
          for (const n of [r.value.rps, r.value.rpm, r.value.connections, r.value.rate, r.value.rateAfter, r.value.burstMultiplier]) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
