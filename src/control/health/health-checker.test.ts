import { describe, expect, it } from 'vitest';
import type { ActiveHealthPolicy, Endpoint, EndpointTable, RouteTable } from '../../core/model.ts';
import type { ActiveHealth } from '../../dataplane/balancer/endpoint-health.ts';
import { HealthChecker, type Clock } from './health-checker.ts';

/** A clock that moves only when told; timers fire in due order. */
class FakeClock implements Clock {
  private t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  /** Moves time on by `ms`, firing each timer at its time, settling promises after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

const policy = (over: Partial<ActiveHealthPolicy> = {}): ActiveHealthPolicy => ({ path: '/healthz', protocol: 'HTTP', intervalMs: 10_000, timeoutMs: 2000, healthyThreshold: 2, unhealthyThreshold: 3, statusMin: 200, statusMax: 399, ...over });

function tables(n: number, p: ActiveHealthPolicy): { table: RouteTable; endpoints: EndpointTable } {
  const eps: Endpoint[] = Array.from({ length: n }, (_, i) => ({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8080 }));
  const table = { generation: 1, fingerprint: '', hosts: [], defaultBackend: null, tls: [], defaultCertificate: null, backends: { b: { id: 'b', namespace: 'ns', service: 's', port: 80, target: { type: 'endpoints', portName: '', targetPort: 80 }, health: { active: p } } } } as RouteTable;
  return { table, endpoints: { fingerprint: 'x', backends: { b: eps } } };
}

describe('HealthChecker (active probes on the main thread)', () => {
  it('spreads 5,000 endpoints\' probes evenly over the interval: no second has more than a small excess over its share', async () => {
    const clock = new FakeClock();
    const started: number[] = [];
    const c = new HealthChecker({ clock, onChange: () => undefined, probe: async () => (started.push(clock.now()), true), maxInFlight: 5000 });
    const { table, endpoints } = tables(5000, policy());
    c.update(table, endpoints);
    await clock.advance(10_000);
    expect(started).toHaveLength(5000);
    const perSecond = Array.from({ length: 10 }, (_, s) => started.filter((t) => t >= s * 1000 && t < (s + 1) * 1000).length);
    // 500 a second on average; a hash spreads them within a few percent.
    for (const n of perSecond) expect(Math.abs(n - 500)).toBeLessThan(100);
    // And each endpoint once per interval after that.
    await clock.advance(10_000);
    expect(started).toHaveLength(10_000);
    c.close();
  });

  it('runs at most maxInFlight probes at once; the rest wait their turn', async () => {
    const clock = new FakeClock();
    const pending: ((ok: boolean) => void)[] = [];
    let most = 0;
    const c = new HealthChecker({ clock, onChange: () => undefined, maxInFlight: 8, probe: () => new Promise<boolean>((r) => pending.push(r)) });
    c.update(...(Object.values(tables(100, policy({ intervalMs: 1000, timeoutMs: 500 }))) as [RouteTable, EndpointTable]));
    await clock.advance(999);
    most = Math.max(most, c.running());
    expect(pending).toHaveLength(8);
    for (let round = 0; round < 20 && pending.length > 0; round++) {
      for (const r of pending.splice(0)) r(true);
      await settle();
      most = Math.max(most, c.running());
    }
    expect(most).toBe(8);
    expect(c.status().b!.reduce((n, s) => n + s.probes, 0)).toBe(100);
    c.close();
  });

  it('counts thresholds exactly: 3 failures in a row take an endpoint out, 2 passes bring it back; new endpoints start healthy', async () => {
    const clock = new FakeClock();
    const results = [false, false, true, false, false, false, true, false, true, true];
    const verdicts: ActiveHealth[] = [];
    const c = new HealthChecker({ clock, onChange: (v) => verdicts.push(v), probe: async () => results.shift() ?? true });
    const { table, endpoints } = tables(1, policy());
    c.update(table, endpoints);
    expect(c.verdict().down).toEqual({});
    const states: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      await clock.advance(10_000);
      states.push(c.status().b![0]!.healthy);
    }
    //                      F     F     T     F     F     F      T      F      T      T
    expect(states).toEqual([true, true, true, true, true, false, false, false, false, true]);
    expect(verdicts.map((v) => v.down)).toEqual([{ b: ['10.0.0.0|8080'] }, {}]);
    c.close();
  });

  it('an endpoint removed while down leaves the verdict; a policy change starts its state afresh', async () => {
    const clock = new FakeClock();
    const verdicts: ActiveHealth[] = [];
    const c = new HealthChecker({ clock, onChange: (v) => verdicts.push(v), probe: async () => false });
    const p = policy({ unhealthyThreshold: 1 });
    const { table, endpoints } = tables(2, p);
    c.update(table, endpoints);
    await clock.advance(10_000);
    expect(c.verdict().down).toEqual({ b: ['10.0.0.0|8080', '10.0.0.1|8080'] });
    c.update(table, { fingerprint: 'y', backends: { b: [endpoints.backends.b![1]!] } });
    await settle();
    expect(verdicts.at(-1)!.down).toEqual({ b: ['10.0.0.1|8080'] });
    c.update(tables(2, policy({ unhealthyThreshold: 2 })).table, endpoints);
    expect(c.verdict().down).toEqual({});
    c.close();
  });
});
