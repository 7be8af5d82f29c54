import { describe, expect, it } from 'vitest';
import { startHammers } from '../../../test/support/run-hammers.ts';
import { ConnectionTable, REFUSED, UNCOUNTED } from './connection-table.ts';

describe('ConnectionTable (concurrent requests in shared memory)', () => {
  it('counts requests in up to the limit and out on release, per key', () => {
    const t = new ConnectionTable(ConnectionTable.create(1, 64), 0);
    const a = t.key('ns/ing\nconn\n', '192.0.2.1');
    const b = t.key('ns/ing\nconn\n', '192.0.2.2');
    const s1 = t.acquire(a, 2);
    const s2 = t.acquire(a, 2);
    expect(s1).toBeGreaterThanOrEqual(0);
    expect(s2).toBe(s1);
    expect(t.acquire(a, 2)).toBe(REFUSED);
    expect(t.acquire(b, 2)).toBeGreaterThanOrEqual(0);
    t.release(s1);
    expect(t.count(a)).toBe(1);
    expect(t.acquire(a, 2)).toBe(s1);
    expect(t.acquire(a, 2)).toBe(REFUSED);
  });

  it('is exact across threads: 4 workers acquiring and releasing never have more than the limit in progress', async () => {
    const buffer = ConnectionTable.create(4, 64);
    const job = { kind: 'churn', attempts: 20_000, limit: 3 } as const;
    const h = await startHammers(buffer, [job, job, job, job]);
    await h.posted();
    // The most in progress at once never passed the limit.
    expect(h.results[1]).toBeGreaterThan(0);
    expect(h.results[1]).toBeLessThanOrEqual(3);
    expect(h.results[0]).toBe(0);
    const t = new ConnectionTable(buffer, 0);
    expect(t.count(t.key('zone\nconn\n', '10.0.0.1'))).toBe(0);
    await h.exited();
  });

  it('is exact across threads: 4 workers grabbing at once get exactly the limit between them, and give it all back', async () => {
    const buffer = ConnectionTable.create(4, 64);
    const job = { kind: 'hold', attempts: 20_000, limit: 30_011 } as const;
    const h = await startHammers(buffer, [job, job, job, job]);
    await h.posted('holding');
    const t = new ConnectionTable(buffer, 0);
    const key = t.key('zone\nconn\n', '10.0.0.1');
    expect(h.results[0]).toBe(30_011);
    expect(t.count(key)).toBe(30_011);
    h.releaseHolds();
    await h.posted();
    expect(t.count(key)).toBe(0);
    await h.exited();
  });

  it('counts out the requests of a worker that exited while holding them', async () => {
    const buffer = ConnectionTable.create(4, 64);
    const h = await startHammers(buffer, [
      { kind: 'hold', attempts: 5, limit: 10, exitHolding: true },
      { kind: 'hold', attempts: 3, limit: 10, exitHolding: true },
    ]);
    await h.exited();
    const t = new ConnectionTable(buffer, 2);
    const key = t.key('zone\nconn\n', '10.0.0.1');
    expect(t.count(key)).toBe(8);
    t.releaseWorker(0);
    expect(t.count(key)).toBe(3);
    t.releaseWorker(1);
    expect(t.count(key)).toBe(0);
  });

  it('admits uncounted (fail-open), and counts it, when every slot of the bucket is in use; memory stays fixed', () => {
    // One bucket of 8 slots.
    const buffer = ConnectionTable.create(1, 8);
    const bytes = buffer.byteLength;
    const t = new ConnectionTable(buffer, 0);
    const slots = Array.from({ length: 8 }, (_, i) => t.acquire(t.key('z', `c${i}`), 1));
    expect(new Set(slots).size).toBe(8);
    const ninth = t.key('z', 'c8');
    expect(t.acquire(ninth, 1)).toBe(UNCOUNTED);
    expect(t.counters().full).toBe(1);
    // A client with no request in progress frees its slot for another.
    t.release(slots[3]!);
    expect(t.acquire(ninth, 1)).toBe(slots[3]);
    expect(t.acquire(ninth, 1)).toBe(REFUSED);
    for (let i = 0; i < 10_000; i++) {
      const s = t.acquire(t.key('z', `flood-${i}`), 1);
      if (s >= 0) t.release(s);
    }
    expect(buffer.byteLength).toBe(bytes);
  });
});
