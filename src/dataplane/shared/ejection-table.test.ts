import { describe, expect, it } from 'vitest';
import { startHammers } from '../../../test/support/run-hammers.ts';
import { EjectionTable } from './ejection-table.ts';

const policy = { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 2500 };

function table(capacity = 64) {
  const clock = { now: 1_000_000 };
  const t = new EjectionTable(EjectionTable.create(capacity), 0, () => clock.now);
  return { t, clock };
}

describe('EjectionTable (passive health in shared memory)', () => {
  it('ejects on exactly the nth failure in a row; a success in between starts again', () => {
    const { t } = table();
    const k = t.key('shop/web:80', '10.0.0.1|8080');
    expect(t.failure(k, policy, () => true)).toBe(false);
    expect(t.failure(k, policy, () => true)).toBe(false);
    t.success(k);
    expect(t.entry(k)).toEqual({ failures: 0, ejections: 0, ejectedForMs: 0 });
    expect(t.failure(k, policy, () => true)).toBe(false);
    expect(t.failure(k, policy, () => true)).toBe(false);
    expect(t.version()).toBe(0);
    expect(t.failure(k, policy, () => true)).toBe(true);
    expect(t.entry(k)).toEqual({ failures: 0, ejections: 1, ejectedForMs: 1000 });
    expect(t.version()).toBe(1);
    // Another backend's endpoint of the same address is another key.
    expect(t.ejectedFor(t.key('shop/api:80', '10.0.0.1|8080'))).toBe(0);
  });

  it('ejects for base × n, capped at the max; failures while ejected do not count; a long quiet spell starts n again', () => {
    const { t, clock } = table();
    const k = t.key('b', '10.0.0.1|80');
    const fail = (n: number) => Array.from({ length: n }, () => t.failure(k, policy, () => true)).filter(Boolean).length;
    expect(fail(3)).toBe(1);
    expect(t.ejectedFor(k)).toBe(1000);
    expect(fail(10)).toBe(0);
    expect(t.entry(k)!.failures).toBe(0);
    clock.now += 1000;
    expect(t.ejectedFor(k)).toBe(0);
    expect(fail(3)).toBe(1);
    expect(t.ejectedFor(k)).toBe(2000);
    clock.now += 2000;
    expect(fail(3)).toBe(1);
    expect(t.entry(k)).toEqual({ failures: 0, ejections: 3, ejectedForMs: 2500 });
    // More than the max ejection since the last one ended: back to the base.
    clock.now += 2500 + 2501;
    expect(fail(3)).toBe(1);
    expect(t.entry(k)).toEqual({ failures: 0, ejections: 1, ejectedForMs: 1000 });
  });

  it('does not eject when the backend is at its max ejected share, and counts afresh', () => {
    const { t } = table();
    const k = t.key('b', '10.0.0.1|80');
    for (let i = 0; i < 3; i++) expect(t.failure(k, policy, () => false)).toBe(false);
    expect(t.entry(k)).toEqual({ failures: 0, ejections: 0, ejectedForMs: 0 });
  });

  it('fails open when a bucket is full of failing endpoints; memory stays fixed', () => {
    const buffer = EjectionTable.create(8);
    const t = new EjectionTable(buffer, 0, () => 1000);
    const bytes = buffer.byteLength;
    for (let i = 0; i < 8; i++) t.failure(t.key('b', `10.0.0.${i}|80`), policy, () => true);
    for (let i = 0; i < 1000; i++) t.failure(t.key('b', `flood-${i}`), policy, () => true);
    const late = t.key('b', '10.0.1.1|80');
    for (let i = 0; i < 5; i++) expect(t.failure(late, policy, () => true)).toBe(false);
    expect(t.entry(late)).toBeUndefined();
    expect(t.counters().full).toBe(1005);
    // A success frees its slot for another endpoint.
    t.success(t.key('b', '10.0.0.3|80'));
    t.failure(late, policy, () => true);
    expect(t.entry(late)!.failures).toBe(1);
    expect(buffer.byteLength).toBe(bytes);
  });

  it('is exact across threads: 4 workers failing 8 endpoints at once eject each exactly once at the threshold', async () => {
    const buffer = EjectionTable.create(64);
    // 4 × 10,000 failures over 8 endpoints: 5,000 each, the threshold.
    const job = { kind: 'eject', endpoints: 8, attempts: 10_000, threshold: 5000 } as const;
    const h = await startHammers(buffer, [job, job, job, job]);
    await h.posted();
    const t = new EjectionTable(buffer, 9);
    for (let k = 0; k < 8; k++) {
      expect(h.results[k], `endpoint ${k}`).toBe(1);
      expect(t.entry(t.key('b', `10.0.0.${k}|80`))).toMatchObject({ failures: 0, ejections: 1 });
    }
    expect(t.version()).toBe(8);
    await h.exited();
  });

  it('is exact across threads: one failure short of the threshold ejects nothing and counts every failure', async () => {
    const buffer = EjectionTable.create(64);
    const job = { kind: 'eject', endpoints: 8, attempts: 10_000, threshold: 5001 } as const;
    const h = await startHammers(buffer, [job, job, job, job]);
    await h.posted();
    const t = new EjectionTable(buffer, 9);
    for (let k = 0; k < 8; k++) expect(t.entry(t.key('b', `10.0.0.${k}|80`))).toEqual({ failures: 5000, ejections: 0, ejectedForMs: 0 });
    expect(t.version()).toBe(0);
    await h.exited();
  });
});
