import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it, vi } from 'vitest';
import { ResponseThrottle } from './response-throttle.ts';

describe('ResponseThrottle (limit-rate, limit-rate-after)', () => {
  it('lets out at most after + rate × t bytes by any moment t, and every byte in order', async () => {
    const input = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const chunks = Array.from({ length: Math.ceil(input.length / 7000) }, (_, i) => input.subarray(i * 7000, (i + 1) * 7000));
    const rate = 200_000;
    const after = 10_000;
    const out: Buffer[] = [];
    let overLimit = 0;
    let received = 0;
    // The clock starts before the throttle sees its first byte, so a sink that is slow to get
    // going (a busy machine) only makes the bound looser, never a false failure.
    const t0 = performance.now();
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        // A millisecond of slack for timer and clock granularity.
        if (received > after + (rate * (performance.now() - t0 + 1)) / 1000) overLimit++;
        out.push(chunk);
        cb();
      },
    });
    await pipeline(Readable.from(chunks), new ResponseThrottle(rate, after), sink);
    expect(overLimit).toBe(0);
    expect(Buffer.concat(out).equals(input)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(((input.length - after) / rate) * 1000 * 0.95);
  });

  it('passes everything at once within limit-rate-after', async () => {
    const throttle = new ResponseThrottle(1, 1000);
    const got: Buffer[] = [];
    throttle.on('data', (c: Buffer) => got.push(c));
    throttle.end(Buffer.alloc(1000, 1));
    await new Promise((r) => throttle.once('end', r));
    expect(Buffer.concat(got).length).toBe(1000);
  });

  it('stops its timer when destroyed (the client went away)', () => {
    vi.useFakeTimers();
    try {
      const throttle = new ResponseThrottle(10, 0);
      throttle.resume();
      throttle.write(Buffer.alloc(1000));
      expect(vi.getTimerCount()).toBe(1);
      throttle.destroy();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
