import { describe, expect, it } from 'vitest';
import { framingStatus } from './framing-status.ts';

function headers(n: number, name = 'x-h'): string[] {
  return Array.from({ length: n }, (_, i) => [`${name}${i}`, 'v']).flat();
}

describe('framingStatus', () => {
  it('lets a request with one Host and few headers through', () => {
    expect(framingStatus(['Host', 'a', 'Accept', '*/*'], 100)).toBe(0);
    expect(framingStatus([], 100)).toBe(0);
  });

  it.each([
    [['Host', 'a', 'Host', 'b']],
    [['host', 'a', 'HOST', 'a']],
    [['Host', 'a', 'x', 'y', 'hOsT', 'a']],
  ])('refuses two Host lines with 400: %j', (raw) => {
    expect(framingStatus(raw, 100)).toBe(400);
  });

  it('counts header lines against the limit, HTTP/2 pseudo-headers not included', () => {
    expect(framingStatus(headers(100), 100)).toBe(0);
    expect(framingStatus(headers(101), 100)).toBe(431);
    const h2 = [':method', 'GET', ':path', '/', ':scheme', 'https', ':authority', 'a', ...headers(100)];
    expect(framingStatus(h2, 100)).toBe(0);
    expect(framingStatus([...h2, 'one', 'more'], 100)).toBe(431);
  });

  it('answers 431 before 400 when both apply', () => {
    expect(framingStatus(['Host', 'a', 'Host', 'b', ...headers(100)], 100)).toBe(431);
  });
});
