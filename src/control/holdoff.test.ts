import { describe, expect, it } from 'vitest';
import { Holdoff } from './holdoff.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Holdoff', () => {
  it('runs a lone change on the next turn, once for every trigger of that tick', async () => {
    let runs = 0;
    const h = new Holdoff(() => runs++, 1000, 5000);
    h.trigger();
    h.trigger();
    h.trigger();
    expect(runs).toBe(0);
    await sleep(0);
    await sleep(0);
    expect(runs).toBe(1);
    h.cancel();
  });

  it('batches triggers that follow a run within the delay into one more run, after the delay', async () => {
    const runs: number[] = [];
    const h = new Holdoff(() => runs.push(performance.now()), 150, 5000);
    h.trigger();
    await sleep(10);
    expect(runs).toHaveLength(1);
    const burst = performance.now();
    for (let i = 0; i < 5; i++) h.trigger();
    await sleep(10);
    expect(runs).toHaveLength(1);
    await new Promise<void>((resolve) => {
      const poll = () => (runs.length === 2 ? resolve() : setTimeout(poll, 5));
      poll();
    });
    // Timers never fire early.
    expect(runs[1]! - burst).toBeGreaterThanOrEqual(145);
    h.cancel();
  });

  it('a trigger after a quiet spell as long as the delay runs at once again', async () => {
    let runs = 0;
    const h = new Holdoff(() => runs++, 30, 5000);
    h.trigger();
    await sleep(5);
    expect(runs).toBe(1);
    await sleep(40);
    h.trigger();
    await sleep(5);
    expect(runs).toBe(2);
    h.cancel();
  });
});
