import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../core/model.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { pickContext, Picking } from './picking.ts';
import { RoundRobin } from './round-robin.ts';

const LIST: readonly Endpoint[] = [1, 2, 3].map((i) => ({ address: `10.0.0.${i}`, port: 80 }));

/** A round robin that records what it is told. */
class Recording implements Balancer {
  readonly log: string[] = [];
  readonly excluded: number[] = [];
  private readonly rr = new RoundRobin();
  pick(c: readonly Endpoint[], ctx: PickContext, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    this.excluded.push(exclude?.size ?? 0);
    return this.rr.pick(c, ctx, exclude);
  }
  started(e: Endpoint): void {
    this.log.push(`started ${e.address}`);
  }
  finished(e: Endpoint, latencyMs: number, ok: boolean): void {
    expect(latencyMs).toBeGreaterThanOrEqual(0);
    this.log.push(`finished ${e.address} ${ok ? 'ok' : 'failed'}`);
  }
}

const ctx = (): PickContext => pickContext({ url: '/x', headers: {} }, { host: 'h', clientIp: '192.0.2.1', proto: 'http' });

/** A response's handler-set headers. */
function response(own: Record<string, string | string[]> = {}) {
  const headers = new Map(Object.entries(own));
  return { getHeader: (n: string) => headers.get(n), setHeader: (n: string, v: string | string[]) => headers.set(n, v), headers };
}

describe('Picking', () => {
  it('reports every attempt once: a retry reports the previous one failed and excludes every endpoint tried', () => {
    const b = new Recording();
    const p = new Picking(b, LIST, ctx());
    p.next();
    p.failed();
    p.next();
    p.next();
    p.answered({}, response(), 200);
    p.end(true);
    p.failed();
    expect(b.log).toEqual(['started 10.0.0.1', 'finished 10.0.0.1 failed', 'started 10.0.0.2', 'finished 10.0.0.2 failed', 'started 10.0.0.3', 'finished 10.0.0.3 ok']);
    expect(b.excluded).toEqual([0, 1, 2]);
  });

  it('once every endpoint was tried, a further attempt starts a new round over all of them (proxy-next-upstream-tries may exceed them)', () => {
    const b = new Recording();
    const p = new Picking(b, LIST.slice(0, 2), ctx());
    expect([p.next(), p.next(), p.next(), p.next()]).toEqual([LIST[0], LIST[1], LIST[0], LIST[1]]);
    // The third pick found none left (2 excluded), then picked over all; the fourth excluded the third's.
    expect(b.excluded).toEqual([0, 1, 2, 0, 1]);
    expect(new Picking(b, [], ctx()).next()).toBeUndefined();
  });

  it('reports an attempt ended by the response as failed or not, as told', () => {
    const b = new Recording();
    new Picking(b, LIST, ctx()).end(false);
    const p = new Picking(b, LIST, ctx());
    p.next();
    p.end(false);
    const q = new Picking(b, LIST, ctx());
    q.next();
    q.end(true);
    expect(b.log).toEqual(['started 10.0.0.1', 'finished 10.0.0.1 ok', 'started 10.0.0.2', 'finished 10.0.0.2 failed']);
  });

  it("adds the affinity cookie to the upstream's Set-Cookie, or to one the response already has", () => {
    const p = new Picking(new RoundRobin(), LIST, ctx());
    p.ctx.setCookie = 'route=k; Path=/; HttpOnly';
    p.next();
    const out: Record<string, string | string[] | undefined> = { 'set-cookie': ['a=1', 'b=2'] };
    p.answered(out, response(), 200);
    expect(out['set-cookie']).toEqual(['a=1', 'b=2', 'route=k; Path=/; HttpOnly']);
    const res = response({ 'set-cookie': 'policy=1' });
    const out2: Record<string, string | string[] | undefined> = {};
    p.answered(out2, res, 200);
    expect(res.headers.get('set-cookie')).toEqual(['policy=1', 'route=k; Path=/; HttpOnly']);
    expect(out2['set-cookie']).toBeUndefined();
  });

  it('builds its context from the request and what the proxy forwards', () => {
    expect(pickContext({ url: '/a?b', headers: { cookie: 'x=1' } }, { host: 'Shop.Example', clientIp: '2001:db8::1', proto: 'https' })).toEqual({
      url: '/a?b',
      host: 'Shop.Example',
      clientIp: '2001:db8::1',
      https: true,
      headers: { cookie: 'x=1' },
      setCookie: null,
    });
  });
});
