// The request-rate table of limit-rps and limit-rpm, shared by every worker of the pool (one
// SharedArrayBuffer, bucket-table.ts), so a client gets its rate whichever worker the kernel
// hands its connections to.
//
// GCRA (the generic cell rate algorithm, ITU-T I.371): one number per key, the theoretical
// arrival time (TAT). With emission interval T (1/rate) and tolerance τ (burst × T), a request at
// `now` conforms when max(TAT, now) − now ≤ τ, and then TAT becomes max(TAT, now) + T. This
// admits exactly what nginx's `limit_req burst=<burst> nodelay` admits: burst + 1 at once from
// rest, then one per T; a refused request changes nothing.
//
// Each slot's state is one 64-bit word, updated with compareExchange in a loop: 12 bits of slot
// version (bumped whenever the slot changes key, so an update racing an eviction fails) and 52
// bits of TAT in microseconds of the process's monotonic clock (0: empty; all ones: being
// rewritten). Memory is fixed: `capacity` slots of 16 bytes.
//
// Eviction: a key not in its bucket takes, under the bucket's lock, a free slot: empty, or one
// whose TAT is past (a client whose state is the same as a new one's). When the bucket holds 8
// keys that are all still in use, the one with the oldest TAT, the nearest to being free, is
// evicted and counted (`evictions`): that client starts afresh with a full burst. So a flood of
// source addresses can make the table forget clients (fail-open, never refusing anyone for lack of
// room, as nginx's limit_req drops its least recently used state), and a client being limited,
// whose TAT is furthest ahead, is the last to be forgotten.

import { BucketTable, HEADER, SLOTS_PER_BUCKET } from './bucket-table.ts';

/** 65536 slots (1 MiB): every client seen in the last few burst windows, with room. */
export const RATE_TABLE_CAPACITY = 65_536;

const TAT_BITS = 52n;
const TAT_MASK = (1n << TAT_BITS) - 1n;
const BUSY = TAT_MASK;
const VERSION_MASK = 0xfffn;

/** A lookup to do again: the slot moved under us. */
const RETRY = -1;

/** Microseconds of the monotonic clock (CLOCK_MONOTONIC: one clock for every thread of the process). */
export function nowMicros(): bigint {
  return process.hrtime.bigint() / 1000n;
}

export class RateTable {
  private readonly t: BucketTable;
  private readonly states: BigUint64Array;

  static create(capacity = RATE_TABLE_CAPACITY): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(BucketTable.bytes(capacity) + capacity * 8);
    BucketTable.init(buffer, capacity, 1);
    return buffer;
  }

  constructor(buffer: SharedArrayBuffer, owner: number) {
    this.t = new BucketTable(buffer, owner);
    this.states = new BigUint64Array(buffer, this.t.end, this.t.capacity);
  }

  key(prefix: string, client: string): number {
    return this.t.key(prefix, client);
  }

  /**
   * One request of `key` at `now` (µs, nowMicros()) under emission interval `interval` and
   * tolerance `tolerance` (µs): 0 when it is admitted (and counted), else the microseconds until a
   * request would be.
   */
  admit(key: number, interval: bigint, tolerance: bigint, now: bigint): number {
    const first = this.t.firstSlot(key);
    for (;;) {
      const slot = this.find(first, key);
      if (slot === -1) {
        const r = this.insert(first, key, interval, now);
        if (r === RETRY) continue;
        return r;
      }
      const s = this.found;
      const tat = s & TAT_MASK;
      const from = tat > now ? tat : now;
      if (from - now > tolerance) return Number(from - now - tolerance);
      if (Atomics.compareExchange(this.states, slot, s, (s & ~TAT_MASK) | (from + interval)) === s) return 0;
    }
  }

  /** Takes back one admission of `key` (a later limit refused the request). */
  refund(key: number, interval: bigint): void {
    const first = this.t.firstSlot(key);
    for (;;) {
      const slot = this.find(first, key);
      if (slot === -1) return;
      const s = this.found;
      const tat = s & TAT_MASK;
      const back = tat > interval ? tat - interval : 1n;
      if (Atomics.compareExchange(this.states, slot, s, (s & ~TAT_MASK) | back) === s) return;
    }
  }

  /** The state word find() read for the slot it returned. */
  private found = 0n;

  /** The slot holding `key`, its state in `found`; -1 when none does. */
  private find(first: number, key: number): number {
    for (let i = first; i < first + SLOTS_PER_BUCKET; i++) {
      // The state before the key: if the slot changes key after this load, the version moved
      // and the caller's compareExchange against this state fails.
      const s = Atomics.load(this.states, i);
      const tat = s & TAT_MASK;
      if (tat === 0n || tat === BUSY || !this.t.holds(i, key)) continue;
      this.found = s;
      return i;
    }
    return -1;
  }

  /** Puts `key` into its bucket, admitted; RETRY when another thread put it there first. */
  private insert(first: number, key: number, interval: bigint, now: bigint): number {
    // Admitted uncounted when the lock cannot be had (counted in lockTimeouts).
    if (!this.t.lock(first)) return 0;
    try {
      if (this.find(first, key) !== -1) return RETRY;
      let victim = -1;
      let oldest = 0n;
      for (let i = first; i < first + SLOTS_PER_BUCKET; i++) {
        const tat = Atomics.load(this.states, i) & TAT_MASK;
        // Empty, past, or left busy by a worker that died holding the lock.
        if (tat === 0n || tat === BUSY || tat <= now) {
          victim = i;
          break;
        }
        if (victim === -1 || tat < oldest) {
          victim = i;
          oldest = tat;
        }
      }
      const s = Atomics.load(this.states, victim);
      const tat = s & TAT_MASK;
      const version = (((s >> TAT_BITS) + 1n) & VERSION_MASK) << TAT_BITS;
      // Claim it first: an update of the old key that read the state before fails from here on.
      if (Atomics.compareExchange(this.states, victim, s, version | BUSY) !== s) return RETRY;
      if (tat !== 0n && tat !== BUSY && tat > now) Atomics.add(this.t.header, HEADER.evictions, 1);
      this.t.setKey(victim, key);
      Atomics.store(this.states, victim, version | (now + interval));
      return 0;
    } finally {
      this.t.unlock(first);
    }
  }

  /** Frees the bucket locks of a worker that exited (main thread). */
  releaseWorker(owner: number): void {
    this.t.releaseLocks(owner);
  }

  /** Entries evicted while in use, and inserts admitted uncounted for want of the bucket lock. */
  counters(): { readonly evictions: number; readonly lockTimeouts: number } {
    return { evictions: this.t.counter('evictions'), lockTimeouts: this.t.counter('lockTimeouts') };
  }
}
