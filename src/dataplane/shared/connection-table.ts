// The connection table of limit-connections, shared by every worker of the pool (one
// SharedArrayBuffer, bucket-table.ts): per key, the requests of that client on that Ingress in
// progress now, whichever worker has them.
//
// Each slot's state is one 32-bit word, updated with compareExchange in a loop: 12 bits of slot
// version (bumped whenever the slot changes key) and a 20-bit count (0xfffff: being rewritten).
// acquire() counts a request in unless the count is at the limit and returns its slot; the
// request's release(slot) counts it out, once, when its response closes. A slot with a count
// keeps its key, so the release needs no lookup.
//
// Besides the count, each worker keeps its own share per slot (`held`): when a worker dies with
// requests in flight, the main thread takes its shares back out of the counts (releaseWorker), so
// a crash leaks no connection slot.
//
// Eviction: only a slot whose count is 0 is free for another key. When every slot of a key's
// bucket is held by other clients with requests in progress, the request is admitted uncounted
// (fail-open) and counted in `full`. Deliberately: refusing it instead (as nginx's limit_conn does
// when its zone is exhausted) would let whoever holds many addresses deny service to every other
// client whose bucket they fill, while admitting it only gives that one request what a client with
// many addresses already has. Memory is fixed: `capacity` slots of 12 bytes, plus 4 per worker.

import { BucketTable, HEADER, SLOTS_PER_BUCKET } from './bucket-table.ts';

/** 16384 slots: clients with limited requests in progress at the same moment, with room. */
export const CONNECTION_TABLE_CAPACITY = 16_384;

// Counts up to 1048574: limit-connections takes at most 1000000 (core/annotations/rate-limit.ts).
const COUNT_BITS = 20;
const COUNT_MASK = (1 << COUNT_BITS) - 1;
const BUSY = COUNT_MASK;

/** acquire(): over the limit. */
export const REFUSED = -1;
/** acquire(): admitted without being counted (the bucket was full, or its lock not had). */
export const UNCOUNTED = -2;
const RETRY = -3;

function state(version: number, count: number): number {
  return ((version & 0xfff) << COUNT_BITS) | count;
}

export class ConnectionTable {
  private readonly t: BucketTable;
  private readonly states: Int32Array;
  /** Per worker, per slot: how many of the slot's count are that worker's. */
  private readonly held: Int32Array;
  private readonly mine: number;

  static create(workers: number, capacity = CONNECTION_TABLE_CAPACITY): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(BucketTable.bytes(capacity) + capacity * 4 * (1 + workers));
    BucketTable.init(buffer, capacity, workers);
    return buffer;
  }

  /** `owner`: this worker's index, 0 ≤ owner < the table's workers. */
  constructor(buffer: SharedArrayBuffer, owner: number) {
    this.t = new BucketTable(buffer, owner);
    this.states = new Int32Array(buffer, this.t.end, this.t.capacity);
    this.held = new Int32Array(buffer, this.t.end + this.t.capacity * 4, this.t.capacity * this.t.workers);
    this.mine = owner * this.t.capacity;
  }

  key(prefix: string, client: string): number {
    return this.t.key(prefix, client);
  }

  /** Counts one request of `key` in unless `limit` are in progress: its slot, REFUSED or UNCOUNTED. */
  acquire(key: number, limit: number): number {
    const first = this.t.firstSlot(key);
    for (;;) {
      let slot = -1;
      let s = 0;
      for (let i = first; i < first + SLOTS_PER_BUCKET; i++) {
        // The state before the key (see rate-table.ts find()).
        s = Atomics.load(this.states, i);
        if ((s & COUNT_MASK) !== BUSY && this.t.holds(i, key)) {
          slot = i;
          break;
        }
      }
      if (slot === -1) {
        const r = this.insert(first, key);
        if (r === RETRY) continue;
        return r;
      }
      if ((s & COUNT_MASK) >= limit) return REFUSED;
      if (Atomics.compareExchange(this.states, slot, s, s + 1) === s) {
        Atomics.add(this.held, this.mine + slot, 1);
        return slot;
      }
    }
  }

  /** Counts out one request that acquire() counted in at `slot`. */
  release(slot: number): void {
    Atomics.sub(this.held, this.mine + slot, 1);
    this.subtract(slot, 1);
  }

  /** Takes the requests of a worker that exited out of the counts, and frees its locks (main thread). */
  releaseWorker(owner: number): void {
    this.t.releaseLocks(owner);
    for (let slot = 0; slot < this.t.capacity; slot++) {
      const n = Atomics.exchange(this.held, owner * this.t.capacity + slot, 0);
      if (n > 0) this.subtract(slot, n);
    }
  }

  /** The count at the slot holding `key` (tests). */
  count(key: number): number {
    const first = this.t.firstSlot(key);
    for (let i = first; i < first + SLOTS_PER_BUCKET; i++) {
      const c = Atomics.load(this.states, i) & COUNT_MASK;
      if (c !== BUSY && this.t.holds(i, key)) return c;
    }
    return 0;
  }

  /** Requests admitted uncounted: their bucket was full, or its lock not had. */
  counters(): { readonly full: number; readonly lockTimeouts: number } {
    return { full: this.t.counter('full'), lockTimeouts: this.t.counter('lockTimeouts') };
  }

  private subtract(slot: number, n: number): void {
    for (;;) {
      const s = Atomics.load(this.states, slot);
      const c = s & COUNT_MASK;
      if (c === BUSY) return;
      if (Atomics.compareExchange(this.states, slot, s, s - Math.min(n, c)) === s) return;
    }
  }

  private insert(first: number, key: number): number {
    if (!this.t.lock(first)) return UNCOUNTED;
    try {
      let victim = -1;
      for (let i = first; i < first + SLOTS_PER_BUCKET; i++) {
        const c = Atomics.load(this.states, i) & COUNT_MASK;
        if (c !== BUSY && this.t.holds(i, key)) return RETRY;
        // Free: no request in progress, or left busy by a worker that died holding the lock.
        if (victim === -1 && (c === 0 || c === BUSY)) victim = i;
      }
      if (victim === -1) {
        Atomics.add(this.t.header, HEADER.full, 1);
        return UNCOUNTED;
      }
      const s = Atomics.load(this.states, victim);
      const version = (s >>> COUNT_BITS) + 1;
      // Claim it first: an acquire of the old key that read the state before fails from here on.
      if (Atomics.compareExchange(this.states, victim, s, state(version, BUSY)) !== s) return RETRY;
      this.t.setKey(victim, key);
      Atomics.store(this.states, victim, state(version, 1));
      Atomics.add(this.held, this.mine + victim, 1);
      return victim;
    } finally {
      this.t.unlock(first);
    }
  }
}
