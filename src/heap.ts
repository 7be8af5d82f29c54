// Gives back the memory of loading. Reading manifests or the API, compiling and building routers
// leave much garbage, and V8 keeps what it grew its heap to (its young generation and the pages
// it pooled) once the garbage is gone: the process stays at the peak of loading. One
// memory-reducing collection, V8's "last resort" one (every generation, repeated while it frees
// anything, the young generation shrunk and pooled pages released), returns that to the system.
// Measured with 2 workers: 10,000 Ingresses 293 → 202 MB resident, the demo manifests 141 → 114
// MB; it took 222 ms on the main thread and ~55 ms per worker at 10,000, ~25 ms each on the demo.
//
// Node offers no call for it but the `gc()` that --expose-gc puts in every thread's global
// scope: the `gatehouse` command (gatehouse.js's shebang, `npm start`, the image) runs with it.
// Without it (`node src/main.ts`, the tests) nothing is given back. A `gc` taken from a context
// made while the flag is switched on at run time (v8.setFlagsFromString, vm.runInNewContext)
// needs no flag, but with that second context a worker's CPU per request rose from ~62 to 84–89
// µs after ~15 s of load (loadtest/ab-bench.ts, every round after the second): not used.

import type { Log } from './observability/log.ts';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** One memory-reducing full collection of this thread's heap, synchronous: its duration in ms, or null without --expose-gc. */
export function compactHeap(): number | null {
  const gc = (globalThis as { gc?: Gc }).gc;
  if (typeof gc !== 'function') return null;
  const t0 = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return performance.now() - t0;
}

/** compactHeap() once loading is done, and its duration logged (debug). */
export function compactAfterLoading(log: Log): void {
  const ms = compactHeap();
  if (ms !== null) log.debug({ ms: Math.round(ms) }, 'heap compacted after loading');
}

/** After changes, once none came for this long, the main thread gives back what they grew (below). */
export const QUIET_MS = 10_000;

/**
 * The main thread again after changes: each compiles and diffs a table, its young generation
 * grows back to its maximum (32 MB at 10,000 Ingresses) and V8 keeps it. Once `QUIET_MS` passed
 * since the last table every worker applied (WorkerPool.applies, lastApply) and one was applied
 * since the last time, compactHeap(): 294 → 256 MB after 30 changes at 10,000 Ingresses, for
 * ~110 ms of the main thread (a change that arrives then waits that long). Not in the workers:
 * that pause would hold their requests. The timer does not keep the process alive.
 */
export function compactAfterChanges(pool: { readonly applies: number; readonly lastApply: number }, log: Log, quietMs = QUIET_MS): NodeJS.Timeout {
  let compacted = pool.applies;
  return setInterval(() => {
    if (pool.applies === compacted || Date.now() - pool.lastApply < quietMs) return;
    compacted = pool.applies;
    const ms = compactHeap();
    if (ms !== null) log.debug({ ms: Math.round(ms) }, 'heap compacted after changes');
  }, quietMs / 2).unref();
}
