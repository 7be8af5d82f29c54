// Batches bursts of changes (DESIGN.md, "Data flow" step 2). The first trigger after a quiet
// spell runs `fn` at once (on the next turn of the event loop, so that the events of one tick
// go together): a lone change waits for nothing. A trigger that follows a run within `delayMs`
// is part of a burst: `fn` runs once `delayMs` pass with no new trigger, but never later than
// `maxMs` after the first pending trigger.

export class Holdoff {
  private timer: NodeJS.Timeout | null = null;
  /** The pending run is the leading one of a quiet spell: later triggers join it. */
  private leading = false;
  private firstAt = 0;
  private lastRunAt = -Infinity;
  private readonly fn: () => void;
  private readonly delayMs: number;
  private readonly maxMs: number;

  constructor(fn: () => void, delayMs = 20, maxMs = 200) {
    this.fn = fn;
    this.delayMs = delayMs;
    this.maxMs = maxMs;
  }

  trigger(): void {
    const now = performance.now();
    if (this.timer !== null && this.leading) return;
    if (this.timer === null) {
      this.firstAt = now;
      this.leading = now - this.lastRunAt >= this.delayMs;
    } else clearTimeout(this.timer);
    const wait = this.leading ? 0 : Math.max(0, Math.min(this.delayMs, this.firstAt + this.maxMs - now));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.lastRunAt = performance.now();
      this.fn();
    }, wait);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
