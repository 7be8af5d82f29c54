// Consistent hashing to a subset (`upstream-hash-by-subset`; ingress-nginx's chashsubset.lua):
// the endpoints, in the endpoint table's order, are cut into subsets of `size` (the last one
// filled up from the start, so every subset has `size` endpoints when there are that many); the
// key picks a subset on a ring of subset ids, and the request goes to one of its endpoints at
// random. A key always lands on the same `size` endpoints; adding or removing endpoints reshapes
// the subsets, as in ingress-nginx. Excluded endpoints are skipped inside the subset; a subset with
// none left passes the key on to the next subset on the ring.

import type { Endpoint } from '../../core/model.ts';
import type { Balancer, PickContext, Random } from './balancer.ts';
import { hash32, HashRing, RingCache } from './consistent-hash.ts';

interface Subsets {
  readonly ring: HashRing;
  readonly members: readonly (readonly Endpoint[])[];
}

function subsets(candidates: readonly Endpoint[], size: number): Subsets {
  const count = Math.ceil(candidates.length / size);
  const members: Endpoint[][] = [];
  for (let s = 0; s < count; s++) {
    const set: Endpoint[] = [];
    // Distinct endpoints only: with fewer endpoints than `size`, one subset of them all (chashsubset.lua repeats some).
    for (let k = 0; k < Math.min(size, candidates.length); k++) set.push(candidates[(s * size + k) % candidates.length]!);
    members.push(set);
  }
  return { ring: new HashRing(members.map((_, s) => hash32(`set${s + 1}`))), members };
}

export class HashSubset implements Balancer {
  private readonly key: (ctx: PickContext) => string;
  private readonly random: Random;
  private readonly cache: RingCache<Subsets>;

  constructor(key: (ctx: PickContext) => string, size: number, random: Random = Math.random) {
    this.key = key;
    this.random = random;
    this.cache = new RingCache((candidates) => subsets(candidates, size));
  }

  pick(candidates: readonly Endpoint[], ctx: PickContext, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const { ring, members } = this.cache.for(candidates);
    const open = (s: number) => (exclude === undefined ? members[s]! : members[s]!.filter((e) => !exclude.has(e)));
    const set = ring.find(hash32(this.key(ctx)), exclude === undefined || exclude.size === 0 ? undefined : (s) => open(s).length === 0);
    if (set === -1) return undefined;
    const choices = open(set);
    return choices[Math.floor(this.random() * choices.length)];
  }

  started(): void {}

  finished(): void {}
}
