// A worker thread for the shared-table tests (src/dataplane/shared/*.test.ts): maps the table it is
// given, waits at a start line with the others, then hammers it and reports through `results`
// (an Int32Array over a SharedArrayBuffer), so several threads race on one table for real.

import { parentPort, workerData } from 'node:worker_threads';
import { ConnectionTable, REFUSED, UNCOUNTED } from '../../src/dataplane/shared/connection-table.ts';
import { nowMicros, RateTable } from '../../src/dataplane/shared/rate-table.ts';
import { EjectionTable } from '../../src/dataplane/shared/ejection-table.ts';

export type HammerJob =
  /** admit() `attempts` times round-robin over `keys` (results[k]: admitted of key k). */
  | { readonly kind: 'rate'; readonly keys: number; readonly attempts: number; readonly intervalUs: number; readonly burst: number }
  /** acquire/release `attempts` times; results[0]: in progress now, results[1]: the most seen, results[2]: admitted. */
  | { readonly kind: 'churn'; readonly attempts: number; readonly limit: number }
  /** acquire `attempts` times without releasing; results[0] += admitted; then wait for `release` and release them all. */
  | { readonly kind: 'hold'; readonly attempts: number; readonly limit: number; readonly exitHolding?: boolean }
  /** failure() `attempts` times round-robin over `endpoints` endpoints of backend `b` (ejections long); results[k]: ejections this worker made of endpoint k. */
  | { readonly kind: 'eject'; readonly endpoints: number; readonly attempts: number; readonly threshold: number };

export interface HammerData {
  readonly job: HammerJob;
  readonly table: SharedArrayBuffer;
  readonly owner: number;
  /** [0]: start line (workers wait for 1), [1]: workers ready, [2]: release line (hold jobs). */
  readonly control: SharedArrayBuffer;
  readonly results: SharedArrayBuffer;
}

const { job, table, owner, control: controlBuffer, results: resultsBuffer } = workerData as HammerData;
const control = new Int32Array(controlBuffer);
const results = new Int32Array(resultsBuffer);

Atomics.add(control, 1, 1);
Atomics.wait(control, 0, 0);

if (job.kind === 'rate') {
  const rates = new RateTable(table, owner);
  const interval = BigInt(job.intervalUs);
  const tolerance = BigInt(job.burst) * interval;
  for (let i = 0; i < job.attempts; i++) {
    const k = i % job.keys;
    if (rates.admit(rates.key('zone\nrps\n', `10.0.${k >> 8}.${k & 255}`), interval, tolerance, nowMicros()) === 0) Atomics.add(results, k, 1);
  }
  parentPort!.postMessage('done');
} else if (job.kind === 'eject') {
  const ejections = new EjectionTable(table, owner);
  const policy = { consecutiveFailures: job.threshold, baseEjectionMs: 600_000, maxEjectionMs: 600_000 };
  for (let i = 0; i < job.attempts; i++) {
    const k = i % job.endpoints;
    if (ejections.failure(ejections.key('b', `10.0.0.${k}|80`), policy, () => true)) Atomics.add(results, k, 1);
  }
  parentPort!.postMessage('done');
} else if (job.kind === 'churn') {
  const conns = new ConnectionTable(table, owner);
  const key = conns.key('zone\nconn\n', '10.0.0.1');
  for (let i = 0; i < job.attempts; i++) {
    const slot = conns.acquire(key, job.limit);
    if (slot === REFUSED) continue;
    if (slot === UNCOUNTED) throw new Error('admitted uncounted');
    const inside = Atomics.add(results, 0, 1) + 1;
    for (let seen = Atomics.load(results, 1); inside > seen; seen = Atomics.load(results, 1)) {
      if (Atomics.compareExchange(results, 1, seen, inside) === seen) break;
    }
    Atomics.add(results, 2, 1);
    Atomics.sub(results, 0, 1);
    conns.release(slot);
  }
  parentPort!.postMessage('done');
} else {
  const conns = new ConnectionTable(table, owner);
  const key = conns.key('zone\nconn\n', '10.0.0.1');
  const slots: number[] = [];
  for (let i = 0; i < job.attempts; i++) {
    const slot = conns.acquire(key, job.limit);
    if (slot === UNCOUNTED) throw new Error('admitted uncounted');
    if (slot !== REFUSED) slots.push(slot);
  }
  Atomics.add(results, 0, slots.length);
  parentPort!.postMessage('holding');
  if (job.exitHolding) process.exit(0);
  Atomics.wait(control, 2, 0);
  for (const slot of slots) conns.release(slot);
  parentPort!.postMessage('done');
}
