import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/harness.ts';
import { DEFAULT_UPSTREAM_KEEPALIVE } from '../../core/annotations/forward-policy.ts';
import { UpstreamPools } from './upstream-pools.ts';

const A = { address: '10.0.0.1', port: 80 };
const B = { address: '10.0.0.2', port: 80 };
const tick = () => new Promise((r) => setImmediate(r));

describe('UpstreamPools', () => {
  it('one pool per endpoint and connect timeout, kept', () => {
    const pools = new UpstreamPools();
    expect(pools.get(A, null, 5000)).toBe(pools.get(A, null, 5000));
    expect(pools.get(A, null, 1000)).not.toBe(pools.get(A, null, 5000));
    expect(pools.get(B, null, 5000)).not.toBe(pools.get(A, null, 5000));
  });

  it('closes the pools of endpoints gone and of connect timeouts no route uses', async () => {
    const pools = new UpstreamPools();
    const a = pools.get(A, null, 5000);
    const a1 = pools.get(A, null, 1000);
    const b = pools.get(B, null, 5000);
    pools.retain(new Set(['10.0.0.1:80']), { tls: new Set(), connectTimeouts: new Set([5000]) });
    await tick();
    expect([a.closed, a1.closed, b.closed]).toEqual([false, true, true]);
    expect(pools.get(A, null, 5000)).toBe(a);
  });

  it('a pool for an endpoint the table no longer has (a retry from before the change) serves once and closes', async () => {
    const pools = new UpstreamPools();
    pools.retain(new Set(['10.0.0.1:80']));
    const b = pools.get(B, null, 5000);
    expect(pools.get(B, null, 5000)).not.toBe(b);
    await tick();
    expect(b.closed).toBe(true);
  });

  it('new upstream-keepalive-* settings close every pool; new ones follow them', async () => {
    const pools = new UpstreamPools();
    const a = pools.get(A, null, 5000);
    pools.configure(DEFAULT_UPSTREAM_KEEPALIVE);
    expect(pools.get(A, null, 5000)).toBe(a);
    pools.configure({ ...DEFAULT_UPSTREAM_KEEPALIVE, connections: 1 });
    await tick();
    expect(a.closed).toBe(true);
    expect(pools.get(A, null, 5000)).not.toBe(a);
    await pools.close();
  });

  it('upstream-keepalive-time: a pool that old is closed and replaced, so that no connection serves longer', async () => {
    const pools = new UpstreamPools();
    pools.configure({ ...DEFAULT_UPSTREAM_KEEPALIVE, timeMs: 1000 });
    const a = pools.get(A, null, 5000);
    const born = performance.now();
    await waitFor('the pool retired', () => a.closed, 5000);
    // Not before its time (less the tick, 100 ms here): timers never fire early.
    expect(performance.now() - born).toBeGreaterThanOrEqual(800);
    const next = pools.get(A, null, 5000);
    expect(next).not.toBe(a);
    expect(next.closed).toBe(false);
    await pools.close();
  });
});
