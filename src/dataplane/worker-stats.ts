// Per-worker counters in one SharedArrayBuffer (DESIGN.md "Process model": exact shared state
// lives in SharedArrayBuffers updated with Atomics). The pool owns the buffer and reads it; each
// worker adds to its own row. Nothing on the request path waits for another thread.

export const STATS = {
  /** TLS handshakes completed. */
  tlsHandshakes: 0,
  /** Of those, resumed sessions (tickets). */
  tlsResumed: 1,
} as const;

const FIELDS = 2;

export type StatName = keyof typeof STATS;

export function createStatsBuffer(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * FIELDS * BigUint64Array.BYTES_PER_ELEMENT);
}

/** One worker's row. */
export class WorkerStats {
  private readonly view: BigUint64Array;

  constructor(buffer: SharedArrayBuffer, worker: number) {
    this.view = new BigUint64Array(buffer, worker * FIELDS * BigUint64Array.BYTES_PER_ELEMENT, FIELDS);
  }

  add(name: StatName, n = 1n): void {
    Atomics.add(this.view, STATS[name], n);
  }

  read(): Record<StatName, number> {
    return { tlsHandshakes: Number(Atomics.load(this.view, STATS.tlsHandshakes)), tlsResumed: Number(Atomics.load(this.view, STATS.tlsResumed)) };
  }
}
