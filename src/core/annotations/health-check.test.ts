import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { DEFAULT_PASSIVE_FAILURES, PASSIVE_FAILURES, parseDuration, readHealthCheck } from './health-check.ts';

const G = 'gatehouse.io/';
const read = (a: Record<string, string>, protocol: 'HTTP' | 'GRPC' = 'HTTP') => readHealthCheck(annotated(a), protocol);

describe('health-check family', () => {
  it('is off without health-check-path and passive-health-consecutive-failures, and under the nginx prefix (ours only)', () => {
    expect(read({})).toEqual({ ok: true, value: undefined });
    expect(read({ 'nginx.ingress.kubernetes.io/health-check-path': '/healthz' })).toEqual({ ok: true, value: undefined });
  });

  it('has the documented defaults: 10s interval, 2s timeout, 2 healthy, 3 unhealthy, 200-399; passive 30s base, 300s max, 50 %', () => {
    expect(read({ [`${G}health-check-path`]: '/healthz' })).toEqual({
      ok: true,
      value: { active: { path: '/healthz', protocol: 'HTTP', intervalMs: 10_000, timeoutMs: 2000, healthyThreshold: 2, unhealthyThreshold: 3, statusMin: 200, statusMax: 399 } },
    });
    expect(read({ [`${G}passive-health-consecutive-failures`]: '5' })).toEqual({
      ok: true,
      value: { passive: { consecutiveFailures: 5, failures: DEFAULT_PASSIVE_FAILURES, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 } },
    });
  });

  it('reads every value form', () => {
    const r = read(
      {
        [`${G}health-check-path`]: '/ready?deep=1',
        [`${G}health-check-interval`]: '500ms',
        [`${G}health-check-timeout`]: '200ms',
        [`${G}health-check-healthy-threshold`]: '1',
        [`${G}health-check-unhealthy-threshold`]: '100',
        [`${G}health-check-status`]: '204',
        [`${G}passive-health-consecutive-failures`]: '3',
        [`${G}passive-health-failures`]: 'HTTP_503 timeout  http_503',
        [`${G}passive-health-base-ejection`]: '2',
        [`${G}passive-health-max-ejection`]: '1m',
        [`${G}passive-health-max-ejection-percent`]: '100',
      },
      'GRPC',
    );
    expect(r).toEqual({
      ok: true,
      value: {
        active: { path: '/ready?deep=1', protocol: 'GRPC', intervalMs: 500, timeoutMs: 200, healthyThreshold: 1, unhealthyThreshold: 100, statusMin: 204, statusMax: 204 },
        passive: { consecutiveFailures: 3, failures: ['timeout', 'http_503'], baseEjectionMs: 2000, maxEjectionMs: 60_000, maxEjectionPercent: 100 },
      },
    });
    expect(read({ [`${G}health-check-path`]: '/', [`${G}health-check-status`]: '200-299' })).toMatchObject({ value: { active: { statusMin: 200, statusMax: 299 } } });
    expect(read({ [`${G}passive-health-consecutive-failures`]: '1', [`${G}passive-health-failures`]: PASSIVE_FAILURES.join(' ') })).toMatchObject({ value: { passive: { failures: PASSIVE_FAILURES } } });
  });

  it('parses durations: ms, s, m, bare seconds; at most 1h', () => {
    expect([parseDuration('1ms'), parseDuration('2s'), parseDuration('3m'), parseDuration(' 4 '), parseDuration('60m')]).toEqual([1, 2000, 180_000, 4000, 3_600_000]);
    expect([parseDuration('0'), parseDuration('61m'), parseDuration('1h'), parseDuration('1.5s'), parseDuration('-1'), parseDuration('')]).toEqual([null, null, null, null, null, null]);
  });

  it.each([
    ['health-check-path', 'healthz', 'an absolute path'],
    ['health-check-path', '/a b', 'an absolute path'],
    ['health-check-interval', '10x', 'a duration'],
    ['health-check-timeout', '0', 'a duration'],
    ['health-check-healthy-threshold', '0', 'a whole number 1-100'],
    ['health-check-unhealthy-threshold', '101', 'a whole number 1-100'],
    ['health-check-status', '399-200', 'a status (100-599) or a range'],
    ['health-check-status', '600', 'a status (100-599) or a range'],
  ])('refuses %s: %j, naming it', (name, value, why) => {
    expectRefused(read({ [`${G}health-check-path`]: '/h', [`${G}${name}`]: value }), `${G}${name}`, value, why);
  });

  it.each([
    ['passive-health-consecutive-failures', '0', 'a whole number 1-1000'],
    ['passive-health-failures', 'error http_404', 'failure kinds separated by spaces'],
    ['passive-health-base-ejection', '2h', 'a duration'],
    ['passive-health-max-ejection-percent', '101', 'a whole number 0-100'],
  ])('refuses %s: %j, naming it', (name, value, why) => {
    expectRefused(read({ [`${G}passive-health-consecutive-failures`]: '5', [`${G}${name}`]: value }), `${G}${name}`, value, why);
  });

  it('refuses a timeout not shorter than the interval, a max ejection under the base, and settings without the switch', () => {
    const problems = (r: ReturnType<typeof read>) => (r.ok ? [] : r.problems.map((p) => p.message));
    expect(problems(read({ [`${G}health-check-path`]: '/h', [`${G}health-check-interval`]: '1s', [`${G}health-check-timeout`]: '1s' }))).toEqual(['gatehouse.io/health-check-timeout (1000 ms) must be shorter than the interval (1000 ms)']);
    expect(problems(read({ [`${G}passive-health-consecutive-failures`]: '1', [`${G}passive-health-base-ejection`]: '10s', [`${G}passive-health-max-ejection`]: '5s' }))).toEqual(['gatehouse.io/passive-health-max-ejection (5000 ms) is shorter than the base ejection (10000 ms)']);
    expect(problems(read({ [`${G}health-check-interval`]: '5s' }))).toEqual(['gatehouse.io/health-check-interval is set without gatehouse.io/health-check-path, which turns the checks on']);
    expect(problems(read({ [`${G}passive-health-base-ejection`]: '5s' }))).toEqual(['gatehouse.io/passive-health-base-ejection is set without gatehouse.io/passive-health-consecutive-failures, which turns passive health on']);
  });

  it('an unset timeout is 2s, or half a shorter interval', () => {
    expect(read({ [`${G}health-check-path`]: '/', [`${G}health-check-interval`]: '1s' })).toMatchObject({ value: { active: { intervalMs: 1000, timeoutMs: 500 } } });
  });

  it('a base ejection past the default max raises the max to it', () => {
    expect(read({ [`${G}passive-health-consecutive-failures`]: '1', [`${G}passive-health-base-ejection`]: '10m' })).toMatchObject({ value: { passive: { baseEjectionMs: 600_000, maxEjectionMs: 600_000 } } });
  });

  it('never throws on random values and yields no control characters', () => {
    const names = ['health-check-path', 'health-check-interval', 'health-check-timeout', 'health-check-healthy-threshold', 'health-check-unhealthy-threshold', 'health-check-status'].map((n) => G + n);
    fuzzAnnotation(names, (ing) => readHealthCheck(ing, 'HTTP'), { [`${G}health-check-path`]: '/h' });
    const passive = ['passive-health-consecutive-failures', 'passive-health-failures', 'passive-health-base-ejection', 'passive-health-max-ejection', 'passive-health-max-ejection-percent'].map((n) => G + n);
    fuzzAnnotation(passive, (ing) => readHealthCheck(ing, 'HTTP'), { [`${G}passive-health-consecutive-failures`]: '2' });
  });
});
