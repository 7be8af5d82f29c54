// Starts shared-table-hammer.ts workers on one table, lets them go at once, and waits for them.

import { Worker } from 'node:worker_threads';
import type { HammerData, HammerJob } from './shared-table-hammer.ts';

const SCRIPT = new URL('./shared-table-hammer.ts', import.meta.url);

export interface Hammers {
  readonly results: Int32Array;
  /** Resolves when every worker has posted `message` (default 'done'). */
  posted(message?: string): Promise<void>;
  /** Lets 'hold' workers release what they hold. */
  releaseHolds(): void;
  /** Resolves once every worker exited. */
  exited(): Promise<void>;
}

export async function startHammers(table: SharedArrayBuffer, jobs: readonly HammerJob[], resultWords = 64): Promise<Hammers> {
  const control = new Int32Array(new SharedArrayBuffer(3 * 4));
  const results = new Int32Array(new SharedArrayBuffer(resultWords * 4));
  const messages: string[][] = jobs.map(() => []);
  const waiters = new Set<() => void>();
  const workers = jobs.map((job, owner) => {
    const data: HammerData = { job, table, owner, control: control.buffer as SharedArrayBuffer, results: results.buffer as SharedArrayBuffer };
    const w = new Worker(SCRIPT, { workerData: data });
    w.on('message', (m: string) => {
      messages[owner]!.push(m);
      for (const f of waiters) f();
    });
    w.on('error', (err) => {
      messages[owner]!.push(`error: ${err.message}`);
      for (const f of waiters) f();
    });
    return w;
  });
  const exits = workers.map((w) => new Promise<void>((r) => w.once('exit', () => r())));
  const until = (done: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        const failed = messages.flat().find((m) => m.startsWith('error'));
        if (failed !== undefined) {
          waiters.delete(check);
          reject(new Error(failed));
        } else if (done()) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });
  // Every worker at the start line, then all go together.
  await new Promise<void>((resolve) => {
    const poll = () => (Atomics.load(control, 1) === jobs.length ? resolve() : setTimeout(poll, 5));
    poll();
  });
  Atomics.store(control, 0, 1);
  Atomics.notify(control, 0);
  return {
    results,
    posted: (message = 'done') => until(() => messages.every((m) => m.includes(message))),
    releaseHolds: () => {
      Atomics.store(control, 2, 1);
      Atomics.notify(control, 2);
    },
    exited: async () => void (await Promise.all(exits)),
  };
}
