// W3C Trace Context (https://www.w3.org/TR/trace-context/) for the proxy hop: a valid incoming
// traceparent keeps its trace id and sampled flag (parent-based sampling) and gets a new span id,
// ours, as the upstream's parent; its tracestate goes along unchanged. A malformed one (§3.2.2:
// wrong length or case, all-zero ids, version ff, several headers) is replaced with a new trace and
// its tracestate dropped (§3.3: tracestate without a valid traceparent is discarded): never passed
// through. With no traceparent a new trace starts only when spans are exported (--otlp-endpoint);
// otherwise nothing is added, as before.

import { randomHex } from '../random-hex.ts';

export interface TraceContext {
  readonly traceId: string;
  /** Our span, the upstream's parent. */
  readonly spanId: string;
  /** The client's span; null for a trace we started. */
  readonly parentId: string | null;
  readonly sampled: boolean;
  readonly tracestate: string | null;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A new span id (never all zero). */
function spanId(): string {
  const id = randomHex(8);
  return id === ZERO_SPAN ? spanId() : id;
}

/**
 * The trace context of one request. `ratio`: the share of new traces sampled; null: no spans are
 * exported, and a request without a traceparent gets none.
 */
export function traceContext(traceparent: string | string[] | undefined, tracestate: string | string[] | undefined, ratio: number | null): TraceContext | null {
  if (traceparent === undefined && ratio === null) return null;
  const m = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null;
  // §3.2.2.1: version ff is invalid; version 00 has exactly four fields; later versions may add more.
  if (m !== null && m[1] !== 'ff' && !(m[1] === '00' && m[5] !== undefined) && m[2] !== ZERO_TRACE && m[3] !== ZERO_SPAN) {
    const state = typeof tracestate === 'string' ? tracestate : Array.isArray(tracestate) ? tracestate.join(',') : null;
    return { traceId: m[2]!, spanId: spanId(), parentId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1, tracestate: state === '' ? null : state };
  }
  let traceId = randomHex(16);
  while (traceId === ZERO_TRACE) traceId = randomHex(16);
  return { traceId, spanId: spanId(), parentId: null, sampled: ratio !== null && Math.random() < ratio, tracestate: null };
}

/** The traceparent header the upstream gets: version 00, our span as its parent. */
export function traceparentOf(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}`;
}
