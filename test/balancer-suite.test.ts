// The shared suite for the Balancer interface (DESIGN.md "Testing"): the same cases run against
// every algorithm (dataplane/balancer/), then each algorithm's own distribution table: exact
// order for round robin, shares within stated bounds for the power-of-two-choices algorithms
// under simulated latencies, and the share of keys a consistent hash moves when one of N
// endpoints is removed or added. Random choices use a seeded generator, so every figure here is
// the same on every run; the bounds leave room for another seed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AffinityPolicy, Endpoint } from '../src/core/model.ts';
import type { Balancer, PickContext, Random } from '../src/dataplane/balancer/balancer.ts';
import { ConsistentHash } from '../src/dataplane/balancer/consistent-hash.ts';
import { CookieAffinity } from '../src/dataplane/balancer/cookie-affinity.ts';
import { EndpointLoads } from '../src/dataplane/balancer/endpoint-loads.ts';
import { hashKey } from '../src/dataplane/balancer/hash-key.ts';
import { HashSubset } from '../src/dataplane/balancer/hash-subset.ts';
import { LeastRequest } from '../src/dataplane/balancer/least-request.ts';
import { DECAY_MS, PeakEwma } from '../src/dataplane/balancer/peak-ewma.ts';
import { RoundRobin } from '../src/dataplane/balancer/round-robin.ts';
import { seeded } from './support/seeded-random.ts';

function endpoints(n: number, base = 1): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${base + i}`, port: 8080 }));
}

/** A request for key `k` (?k=…), with an optional Cookie header. */
function request(k: string | number = '', cookie?: string): PickContext {
  return { url: `/?k=${k}`, host: 'shop.example', clientIp: '192.0.2.1', https: false, headers: cookie === undefined ? {} : { cookie }, setCookie: null };
}

const BY_K = hashKey([{ kind: 'arg', name: 'k' }]);
const affinity = (mode: AffinityPolicy['mode']): AffinityPolicy => ({ algorithm: 'cookie', mode, canaryBehavior: 'sticky', changeOnFailure: true, cookie: { name: 'route', path: '/', conditionalSameSiteNone: false, secure: false } });

interface Clock {
  random: Random;
  now: () => number;
}

const IMPLEMENTATIONS: readonly (readonly [string, (c: Clock) => Balancer])[] = [
  ['round robin', () => new RoundRobin()],
  ['least request (P2C)', (c) => new LeastRequest(new EndpointLoads(), c.random)],
  ['peak EWMA (P2C)', (c) => new PeakEwma(new EndpointLoads(), c.random, c.now)],
  ['consistent hash', () => new ConsistentHash(BY_K)],
  ['consistent hash, subsets of 3', (c) => new HashSubset(BY_K, 3, c.random)],
  ['cookie affinity, balanced', (c) => new CookieAffinity(affinity('balanced'), 'shop/web:80', c.random)],
  ['cookie affinity, persistent', (c) => new CookieAffinity(affinity('persistent'), 'shop/web:80', c.random)],
];

const clock = (seed = 1): Clock => {
  let t = 0;
  return { random: seeded(seed), now: () => (t += 1) };
};

/** One exchange: pick, started, finished (latency 1 ms); the request's Set-Cookie is not sent back. */
function exchange(b: Balancer, list: readonly Endpoint[], ctx: PickContext, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
  const e = b.pick(list, ctx, exclude);
  if (e !== undefined) {
    b.started(e);
    b.finished(e, 1, true);
  }
  return e;
}

describe.each(IMPLEMENTATIONS)('balancer: %s', (_name, make) => {
  it('picks nothing from no endpoints', () => {
    expect(make(clock()).pick([], request('a'))).toBeUndefined();
  });

  it('picks the only endpoint, and nothing once it is excluded', () => {
    const b = make(clock());
    const [only] = endpoints(1);
    for (let i = 0; i < 5; i++) expect(exchange(b, [only!], request(i))).toBe(only);
    expect(b.pick([only!], request('a'), new Set([only!]))).toBeUndefined();
  });

  it('picks only candidates, never an excluded one, and something whenever one is left (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.boolean(), { maxLength: 12 }), fc.string({ maxLength: 8 }), fc.integer(), (n, excluded, key, seed) => {
        const b = make(clock(seed));
        const list = endpoints(n);
        const exclude = new Set(list.filter((_, i) => excluded[i] === true));
        const e = b.pick(list, request(key), exclude);
        if (exclude.size === n) expect(e).toBeUndefined();
        else {
          expect(list).toContain(e);
          expect(exclude.has(e!)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives a retry another endpoint than those tried, until none is left', () => {
    const b = make(clock());
    const list = endpoints(5);
    const ctx = request('retry');
    const tried = new Set<Endpoint>();
    for (let i = 0; i < 5; i++) {
      const e = b.pick(list, ctx, tried)!;
      expect(tried.has(e)).toBe(false);
      b.started(e);
      b.finished(e, 1, false);
      tried.add(e);
    }
    expect(b.pick(list, ctx, tried)).toBeUndefined();
  });

  it('spreads 3,000 requests (distinct keys, no cookies) over 5 equal endpoints: each gets 10-40 %', () => {
    const b = make(clock());
    const list = endpoints(5);
    const counts = new Map<Endpoint, number>();
    for (let i = 0; i < 3000; i++) {
      const e = exchange(b, list, request(`user-${i}`))!;
      counts.set(e, (counts.get(e) ?? 0) + 1);
    }
    for (const e of list) {
      const share = (counts.get(e) ?? 0) / 3000;
      expect(share, `${e.address}`).toBeGreaterThanOrEqual(0.1);
      expect(share).toBeLessThanOrEqual(0.4);
    }
  });

  it('keeps working when the endpoint list changes', () => {
    const b = make(clock());
    for (const n of [3, 5, 2, 4]) {
      const list = endpoints(n);
      for (let i = 0; i < 20; i++) expect(list).toContain(exchange(b, list, request(i)));
    }
  });
});

/** What a request's pick was, by index, for `requests` requests (the list fixed). */
function sequence(b: Balancer, list: readonly Endpoint[], requests: number, exclude?: ReadonlySet<Endpoint>): number[] {
  return Array.from({ length: requests }, () => list.indexOf(b.pick(list, request(), exclude)!));
}

describe('round robin: exact order', () => {
  it('goes through the endpoints in table order, over and over', () => {
    expect(sequence(new RoundRobin(), endpoints(3), 7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('skips an excluded endpoint and goes on after the one it chose', () => {
    const b = new RoundRobin();
    const list = endpoints(4);
    expect(sequence(b, list, 2)).toEqual([0, 1]);
    expect(sequence(b, list, 3, new Set([list[2]!]))).toEqual([3, 0, 1]);
    expect(sequence(b, list, 2)).toEqual([2, 3]);
  });

  it('keeps its place when the endpoint list changes (modulo the new length)', () => {
    const b = new RoundRobin();
    expect(sequence(b, endpoints(3), 2)).toEqual([0, 1]);
    expect(sequence(b, endpoints(2), 3)).toEqual([0, 1, 0]);
  });
});

/**
 * A simulated run in virtual time: a request every `everyMs` for `requests` requests, each
 * answered `latencyMs[i]` after it went to endpoint i. Returns each endpoint's share.
 */
function simulate(make: (c: Clock) => Balancer, latencyMs: readonly number[], requests = 10_000, everyMs = 2): number[] {
  let now = 0;
  const b = make({ random: seeded(42), now: () => now });
  const list = endpoints(latencyMs.length);
  const pending: { at: number; e: Endpoint; started: number }[] = [];
  const counts = list.map(() => 0);
  for (let r = 0; r < requests; r++) {
    now = r * everyMs;
    pending.sort((x, y) => x.at - y.at);
    while (pending.length > 0 && pending[0]!.at <= now) {
      const done = pending.shift()!;
      const saved = now;
      now = done.at;
      b.finished(done.e, done.at - done.started, true);
      now = saved;
    }
    const e = b.pick(list, request(r))!;
    b.started(e);
    const i = list.indexOf(e);
    counts[i]!++;
    pending.push({ at: now + latencyMs[i]!, e, started: now });
  }
  return counts.map((c) => c / requests);
}

describe('power of two choices under simulated latencies (10,000 requests, one every 2 ms)', () => {
  // Round robin would give each of three endpoints a third, whatever their latency.
  it('least request: an endpoint 10× slower than the other two gets under 10 % of the requests (6.7 % with this seed)', () => {
    const [fast1, fast2, slow] = simulate((c) => new LeastRequest(new EndpointLoads(), c.random), [10, 10, 100]);
    expect(slow).toBeLessThan(0.1);
    expect(Math.abs(fast1! - fast2!)).toBeLessThan(0.05);
  });

  it('least request: equal endpoints share evenly (each 30-37 %)', () => {
    for (const share of simulate((c) => new LeastRequest(new EndpointLoads(), c.random), [10, 10, 10])) {
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.37);
    }
  });

  it('peak EWMA: an endpoint 10× slower than the other two gets under 2 % of the requests (0.1 % with this seed)', () => {
    const [fast1, fast2, slow] = simulate((c) => new PeakEwma(new EndpointLoads(), c.random, c.now), [10, 10, 100]);
    expect(slow).toBeLessThan(0.02);
    expect(Math.abs(fast1! - fast2!)).toBeLessThan(0.05);
  });

  it('peak EWMA: shares follow latency (5, 10 and 20 ms: the fastest most, the slowest under 12 %; 62, 31 and 8 % with this seed)', () => {
    const [a, b, c] = simulate((k) => new PeakEwma(new EndpointLoads(), k.random, k.now), [5, 10, 20]);
    expect(a).toBeGreaterThan(b!);
    expect(b).toBeGreaterThan(c!);
    expect(c).toBeLessThan(0.12);
  });

  it('peak EWMA: an endpoint failing fast (no answer) is avoided like a slow one', () => {
    let now = 0;
    const b = new PeakEwma(new EndpointLoads(), seeded(7), () => now);
    const list = endpoints(3);
    const counts = [0, 0, 0];
    for (let r = 0; r < 3000; r++) {
      now = r * 2;
      const e = b.pick(list, request())!;
      const i = list.indexOf(e);
      counts[i]!++;
      b.started(e);
      // Endpoint 2 refuses at once; the others answer in 5 ms (reported at once: one in flight at a time).
      b.finished(e, i === 2 ? 0.2 : 5, i !== 2);
    }
    expect(counts[2]! / 3000).toBeLessThan(0.05);
  });

  it('peak EWMA: a slow endpoint left alone is tried again as its cost decays', () => {
    let now = 0;
    const b = new PeakEwma(new EndpointLoads(), seeded(3), () => now);
    const [fast, slow] = endpoints(2);
    for (const [e, ms] of [[fast!, 5], [slow!, 500]] as const) {
      b.started(e);
      b.finished(e, ms, true);
    }
    const pickSlow = () => b.pick([fast!, slow!], request()) === slow;
    expect(pickSlow()).toBe(false);
    // Fast keeps answering in 5 ms; slow's 500 ms decays toward 0 with τ = 10 s and goes below 5 within ln(100)·τ.
    let t = 0;
    while (!pickSlow() && t < 10 * DECAY_MS) {
      t += 100;
      now = t;
      b.started(fast!);
      b.finished(fast!, 5, true);
    }
    expect(t).toBeGreaterThan(DECAY_MS);
    expect(t).toBeLessThan(6 * DECAY_MS);
  });
});

describe('consistent hash: stability under endpoint change (10,000 keys)', () => {
  const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const assign = (b: Balancer, list: readonly Endpoint[]) => KEYS.map((k) => b.pick(list, request(k))!);

  it.each([5, 10, 50])('removing one of %i endpoints moves its keys alone: 1/N of them, ± 40 %', (n) => {
    const b = new ConsistentHash(BY_K);
    const list = endpoints(n);
    const before = assign(b, list);
    const removed = list[Math.floor(n / 2)]!;
    const after = assign(b, list.filter((e) => e !== removed));
    const moved = KEYS.filter((_, i) => before[i] !== after[i]);
    expect(KEYS.every((_, i) => before[i] === after[i] || before[i] === removed)).toBe(true);
    expect(moved.length / KEYS.length).toBeGreaterThan((1 / n) * 0.6);
    expect(moved.length / KEYS.length).toBeLessThan((1 / n) * 1.4);
  });

  it.each([5, 10, 50])('adding one to %i endpoints moves 1/(N+1) of the keys, ± 40 %, all to the new one', (n) => {
    const b = new ConsistentHash(BY_K);
    const list = endpoints(n);
    const before = assign(b, list);
    const added: Endpoint = { address: '10.0.1.1', port: 8080 };
    // In the middle of the list: positions shift, and nothing depends on them.
    const after = assign(b, [...list.slice(0, 2), added, ...list.slice(2)]);
    const moved = KEYS.filter((_, i) => before[i] !== after[i]);
    expect(KEYS.every((_, i) => before[i] === after[i] || after[i] === added)).toBe(true);
    expect(moved.length / KEYS.length).toBeGreaterThan((1 / (n + 1)) * 0.6);
    expect(moved.length / KEYS.length).toBeLessThan((1 / (n + 1)) * 1.4);
  });

  it('an excluded endpoint moves only its own keys (a retry, an ejection)', () => {
    const b = new ConsistentHash(BY_K);
    const list = endpoints(10);
    const before = assign(b, list);
    const out = list[3]!;
    const after = KEYS.map((k) => b.pick(list, request(k), new Set([out]))!);
    expect(KEYS.every((_, i) => (before[i] === out ? after[i] !== out : after[i] === before[i]))).toBe(true);
  });

  it('sends a key to the same endpoint from another instance (another worker, another replica) and another list object', () => {
    const list = endpoints(8);
    const a = assign(new ConsistentHash(BY_K), list);
    const b = assign(new ConsistentHash(BY_K), list.map((e) => ({ ...e })));
    expect(b.map((e) => e.address)).toEqual(a.map((e) => e.address));
  });

  it('spreads keys within ± 25 % of an equal share over 20 endpoints', () => {
    const list = endpoints(20);
    const counts = new Map<Endpoint, number>();
    for (const e of assign(new ConsistentHash(BY_K), list)) counts.set(e, (counts.get(e) ?? 0) + 1);
    for (const e of list) {
      expect(counts.get(e)! / KEYS.length).toBeGreaterThan(0.05 * 0.75);
      expect(counts.get(e)! / KEYS.length).toBeLessThan(0.05 * 1.25);
    }
  });

  it('builds a ring of 5,000 endpoints (fewer points each) and still moves about 1/N on removal', () => {
    const b = new ConsistentHash(BY_K);
    const list = endpoints(5000).map((e, i) => ({ address: `10.1.${i >> 8}.${i & 255}`, port: e.port }));
    const before = assign(b, list);
    const after = assign(b, list.slice(1));
    const moved = KEYS.filter((_, i) => before[i] !== after[i]).length;
    expect(KEYS.every((_, i) => before[i] === after[i] || before[i] === list[0])).toBe(true);
    expect(moved).toBeLessThan(20);
  });
});

describe('consistent hash to subsets: the subset size is respected', () => {
  /** The endpoints one key reaches over many requests. */
  const reach = (b: Balancer, list: readonly Endpoint[], key: string) => new Set(Array.from({ length: 300 }, () => b.pick(list, request(key))!));

  it.each([
    [7, 3, 3],
    [9, 3, 3],
    [10, 4, 4],
    [2, 3, 2],
    [5, 1, 1],
  ])('%i endpoints, subsets of %i: each key reaches exactly %i endpoints', (n, size, want) => {
    const b = new HashSubset(BY_K, size, seeded(5));
    const list = endpoints(n);
    for (let k = 0; k < 50; k++) expect(reach(b, list, `user-${k}`).size).toBe(want);
  });

  it('keeps a key on the same subset from another instance', () => {
    const list = endpoints(9);
    for (let k = 0; k < 20; k++) {
      const a = [...reach(new HashSubset(BY_K, 3, seeded(1)), list, `u${k}`)].map((e) => e.address).sort();
      const b = [...reach(new HashSubset(BY_K, 3, seeded(2)), list, `u${k}`)].map((e) => e.address).sort();
      expect(b).toEqual(a);
    }
  });

  it('goes to another member of the subset when one is excluded, and on to another subset when all are', () => {
    const b = new HashSubset(BY_K, 3, seeded(9));
    const list = endpoints(9);
    const members = [...reach(b, list, 'u1')];
    const some = new Set([members[0]!]);
    for (let i = 0; i < 50; i++) expect(members.filter((e) => e !== members[0])).toContain(b.pick(list, request('u1'), some));
    const all = new Set(members);
    const elsewhere = b.pick(list, request('u1'), all)!;
    expect(all.has(elsewhere)).toBe(false);
  });
});
