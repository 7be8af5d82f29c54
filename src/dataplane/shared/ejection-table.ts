// Passive health (gatehouse.io/passive-health-*), shared by every worker of the pool (one
// SharedArrayBuffer, bucket-table.ts): per endpoint of a backend, its failures in a row, when its
// ejection ends and how many ejections in a row it has had. As Envoy's outlier detection
// (consecutive_5xx / consecutive_gateway_failure): `consecutiveFailures` failures in a row eject the
// endpoint for base × n (the nth ejection in a row), at most `maxEjection`; a success in between
// starts the count afresh; an endpoint whose last ejection ended more than `maxEjection` ago starts
// again at n = 1 (Envoy decrements the multiplier over time instead). Every worker sees an ejection
// the moment it is made: the request path reads the table, never a message.
//
// Each slot: a state word (12 bits of slot version, bumped when the slot changes key, and a 20-bit
// failure count; 0xfffff while being rewritten), the ejection's end (ms of a monotonic clock every
// thread shares, modulo 2^32: compared by wrapping difference, which holds for ejections up to 24
// days) and the ejection count. A failure is counted with compareExchange on the state word, so
// counts are exact across workers; the one failure that reaches the threshold resets the count and
// ejects, once. Failures reported while the endpoint is ejected (requests already under way) do
// not count. The header's `ejections` word counts every ejection made: a worker that cached which
// endpoints are out knows from it when to look again.
//
// Eviction: only a slot with no failure counted and no ejection under way takes another key (its
// ejection count is forgotten). When a bucket is full of failing endpoints, a new one's failures go
// uncounted (it is never ejected; counted in `full`): fail-open, as health must never take out an
// endpoint it cannot account for. Memory is fixed: `capacity` slots of 20 bytes.

import { BucketTable, HEADER, SLOTS_PER_BUCKET } from './bucket-table.ts';

/** 8192 slots: endpoints failing or ejected at the same moment, with room. */
export const EJECTION_TABLE_CAPACITY = 8192;

const COUNT_BITS = 20;
const COUNT_MASK = (1 << COUNT_BITS) - 1;
const BUSY = COUNT_MASK;
/** Words per slot: state, ejection end, ejection count. */
const STATE = 0;
const UNTIL = 1;
const EJECTIONS = 2;
const WORDS = 3;

/** A monotonic clock in ms that every thread of the process shares. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/** What a failure needs of the backend's passive-health policy. */
export interface EjectionPolicy {
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
}

export interface EjectionEntry {
  readonly failures: number;
  readonly ejections: number;
  /** Ms until the ejection ends; 0: not ejected. */
  readonly ejectedForMs: number;
}

export class EjectionTable {
  private readonly t: BucketTable;
  private readonly slots: Int32Array;
  private readonly now: () => number;

  static create(capacity = EJECTION_TABLE_CAPACITY): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(BucketTable.bytes(capacity) + capacity * 4 * WORDS);
    BucketTable.init(buffer, capacity, 1);
    return buffer;
  }

  /** `owner`: this thread's lock owner id (the worker's index; the main thread any other). `now`: ms (tests). */
  constructor(buffer: SharedArrayBuffer, owner: number, now: () => number = monotonicMs) {
    this.t = new BucketTable(buffer, owner);
    this.slots = new Int32Array(buffer, this.t.end, this.t.capacity * WORDS);
    this.now = now;
  }

  /** The key of an endpoint (`address|port`) of a backend. */
  key(backend: string, endpoint: string): number {
    return this.t.key(`${backend}\n`, endpoint);
  }

  /** Ejections made since the table was created (any endpoint). */
  version(): number {
    return Atomics.load(this.t.header, HEADER.ejections);
  }

  /** Ms until `key`'s ejection ends; 0 when it is not ejected. */
  ejectedFor(key: number, now = this.now()): number {
    const slot = this.find(key);
    return slot === -1 ? 0 : this.left(slot, now);
  }

  /** What the table holds of `key` (tests, /debug/table); undefined: nothing. */
  entry(key: number): EjectionEntry | undefined {
    const slot = this.find(key);
    if (slot === -1) return undefined;
    const base = slot * WORDS;
    return { failures: Atomics.load(this.slots, base + STATE) & COUNT_MASK, ejections: Atomics.load(this.slots, base + EJECTIONS), ejectedForMs: this.left(slot, this.now()) };
  }

  /** A success: the failures in a row start again from 0. */
  success(key: number): void {
    const slot = this.find(key);
    if (slot === -1) return;
    const i = slot * WORDS + STATE;
    for (;;) {
      const s = Atomics.load(this.slots, i);
      const c = s & COUNT_MASK;
      if (c === 0 || c === BUSY || Atomics.compareExchange(this.slots, i, s, s - c) === s) return;
    }
  }

  /**
   * A failure of `key`: counted unless it is ejected; the one that reaches the policy's threshold
   * resets the count and ejects the endpoint, if `mayEject()` (the backend's max ejected share).
   * True when this failure ejected it.
   */
  failure(key: number, policy: EjectionPolicy, mayEject: () => boolean): boolean {
    const now = this.now();
    for (;;) {
      let slot = this.find(key);
      if (slot === -1) {
        slot = this.insert(key);
        if (slot === -1) return false;
        if (slot === -2) continue;
      }
      if (this.left(slot, now) > 0) return false;
      const i = slot * WORDS + STATE;
      const s = Atomics.load(this.slots, i);
      const c = s & COUNT_MASK;
      if (c === BUSY) continue;
      if (c + 1 < policy.consecutiveFailures) {
        if (Atomics.compareExchange(this.slots, i, s, s + 1) === s) return false;
        continue;
      }
      // The threshold: this failure, and no other, resets the count; then the ejection is its own.
      if (Atomics.compareExchange(this.slots, i, s, s - c) !== s) continue;
      if (!mayEject()) return false;
      const base = slot * WORDS;
      const lastEnd = Atomics.load(this.slots, base + UNTIL);
      const before = Atomics.load(this.slots, base + EJECTIONS);
      // A long quiet spell since the last ejection: counted from 1 again.
      const n = before === 0 || ((now - lastEnd) | 0) > policy.maxEjectionMs ? 1 : before + 1;
      Atomics.store(this.slots, base + EJECTIONS, n);
      Atomics.store(this.slots, base + UNTIL, (now + Math.min(policy.baseEjectionMs * n, policy.maxEjectionMs)) | 0);
      Atomics.add(this.t.header, HEADER.ejections, 1);
      return true;
    }
  }

  /** Frees the bucket locks of a worker that exited (main thread). */
  releaseWorker(owner: number): void {
    this.t.releaseLocks(owner);
  }

  /** Failures not counted because their bucket was full of failing endpoints. */
  counters(): { readonly full: number; readonly lockTimeouts: number } {
    return { full: this.t.counter('full'), lockTimeouts: this.t.counter('lockTimeouts') };
  }

  private left(slot: number, now: number): number {
    if (Atomics.load(this.slots, slot * WORDS + EJECTIONS) === 0) return 0;
    const d = (Atomics.load(this.slots, slot * WORDS + UNTIL) - now) | 0;
    return d > 0 ? d : 0;
  }

  private find(key: number): number {
    const first = this.t.firstSlot(key);
    for (let i = first; i < first + SLOTS_PER_BUCKET; i++) {
      if ((Atomics.load(this.slots, i * WORDS + STATE) & COUNT_MASK) !== BUSY && this.t.holds(i, key)) return i;
    }
    return -1;
  }

  /** A slot for `key`: its index, -1 when none is free (or the lock not had), -2 when another thread put it in first. */
  private insert(key: number): number {
    const first = this.t.firstSlot(key);
    if (!this.t.lock(first)) return -1;
    try {
      const now = this.now();
      let victim = -1;
      for (let i = first; i < first + SLOTS_PER_BUCKET; i++) {
        const c = Atomics.load(this.slots, i * WORDS + STATE) & COUNT_MASK;
        if (c !== BUSY && this.t.holds(i, key)) return -2;
        // Free: no failure counted and not ejected (or left busy by a worker that died holding the lock).
        if (victim === -1 && (c === BUSY || (c === 0 && this.left(i, now) === 0))) victim = i;
      }
      if (victim === -1) {
        Atomics.add(this.t.header, HEADER.full, 1);
        return -1;
      }
      const i = victim * WORDS;
      const s = Atomics.load(this.slots, i + STATE);
      const version = ((s >>> COUNT_BITS) + 1) & 0xfff;
      if (Atomics.compareExchange(this.slots, i + STATE, s, (version << COUNT_BITS) | BUSY) !== s) return -2;
      this.t.setKey(victim, key);
      Atomics.store(this.slots, i + EJECTIONS, 0);
      Atomics.store(this.slots, i + UNTIL, 0);
      Atomics.store(this.slots, i + STATE, version << COUNT_BITS);
      return victim;
    } finally {
      this.t.unlock(first);
    }
  }
}
