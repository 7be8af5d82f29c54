// OTLP/HTTP span export (https://opentelemetry.io/docs/specs/otlp/#otlphttp), JSON encoding, over
// undici: each worker queues the spans of its sampled requests and posts them in batches. The
// queue is bounded: a span that finds it full is dropped and counted (never waited for), and so
// is a batch the receiver refuses or does not answer in time. One post in flight at a time.

import { Agent } from '../undici-dispatchers.ts';
import type { TraceContext } from './trace-context.ts';

/** Spans a worker holds at most; past it, new ones are dropped. */
export const QUEUE_LIMIT = 2048;
/** Spans per post. */
const BATCH = 512;
/** The longest a span waits in the queue before its batch goes. */
const FLUSH_MS = 1000;
const TIMEOUT_MS = 10_000;

/** One request's span: the proxy hop, as a SERVER span. */
export interface ProxySpan {
  readonly trace: TraceContext;
  /** Epoch nanoseconds, as decimal strings (OTLP/JSON's fixed64). */
  readonly start: string;
  readonly end: string;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly status: number;
  readonly protocol: string;
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  readonly upstreamAddress: string | null;
}

type Attribute = { key: string; value: { stringValue: string } | { intValue: string } };

const str = (key: string, v: string): Attribute => ({ key, value: { stringValue: v } });

function otlpSpan(s: ProxySpan): unknown {
  const attributes: Attribute[] = [
    str('http.request.method', s.method),
    str('url.path', s.path),
    str('server.address', s.host),
    { key: 'http.response.status_code', value: { intValue: String(s.status) } },
    str('network.protocol.version', s.protocol),
  ];
  if (s.namespace !== '') attributes.push(str('k8s.namespace.name', s.namespace));
  if (s.ingress !== '') attributes.push(str('gatehouse.ingress', s.ingress));
  if (s.service !== '') attributes.push(str('gatehouse.service', s.service));
  if (s.upstreamAddress !== null) attributes.push(str('upstream.address', s.upstreamAddress));
  return {
    traceId: s.trace.traceId,
    spanId: s.trace.spanId,
    ...(s.trace.parentId === null ? {} : { parentSpanId: s.trace.parentId }),
    ...(s.trace.tracestate === null ? {} : { traceState: s.trace.tracestate }),
    name: s.method,
    kind: 2, // SPAN_KIND_SERVER
    startTimeUnixNano: s.start,
    endTimeUnixNano: s.end,
    attributes,
    // STATUS_CODE_ERROR for 5xx (OpenTelemetry HTTP semantic conventions: a server span's 4xx is not an error).
    status: s.status >= 500 ? { code: 2 } : {},
  };
}

export interface SpanExporterCounts {
  exported(n: number): void;
  dropped(n: number): void;
}

export class SpanExporter {
  readonly #origin: string;
  readonly #path: string;
  /** An Agent with undici's defaults, as its global one that `request()` used (undici-dispatchers.ts says why not that). */
  #agent: Agent | null = null;
  readonly #counts: SpanExporterCounts;
  #queue: ProxySpan[] = [];
  #inFlight = false;
  #timer: NodeJS.Timeout | null = null;

  /** `endpoint`: the OTLP/HTTP base URL (`/v1/traces` is appended unless it already ends so). */
  constructor(endpoint: string, counts: SpanExporterCounts) {
    const url = new URL(/\/v1\/traces$/.test(endpoint) ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`);
    this.#origin = url.origin;
    this.#path = `${url.pathname}${url.search}`;
    this.#counts = counts;
  }

  add(span: ProxySpan): void {
    if (this.#queue.length >= QUEUE_LIMIT) return this.#counts.dropped(1);
    this.#queue.push(span);
    if (this.#queue.length >= BATCH) this.#post();
    else this.#timer ??= setTimeout(() => this.#post(), FLUSH_MS).unref();
  }

  #post(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#inFlight || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, BATCH);
    this.#inFlight = true;
    const body = JSON.stringify({
      resourceSpans: [{ resource: { attributes: [str('service.name', 'gatehouse')] }, scopeSpans: [{ scope: { name: 'gatehouse' }, spans: batch.map(otlpSpan) }] }],
    });
    (this.#agent ??= new Agent())
      .request({ origin: this.#origin, path: this.#path, method: 'POST', headers: { 'content-type': 'application/json' }, body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) this.#counts.exported(batch.length);
        else this.#counts.dropped(batch.length);
      })
      .catch(() => this.#counts.dropped(batch.length))
      .finally(() => {
        this.#inFlight = false;
        if (this.#queue.length >= BATCH) this.#post();
        else if (this.#queue.length > 0) this.#timer ??= setTimeout(() => this.#post(), FLUSH_MS).unref();
      });
  }

  /** Post what is queued now (drain). */
  flush(): void {
    this.#post();
  }
}
