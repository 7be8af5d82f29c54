// limit-rate / limit-rate-after (core/annotations/rate-limit.ts): the response body to the client
// at most `rate` bytes per second after the first `after` bytes, per request, as nginx's
// limit_rate / limit_rate_after. A Transform between the upstream body and the response: by any
// moment t after the first byte, at most after + rate × t bytes have gone out. Chunks are let out
// in slices of about a tenth of a second's worth, so the client sees a steady stream; backpressure
// from the client pauses the upstream as usual.

import { Transform, type TransformCallback } from 'node:stream';

export class ResponseThrottle extends Transform {
  private readonly rate: number;
  private readonly after: number;
  /** Bytes of a slice let out at once once over `after`. */
  private readonly slice: number;
  private start = -1;
  private sent = 0;
  private timer: NodeJS.Timeout | null = null;

  /** `rate`: bytes per second (> 0); `after`: bytes sent before the rate applies. */
  constructor(rate: number, after: number) {
    super();
    this.rate = rate;
    this.after = after;
    this.slice = Math.max(1, Math.ceil(rate / 10));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.start < 0) this.start = performance.now();
    this.feed(chunk, callback);
  }

  private feed(chunk: Buffer, callback: TransformCallback): void {
    this.timer = null;
    const allowed = Math.floor(this.after + (this.rate * (performance.now() - this.start)) / 1000 - this.sent);
    if (allowed >= chunk.length) {
      this.sent += chunk.length;
      this.push(chunk);
      return callback();
    }
    let rest = chunk;
    if (allowed > 0) {
      this.sent += allowed;
      this.push(chunk.subarray(0, allowed));
      rest = chunk.subarray(allowed);
    }
    // When the next slice is due: after + rate × t covers it.
    const due = this.start + ((this.sent + Math.min(this.slice, rest.length) - this.after) * 1000) / this.rate;
    this.timer = setTimeout(() => this.feed(rest, callback), Math.max(1, due - performance.now()));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer !== null) clearTimeout(this.timer);
    callback(err);
  }
}
