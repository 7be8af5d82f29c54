// The part of the fixed-size shared tables (rate-table.ts, connection-table.ts) that finds a key:
// a SharedArrayBuffer the main thread creates once and every worker maps (DESIGN.md "Process
// model": state that must be exact across the pool, updated with Atomics; nothing on the request
// path waits for a message).
//
// Layout (Int32 words): a header (capacity, hash seed, counters), one lock word per bucket, then
// two key words per slot; the table's own per-slot state follows, 8-byte aligned.
//
// Open addressing in buckets: a key hashes (cyrb53 of its text, seeded at random per table so that
// no client can aim its addresses at another's bucket) to one bucket of SLOTS_PER_BUCKET slots and
// lives in one of them: the probe length is bounded, and the table never grows. Each slot holds
// the key's 53-bit hash in full, so a key is told from another that shares its bucket.
//
// Reading and updating a key's state is lock-free (each table compare-exchanges its state word).
// Putting a key into a slot takes the bucket's lock, so that two workers seeing the same new
// client at once cannot give it two slots; the lock is held for a few loads and stores.

import { cyrb53 } from '../../core/hash.ts';

export const SLOTS_PER_BUCKET = 8;

/** Header words. */
export const HEADER = {
  capacity: 0,
  seed: 1,
  workers: 2,
  /** Rate table: entries evicted while still in use (their client starts afresh). */
  evictions: 3,
  /** Connection table: requests admitted uncounted because their bucket was full. */
  full: 4,
  /** Either: a bucket lock not had within LOCK_WAIT_MS (the request was admitted uncounted). */
  lockTimeouts: 5,
  /** Ejection table: ejections made (its version). */
  ejections: 6,
} as const;
const HEADER_WORDS = 8;

/** How long a worker waits for a bucket lock before it admits the request uncounted. */
const LOCK_WAIT_MS = 50;
/** Tries before a waiter sleeps on the lock word (the holder may have been descheduled). */
const SPINS = 64;


export class BucketTable {
  readonly capacity: number;
  readonly buckets: number;
  readonly workers: number;
  readonly header: Int32Array;
  /** Byte offset where the table's own per-slot arrays start. */
  readonly end: number;
  private readonly locks: Int32Array;
  private readonly keys: Int32Array;
  private readonly seed: number;
  /** This thread's lock word value (owner + 1; 0 is unlocked). */
  private readonly me: number;

  /** Bytes of header, locks and keys for `capacity` slots (a power of two, ≥ SLOTS_PER_BUCKET). */
  static bytes(capacity: number): number {
    return align8((HEADER_WORDS + capacity / SLOTS_PER_BUCKET + 2 * capacity) * 4);
  }

  /** Fills in the header of a new buffer (main thread). */
  static init(buffer: SharedArrayBuffer, capacity: number, workers: number): void {
    if (!(capacity >= SLOTS_PER_BUCKET && (capacity & (capacity - 1)) === 0)) throw new Error(`table capacity ${capacity} is not a power of two ≥ ${SLOTS_PER_BUCKET}`);
    const header = new Int32Array(buffer, 0, HEADER_WORDS);
    header[HEADER.capacity] = capacity;
    header[HEADER.seed] = crypto.getRandomValues(new Int32Array(1))[0]!;
    header[HEADER.workers] = workers;
  }

  /** `owner`: the worker index (0 ≤ owner < workers) whose locks and holdings are its own. */
  constructor(buffer: SharedArrayBuffer, owner: number) {
    this.header = new Int32Array(buffer, 0, HEADER_WORDS);
    this.capacity = this.header[HEADER.capacity]!;
    this.workers = this.header[HEADER.workers]!;
    this.seed = this.header[HEADER.seed]!;
    this.buckets = this.capacity / SLOTS_PER_BUCKET;
    this.locks = new Int32Array(buffer, HEADER_WORDS * 4, this.buckets);
    this.keys = new Int32Array(buffer, (HEADER_WORDS + this.buckets) * 4, 2 * this.capacity);
    this.end = BucketTable.bytes(this.capacity);
    this.me = owner + 1;
  }

  /** The key of `prefix` (which limit of which Ingress) and `client`, below 2^53. */
  key(prefix: string, client: string): number {
    return cyrb53(prefix + client, this.seed);
  }

  /** The first slot of `key`'s bucket. */
  firstSlot(key: number): number {
    return (key & (this.buckets - 1)) * SLOTS_PER_BUCKET;
  }

  /** Whether `slot` holds `key`: both words of the 53-bit hash. */
  holds(slot: number, key: number): boolean {
    return Atomics.load(this.keys, 2 * slot) === (key | 0) && Atomics.load(this.keys, 2 * slot + 1) === Math.floor(key / 0x1_0000_0000);
  }

  /** Writes `key` into `slot`; only under the bucket's lock, while the slot's state says busy. */
  setKey(slot: number, key: number): void {
    Atomics.store(this.keys, 2 * slot, key | 0);
    Atomics.store(this.keys, 2 * slot + 1, Math.floor(key / 0x1_0000_0000));
  }

  /**
   * Takes the lock of the bucket that starts at `first`; false (counted in lockTimeouts) when it
   * is not free within LOCK_WAIT_MS, and the caller admits its request uncounted rather than
   * stall the worker's event loop.
   */
  lock(first: number): boolean {
    const bucket = first / SLOTS_PER_BUCKET;
    if (Atomics.compareExchange(this.locks, bucket, 0, this.me) === 0) return true;
    const deadline = performance.now() + LOCK_WAIT_MS;
    for (let spin = 0; ; spin++) {
      const holder = Atomics.load(this.locks, bucket);
      if (holder === 0) {
        if (Atomics.compareExchange(this.locks, bucket, 0, this.me) === 0) return true;
        continue;
      }
      if (spin < SPINS) continue;
      if (performance.now() > deadline) {
        Atomics.add(this.header, HEADER.lockTimeouts, 1);
        return false;
      }
      Atomics.wait(this.locks, bucket, holder, 1);
    }
  }

  unlock(first: number): void {
    const bucket = first / SLOTS_PER_BUCKET;
    Atomics.store(this.locks, bucket, 0);
    Atomics.notify(this.locks, bucket);
  }

  /** Frees the locks a worker that exited held (main thread, after its 'exit'). */
  releaseLocks(owner: number): void {
    for (let b = 0; b < this.buckets; b++) {
      if (Atomics.compareExchange(this.locks, b, owner + 1, 0) === owner + 1) Atomics.notify(this.locks, b);
    }
  }

  /** A header counter. */
  counter(name: keyof typeof HEADER): number {
    return Atomics.load(this.header, HEADER[name]);
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
