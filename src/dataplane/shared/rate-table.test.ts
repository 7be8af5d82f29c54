import { describe, expect, it } from 'vitest';
import { startHammers } from '../../../test/support/run-hammers.ts';
import { BucketTable } from './bucket-table.ts';
import { nowMicros, RateTable } from './rate-table.ts';

const HOUR_US = 3_600_000_000;

describe('RateTable (GCRA in shared memory)', () => {
  it('admits burst + 1 from rest, then one per interval, as limit_req burst=… nodelay', () => {
    const t = new RateTable(RateTable.create(64), 0);
    const key = t.key('ns/ing\nrps\n', '192.0.2.1');
    const T = 100_000n; // 10 per second
    const tau = 3n * T; // burst 3
    const t0 = nowMicros();
    expect([0, 1, 2, 3, 4].map(() => t.admit(key, T, tau, t0))).toEqual([0, 0, 0, 0, Number(T)]);
    // Refused requests change nothing: one interval later exactly one more passes.
    expect(t.admit(key, T, tau, t0 + T - 1n)).toBe(1);
    expect(t.admit(key, T, tau, t0 + T)).toBe(0);
    expect(t.admit(key, T, tau, t0 + T)).toBe(Number(T));
    // Another client, another Ingress or limit: their own state.
    expect(t.admit(t.key('ns/ing\nrps\n', '192.0.2.2'), T, tau, t0)).toBe(0);
    expect(t.admit(t.key('ns/other\nrps\n', '192.0.2.1'), T, tau, t0)).toBe(0);
    // Long idle: the full burst again, never more.
    const later = t0 + 100n * T;
    expect([0, 1, 2, 3, 4].map(() => t.admit(key, T, tau, later))).toEqual([0, 0, 0, 0, Number(T)]);
  });

  it('refund takes back one admission', () => {
    const t = new RateTable(RateTable.create(64), 0);
    const key = t.key('z', 'c');
    const T = 1_000_000n;
    const now = nowMicros();
    expect(t.admit(key, T, 0n, now)).toBe(0);
    expect(t.admit(key, T, 0n, now)).toBe(Number(T));
    t.refund(key, T);
    expect(t.admit(key, T, 0n, now)).toBe(0);
  });

  it('is exact across threads: 4 workers hammering one key admit exactly burst + 1', async () => {
    const buffer = RateTable.create(1024);
    const job = { kind: 'rate', keys: 1, attempts: 20_000, intervalUs: HOUR_US, burst: 999 } as const;
    const h = await startHammers(buffer, [job, job, job, job]);
    await h.posted();
    expect(h.results[0]).toBe(1000);
    await h.exited();
  });

  it('is exact across threads for many keys at once, new keys racing into the same buckets', async () => {
    // 200 keys over 128 buckets: many share a bucket, and (almost surely) none overflows one.
    const buffer = RateTable.create(1024);
    const job = { kind: 'rate', keys: 200, attempts: 200 * 60, intervalUs: HOUR_US, burst: 19 } as const;
    const h = await startHammers(buffer, [job, job, job, job], 200);
    await h.posted();
    const admitted = Array.from(h.results.subarray(0, 200));
    // Should a bucket receive more than 8 of the keys, they evict one another and start afresh.
    const evictions = new RateTable(buffer, 0).counters().evictions;
    if (evictions === 0) expect(admitted).toEqual(new Array(200).fill(20));
    else expect(admitted.every((n) => n >= 20)).toBe(true);
    await h.exited();
  });

  it('gives a new key one slot when several workers see it first at the same moment', async () => {
    // Every worker walks the same 2000 new keys in the same order, burst 0: one admission each.
    const buffer = RateTable.create(16_384);
    const job = { kind: 'rate', keys: 2000, attempts: 2000, intervalUs: HOUR_US, burst: 0 } as const;
    const h = await startHammers(buffer, [job, job, job, job], 2000);
    await h.posted();
    expect(new RateTable(buffer, 0).counters().evictions).toBe(0);
    expect(Array.from(h.results.subarray(0, 2000)).filter((n) => n !== 1)).toEqual([]);
    await h.exited();
  });

  it('keeps memory fixed under a flood of keys: the oldest entries go, a client being limited stays', () => {
    const buffer = RateTable.create(64);
    const bytes = buffer.byteLength;
    const t = new RateTable(buffer, 0);
    const T = 1_000_000n;
    const tau = 10n * T;
    const now = nowMicros();
    // A client at its limit: its TAT is `tau` ahead, further than any new client's.
    const limited = t.key('z', '198.51.100.7');
    for (let i = 0; i < 11; i++) expect(t.admit(limited, T, tau, now)).toBe(0);
    expect(t.admit(limited, T, tau, now)).toBeGreaterThan(0);
    for (let i = 0; i < 100_000; i++) t.admit(t.key('z', `flood-${i}`), T, tau, now);
    expect(buffer.byteLength).toBe(bytes);
    expect(t.counters().evictions).toBeGreaterThan(100_000 - 64);
    // Still remembered, still refused.
    expect(t.admit(limited, T, tau, now)).toBeGreaterThan(0);
    // Entries whose TAT has passed are reused without counting an eviction.
    const before = t.counters().evictions;
    for (let i = 0; i < 1000; i++) t.admit(t.key('z', `later-${i}`), T, tau, now + 100n * T);
    expect(t.counters().evictions - before).toBeLessThan(1000);
  });

  it('frees the bucket locks of a worker that exited', () => {
    const buffer = RateTable.create(64);
    const live = new RateTable(buffer, 0);
    const key = live.key('z', 'c');
    // Worker 3 terminated between lock and unlock.
    const dead = new BucketTable(buffer, 3);
    expect(dead.lock(dead.firstSlot(key))).toBe(true);
    // Locked: an insert gives up (admits uncounted) after the wait bound.
    expect(live.admit(key, 1_000_000n, 0n, nowMicros())).toBe(0);
    expect(live.counters().lockTimeouts).toBe(1);
    live.releaseWorker(3);
    expect(live.admit(key, 1_000_000n, 0n, nowMicros())).toBe(0);
    expect(live.admit(key, 1_000_000n, 0n, nowMicros())).toBeGreaterThan(0);
  });
});
