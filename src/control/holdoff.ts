// Batches bursts of changes: run `fn` once `delayMs` pass with no new trigger, but never
// later than `maxMs` after the first pending trigger (DESIGN.md, "Data flow" step 2).

export class Holdoff {
  private timer: NodeJS.Timeout | null = null;
  private firstAt = 0;
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
    if (this.timer === null) this.firstAt = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.delayMs, this.firstAt + this.maxMs - now));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fn();
    }, wait);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
