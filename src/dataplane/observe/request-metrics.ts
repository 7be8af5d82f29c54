// The request metrics of the pool, in shared memory (DESIGN.md "Process model"): one Float64Array
// region per worker in one SharedArrayBuffer the pool creates. A worker is the only writer of its
// region and adds with plain typed-array stores (no Atomics, no labels, no allocation: measured
// in loadtest/metrics-bench.ts against prom-client in each worker); the main thread sums the
// regions at scrape time (observability/metrics.ts). An 8-byte aligned float64 store does not
// tear on the 64-bit machines Node runs on, and a scrape may read a value a request old.
//
// A request's labels (namespace, ingress, service) are resolved once per table generation: the
// pool numbers each label set (series.ts), the router puts the number on each Match, and the
// request path only indexes. The method and the status class index within the series' block.

/** prometheus DefBuckets, as ingress-nginx's request and upstream duration histograms (seconds). */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Methods with their own label value; any other is counted as OTHER (bounded cardinality). */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'OTHER'] as const;
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Label sets a pool numbers at most (series.ts); past it, new ones share the overflow series. */
export const MAX_SERIES = 2048;

/** Per-worker counters that have no series: slots at the start of the region. */
export const FIXED = {
  connectionsHttp: 0,
  connectionsHttps: 1,
  /** TLS handshakes completed, by version: 1.3, 1.2, other. */
  tls13: 2,
  tls12: 3,
  tlsOther: 4,
  /** Handshakes that failed (tlsClientError). */
  tlsFailed: 5,
  /** Of the completed ones, resumed sessions. */
  tlsResumed: 6,
  otlpExported: 7,
  otlpDropped: 8,
  accessLogLines: 9,
  accessLogDropped: 10,
} as const;
const FIXED_SLOTS = 16;

const H = DURATION_BUCKETS.length + 2; // buckets (not cumulative), +Inf, sum
/** Offsets in one series' block. */
export const BLOCK = {
  requests: 0, // METHODS × STATUS_CLASSES counts
  duration: METHODS.length * STATUS_CLASSES.length,
  upstreamDuration: METHODS.length * STATUS_CLASSES.length + H,
  bytesIn: METHODS.length * STATUS_CLASSES.length + 2 * H,
  bytesOut: METHODS.length * STATUS_CLASSES.length + 2 * H + 1,
  /** Tries past the first (proxy-next-upstream). */
  retries: METHODS.length * STATUS_CLASSES.length + 2 * H + 2,
  refusedRateLimit: METHODS.length * STATUS_CLASSES.length + 2 * H + 3,
  refusedAccess: METHODS.length * STATUS_CLASSES.length + 2 * H + 4,
  size: METHODS.length * STATUS_CLASSES.length + 2 * H + 5,
} as const;

const REGION = FIXED_SLOTS + MAX_SERIES * BLOCK.size;

export function createMetricsBuffer(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * REGION * Float64Array.BYTES_PER_ELEMENT);
}

/** METHODS index of a request method. */
export function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET': return 0;
    case 'HEAD': return 1;
    case 'POST': return 2;
    case 'PUT': return 3;
    case 'DELETE': return 4;
    case 'PATCH': return 5;
    case 'OPTIONS': return 6;
    default: return 7;
  }
}

/** Index of the first bucket whose bound holds `seconds`; DURATION_BUCKETS.length: +Inf. */
function bucketOf(seconds: number): number {
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  return i;
}

/** What a request adds to its series; `upstreamSeconds` < 0: it reached no upstream. */
export interface RequestSample {
  series: number;
  method: string | undefined;
  status: number;
  seconds: number;
  upstreamSeconds: number;
  bytesIn: number;
  bytesOut: number;
  retries: number;
  refusal: 'rate-limit' | 'access' | null;
}

/** A worker's writer. */
export class RequestMetrics {
  readonly #a: Float64Array;

  constructor(buffer: SharedArrayBuffer, worker: number) {
    this.#a = new Float64Array(buffer, worker * REGION * Float64Array.BYTES_PER_ELEMENT, REGION);
  }

  add(slot: number, n = 1): void {
    this.#a[slot]! += n;
  }

  observe(s: RequestSample): void {
    const a = this.#a;
    const base = FIXED_SLOTS + (s.series < MAX_SERIES ? s.series : 0) * BLOCK.size;
    const cls = s.status < 100 ? 0 : s.status >= 600 ? 4 : ((s.status / 100) | 0) - 1;
    a[base + methodIndex(s.method) * STATUS_CLASSES.length + cls]! += 1;
    const d = base + BLOCK.duration;
    a[d + bucketOf(s.seconds)]! += 1;
    a[d + H - 1]! += s.seconds;
    if (s.upstreamSeconds >= 0) {
      const u = base + BLOCK.upstreamDuration;
      a[u + bucketOf(s.upstreamSeconds)]! += 1;
      a[u + H - 1]! += s.upstreamSeconds;
    }
    a[base + BLOCK.bytesIn]! += s.bytesIn;
    a[base + BLOCK.bytesOut]! += s.bytesOut;
    if (s.retries > 0) a[base + BLOCK.retries]! += s.retries;
    if (s.refusal === 'rate-limit') a[base + BLOCK.refusedRateLimit]! += 1;
    else if (s.refusal === 'access') a[base + BLOCK.refusedAccess]! += 1;
  }
}

/** A histogram of one series, buckets cumulative as Prometheus wants them (the last is +Inf). */
export interface HistogramSum {
  readonly buckets: number[];
  readonly sum: number;
}

/** The main thread's reader: the pool's regions summed. */
export class MetricsReader {
  readonly #regions: Float64Array[] = [];

  constructor(buffer: SharedArrayBuffer) {
    const workers = buffer.byteLength / (REGION * Float64Array.BYTES_PER_ELEMENT);
    for (let w = 0; w < workers; w++) this.#regions.push(new Float64Array(buffer, w * REGION * Float64Array.BYTES_PER_ELEMENT, REGION));
  }

  #sum(slot: number): number {
    let n = 0;
    for (const r of this.#regions) n += r[slot]!;
    return n;
  }

  fixed(name: keyof typeof FIXED): number {
    return this.#sum(FIXED[name]);
  }

  /** One series' counter at `offset` in its block (BLOCK). */
  counter(series: number, offset: number): number {
    return this.#sum(FIXED_SLOTS + series * BLOCK.size + offset);
  }

  /** Requests of a series by METHODS × STATUS_CLASSES index. */
  requests(series: number, method: number, cls: number): number {
    return this.counter(series, BLOCK.requests + method * STATUS_CLASSES.length + cls);
  }

  histogram(series: number, offset: typeof BLOCK.duration | typeof BLOCK.upstreamDuration): HistogramSum {
    const buckets: number[] = [];
    let running = 0;
    for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
      running += this.counter(series, offset + i);
      buckets.push(running);
    }
    return { buckets, sum: this.counter(series, offset + H - 1) };
  }

  /** A worker exited: its open connections are gone (its counters stay, and its replacement adds to them). */
  releaseWorker(worker: number): void {
    const r = this.#regions[worker];
    if (r === undefined) return;
    r[FIXED.connectionsHttp] = 0;
    r[FIXED.connectionsHttps] = 0;
  }
}
