// Consistent hashing (`upstream-hash-by`; ingress-nginx's chash, lua-resty-chash): a ring of
// points, POINTS per endpoint, each endpoint's points derived from its address and port alone; a
// request's key is hashed onto the ring and served by the owner of the next point. Adding or
// removing one of N endpoints adds or removes only its own points, so only the keys that land on
// them move: about 1/N of the keys, and every other key stays where it was. The ring depends only
// on the endpoint list, so every worker and replica sends a key to the same endpoint.
//
// An excluded endpoint (tried by an earlier try, or down: health checks, ejections) is skipped by walking on to the next point
// of another owner: its keys spread over the others, and nobody else's key moves.

import type { Endpoint } from '../../core/model.ts';
import type { Balancer, PickContext } from './balancer.ts';

/** Points per endpoint (lua-resty-chash: 160 per unit of weight), fewer past MAX_POINTS in all. */
const POINTS = 160;
const MIN_POINTS = 16;
/** Above this many points in all, fewer per endpoint: building a ring of 5,000 endpoints stays in milliseconds. */
const MAX_POINTS = 131_072;
/** Owner indices take the low 21 bits of a sort key (hash × 2^21 + owner, exact in a double). */
const OWNER_BITS = 2 ** 21;

/** The finaliser of MurmurHash3 (fmix32): every input bit flips about half the output bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a string: FNV-1a over its UTF-16 code units, then fmix32. Not cryptographic. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/** A ring over `seeds.length` owners (owner i's points derive from seeds[i]). */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: Int32Array;
  readonly size: number;

  constructor(seeds: readonly number[]) {
    this.size = seeds.length;
    const per = Math.max(MIN_POINTS, Math.min(POINTS, Math.floor(MAX_POINTS / Math.max(1, seeds.length))));
    const keys = new Float64Array(seeds.length * per);
    let k = 0;
    // Point j of an owner is the same whatever the other owners, and whatever `per` is: a change
    // of `per` (the owner count crossing a threshold) moves only the keys of the points added or dropped.
    for (let i = 0; i < seeds.length && i < OWNER_BITS; i++) {
      for (let j = 0; j < per; j++) keys[k++] = fmix32((seeds[i]! + Math.imul(j + 1, 0x9e3779b9)) | 0) * OWNER_BITS + i;
    }
    keys.sort();
    this.points = new Uint32Array(keys.length);
    this.owners = new Int32Array(keys.length);
    for (let p = 0; p < keys.length; p++) {
      const owner = keys[p]! % OWNER_BITS;
      this.owners[p] = owner;
      this.points[p] = (keys[p]! - owner) / OWNER_BITS;
    }
  }

  /** The owner of the first point at or after `hash` (wrapping) that `skip` does not refuse; -1 when it refuses all. */
  find(hash: number, skip?: (owner: number) => boolean): number {
    const n = this.points.length;
    if (n === 0) return -1;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    if (skip === undefined) return this.owners[lo % n]!;
    for (let k = 0; k < n; k++) {
      const owner = this.owners[(lo + k) % n]!;
      if (!skip(owner)) return owner;
    }
    return -1;
  }
}

/** Each endpoint's seed: its address and port, nothing that depends on the other endpoints. */
export function endpointSeeds(candidates: readonly Endpoint[]): number[] {
  return candidates.map((e) => hash32(`${e.address} ${e.port}`));
}

/** A ring per endpoint list, rebuilt when the list (the endpoint table's array) changes. */
export class RingCache<T> {
  private list: readonly Endpoint[] | null = null;
  private value: T | null = null;
  private readonly build: (candidates: readonly Endpoint[]) => T;

  constructor(build: (candidates: readonly Endpoint[]) => T) {
    this.build = build;
  }

  for(candidates: readonly Endpoint[]): T {
    if (this.list !== candidates) {
      this.value = this.build(candidates);
      this.list = candidates;
    }
    return this.value!;
  }
}

export class ConsistentHash implements Balancer {
  private readonly key: (ctx: PickContext) => string;
  private readonly rings = new RingCache((candidates) => new HashRing(endpointSeeds(candidates)));

  constructor(key: (ctx: PickContext) => string) {
    this.key = key;
  }

  pick(candidates: readonly Endpoint[], ctx: PickContext, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const ring = this.rings.for(candidates);
    const skip = exclude === undefined || exclude.size === 0 ? undefined : (i: number) => exclude.has(candidates[i]!);
    const owner = ring.find(hash32(this.key(ctx)), skip);
    return owner === -1 ? undefined : candidates[owner];
  }

  started(): void {}

  finished(): void {}
}
