import { describe, expect, it } from 'vitest';
import { normaliseUriPath } from './normalise-uri-path.ts';

describe('normaliseUriPath', () => {
  it.each([
    // Already normal: returned as is, query and fragment cut off.
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/b/', '/a/b/'],
    ['/a/b?x=/../&y=%zz', '/a/b'],
    ['/a#frag', '/a'],
    ['/a;b=c/d', '/a;b=c/d'],
    ["/!$&'()*+,;=:@-._~", "/!$&'()*+,;=:@-._~"],
    ['/a.b/c..d/...', '/a.b/c..d/...'],
    ['/private.', '/private.'],
    // Unreserved escapes decode, in either case; others stay encoded, upper-cased.
    ['/%70rivate', '/private'],
    ['/%41%7a%30%2D%2e%5F%7E', '/Az0-._~'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%3bb', '/a%3Bb'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/%25', '/%25'],
    ['/%2541', '/%2541'],
    ['/%00', '/%00'],
    // Characters that may not appear in a path are encoded.
    ['/a b', '/a%20b'],
    ['/a"<>\\^`{|}', '/a%22%3C%3E%5C%5E%60%7B%7C%7D'],
    ['/caf\u00e9', '/caf%E9'],
    ['/\u20ac', '/%E2%82%AC'],
    ['/\u{1F600}', '/%F0%9F%98%80'],
    // Slashes merged.
    ['//private', '/private'],
    ['/a//b///c', '/a/b/c'],
    ['/a//', '/a/'],
    // Dot segments removed (RFC 3986 §5.2.4), also when spelled with escapes.
    ['/./private', '/private'],
    ['/public/../private', '/private'],
    ['/%2e%2e/private', null],
    ['/public/%2e%2e/private', '/private'],
    ['/public/%2E%2e/private', '/private'],
    ['/public/.%2e/private', '/private'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/./b/../../c', '/c'],
    ['/a/..', '/'],
    ['/.', '/'],
    ['/..%2fprivate', '/..%2Fprivate'],
    ['/%2e%2e%2fprivate', '/..%2Fprivate'],
    // Climbing above the root, malformed escapes and non-origin-form targets are refused.
    ['/..', null],
    ['/../a', null],
    ['/a/../..', null],
    ['/a/../../b', null],
    ['//..//a', null],
    ['/%zz', null],
    ['/%', null],
    ['/a%2', null],
    ['/a%g0', null],
    ['*', null],
    ['', null],
    ['http://h/a', null],
    ['a/b', null],
  ] as const)('%j → %j', (target, want) => {
    expect(normaliseUriPath(target)).toBe(want);
  });

  it('is idempotent: a normal path is its own normal form', () => {
    for (const t of ['/public/%2e%2e/private', '/a%2fb/./c//d', '/caf\u00e9/%7e', '/a b/..//c/.']) {
      const once = normaliseUriPath(t)!;
      expect(normaliseUriPath(once)).toBe(once);
    }
  });

  it('returns the very same string when nothing changes', () => {
    const target = '/a/b/c-d_e~f';
    expect(normaliseUriPath(target)).toBe(target);
  });
});
