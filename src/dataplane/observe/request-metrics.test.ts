import { describe, expect, it } from 'vitest';
import { BLOCK, createMetricsBuffer, DURATION_BUCKETS, FIXED, methodIndex, MetricsReader, RequestMetrics, type RequestSample } from './request-metrics.ts';

const sample = (o: Partial<RequestSample>): RequestSample => ({ series: 2, method: 'GET', status: 200, seconds: 0.02, upstreamSeconds: 0.01, bytesIn: 10, bytesOut: 100, retries: 0, refusal: null, ...o });

describe('request metrics in shared memory', () => {
  it('sums the workers\' regions: counts by method and status class, cumulative buckets, bytes, retries, refusals', () => {
    const buffer = createMetricsBuffer(2);
    const [w0, w1] = [new RequestMetrics(buffer, 0), new RequestMetrics(buffer, 1)];
    w0.observe(sample({}));
    w1.observe(sample({ seconds: 3, upstreamSeconds: -1, status: 503, refusal: 'rate-limit' }));
    w1.observe(sample({ method: 'BREW', status: 404, retries: 2 }));
    w0.observe(sample({ series: 3, status: 99, refusal: 'access' }));
    const r = new MetricsReader(buffer);
    expect(r.requests(2, methodIndex('GET'), 1)).toBe(1);
    expect(r.requests(2, methodIndex('GET'), 4)).toBe(1);
    expect(r.requests(2, methodIndex('OTHER'), 3)).toBe(1);
    expect(r.requests(3, methodIndex('GET'), 0)).toBe(1);
    const d = r.histogram(2, BLOCK.duration);
    expect(d.buckets).toHaveLength(DURATION_BUCKETS.length + 1);
    // 0.02 s falls in le=0.025 (index 2); 3 s in le=5 (index 9).
    expect(d.buckets.slice(0, 3)).toEqual([0, 0, 2]);
    expect(d.buckets[9]).toBe(3);
    expect(d.sum).toBeCloseTo(3.04);
    expect(r.histogram(2, BLOCK.upstreamDuration).buckets.at(-1)).toBe(2);
    expect(r.counter(2, BLOCK.bytesOut)).toBe(300);
    expect(r.counter(2, BLOCK.retries)).toBe(2);
    expect(r.counter(2, BLOCK.refusedRateLimit)).toBe(1);
    expect(r.counter(3, BLOCK.refusedAccess)).toBe(1);
  });

  it('keeps a dead worker\'s counters but not its open connections', () => {
    const buffer = createMetricsBuffer(2);
    const w1 = new RequestMetrics(buffer, 1);
    w1.add(FIXED.connectionsHttp, 3);
    w1.add(FIXED.tls13);
    const r = new MetricsReader(buffer);
    expect(r.fixed('connectionsHttp')).toBe(3);
    r.releaseWorker(1);
    expect(r.fixed('connectionsHttp')).toBe(0);
    expect(r.fixed('tls13')).toBe(1);
  });
});
