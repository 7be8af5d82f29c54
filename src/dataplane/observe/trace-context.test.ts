import { describe, expect, it } from 'vitest';
import { traceContext, traceparentOf } from './trace-context.ts';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('W3C trace context for the proxy hop', () => {
  it('keeps a valid traceparent\'s trace id and sampled flag, with a new span id, and its tracestate', () => {
    const t = traceContext(PARENT, 'congo=t61rcWkgMzE', null)!;
    expect(t.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(t.parentId).toBe('b7ad6b7169203331');
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe(t.parentId);
    expect(t.sampled).toBe(true);
    expect(t.tracestate).toBe('congo=t61rcWkgMzE');
    expect(traceparentOf(t)).toBe(`00-0af7651916cd43dd8448eb211c80319c-${t.spanId}-01`);
    expect(traceContext(PARENT.replace(/01$/, '00'), undefined, 1)!.sampled).toBe(false);
    // A later version's extra fields are allowed (§3.2.4).
    expect(traceContext(`cc${PARENT.slice(2)}-what-the-future-holds`, undefined, null)!.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it.each([
    ['upper case', PARENT.toUpperCase()],
    ['all-zero trace id', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`],
    ['all-zero span id', `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`],
    ['version ff', `ff${PARENT.slice(2)}`],
    ['version 00 with more fields', `${PARENT}-x`],
    ['short trace id', '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01'],
    ['two headers', [PARENT, PARENT]],
  ])('replaces a malformed traceparent (%s) with a new trace, and drops its tracestate', (_, bad) => {
    const t = traceContext(bad, 'congo=t61rcWkgMzE', null)!;
    expect(t.parentId).toBeNull();
    expect(t.traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.tracestate).toBeNull();
    expect(t.sampled).toBe(false);
  });

  it('starts a trace for a request without one only when spans are exported, sampled by the ratio', () => {
    expect(traceContext(undefined, 'a=b', null)).toBeNull();
    expect(traceContext(undefined, undefined, 1)!.sampled).toBe(true);
    expect(traceContext(undefined, undefined, 0)!.sampled).toBe(false);
  });
});
