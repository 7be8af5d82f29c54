import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { annotated, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { DEFAULT_PROXY_BODY_SIZE, parseSize, readBodySize } from './body-size.ts';

const KEY = 'nginx.ingress.kubernetes.io/proxy-body-size';

describe('body-size family', () => {
  it('defaults to 1m, as ingress-nginx', () => {
    expect(DEFAULT_PROXY_BODY_SIZE).toBe(1048576);
    expect(readBodySize(annotated({}))).toEqual({ ok: true, value: undefined });
  });

  it.each([
    ['0', 0], ['1', 1], ['1000', 1000], ['8k', 8192], ['8K', 8192], ['1m', 1048576], ['1M', 1048576],
    ['2g', 2 * 1024 ** 3], ['2G', 2 * 1024 ** 3], ['0m', 0], ['007k', 7168], [' 10m ', 10485760],
  ])('reads %j as nginx does: %d bytes', (value, bytes) => {
    expect(readBodySize(annotated({ [KEY]: value }))).toEqual({ ok: true, value: bytes });
  });

  it.each(['', ' ', '8b', '8kb', '1.5m', '-1', '+1', 'm', '1 m', '1t', 'unlimited', '1m\n2m', '99999999999999999', '9999999g'])('refuses %j, naming the annotation and the syntax', (value) => {
    expect(readBodySize(annotated({ [KEY]: value }))).toEqual({
      ok: false,
      problems: [{ key: KEY, message: `${KEY}: ${JSON.stringify(value)} is not a size (digits, optionally followed by k, m or g, like "8k", "1m" or "0" for no limit)` }],
    });
  });

  it('reads gatehouse.io/proxy-body-size over the nginx one', () => {
    expect(readBodySize(annotated({ [KEY]: '1k', 'gatehouse.io/proxy-body-size': '2k' }))).toEqual({ ok: true, value: 2048 });
  });

  it('parses every digits+unit size to an exact byte count (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 20 }), fc.constantFrom('', 'k', 'K', 'm', 'M', 'g', 'G'), (n, unit) => {
        expect(parseSize(`${n}${unit}`)).toBe(n * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit.toLowerCase()]!);
      }),
    );
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    fuzzAnnotation([KEY, 'gatehouse.io/proxy-body-size'], readBodySize);
  });
});
