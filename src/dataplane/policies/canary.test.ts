import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CanaryPolicy } from '../../core/model.ts';
import type { ProxyRequest, ProxyResponse } from '../proxy/proxy.ts';
import { canaryStep } from './canary.ts';
import { RequestContext } from './pipeline.ts';

const BASE: CanaryPolicy = { backend: 'shop/canary:80', ingress: 'shop/canary', weight: 0, weightTotal: 100 };

/** Whether the step sends a request with these headers to the canary. */
function toCanary(policy: Partial<CanaryPolicy>, headers: Record<string, string | string[]> = {}): boolean {
  const ctx = new RequestContext({ method: 'GET', headers } as unknown as ProxyRequest, {} as ProxyResponse, false, 'http', 'a.test', '/', '/', '192.0.2.1');
  expect(canaryStep({ ...BASE, ...policy })(ctx)).toBe(false);
  return ctx.backend !== null;
}

describe('canary step', () => {
  afterEach(() => vi.restoreAllMocks());

  it('header with a value: equal → canary, else the next rule', () => {
    const header = { name: 'x-c', value: 'on' };
    expect(toCanary({ header }, { 'x-c': 'on' })).toBe(true);
    expect(toCanary({ header }, { 'x-c': 'always' })).toBe(false);
    expect(toCanary({ header, cookie: 'b' }, { 'x-c': 'off', cookie: 'b=always' })).toBe(true);
  });

  it('header with a pattern: a match anywhere → canary (repeated headers joined with ", ")', () => {
    const header = { name: 'x-c', pattern: 'b[0-9]' };
    expect(toCanary({ header }, { 'x-c': 'ab1c' })).toBe(true);
    expect(toCanary({ header }, { 'x-c': ['x', 'b2'] })).toBe(true);
    expect(toCanary({ header }, { 'x-c': 'B1' })).toBe(false);
  });

  it('header alone: always / never decide, over the cookie and the weight', () => {
    const header = { name: 'x-c' };
    expect(toCanary({ header, cookie: 'b', weight: 100 }, { 'x-c': 'never', cookie: 'b=always' })).toBe(false);
    expect(toCanary({ header, cookie: 'b' }, { 'x-c': 'always', cookie: 'b=never' })).toBe(true);
  });

  it('weight: math.random(total) <= weight, so 0 never and total always', () => {
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValue(0);
    expect(toCanary({ weight: 0 })).toBe(false);
    expect(toCanary({ weight: 1 })).toBe(true);
    random.mockReturnValue(0.999999);
    expect(toCanary({ weight: 99 })).toBe(false);
    expect(toCanary({ weight: 100 })).toBe(true);
    random.mockReturnValue(0.3325);
    expect(toCanary({ weight: 333, weightTotal: 1000 })).toBe(true);
    random.mockReturnValue(0.3335);
    expect(toCanary({ weight: 333, weightTotal: 1000 })).toBe(false);
  });
});
