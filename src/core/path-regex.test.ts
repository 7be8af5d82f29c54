import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePathRegex, MAX_PROGRAM_SIZE, type PathRegex } from './path-regex.ts';

function compiled(pattern: string): PathRegex {
  const re = compilePathRegex(pattern);
  if (typeof re === 'string') throw new Error(re);
  return re;
}

describe('compilePathRegex', () => {
  it('matches case-insensitively at the start of the path, never further in', () => {
    const re = compiled('/foo/bar/[a-z]{3}');
    expect(re.test('/foo/bar/baz')).toBe(true);
    expect(re.test('/FOO/Bar/BAZ/more')).toBe(true);
    expect(re.test('/x/foo/bar/baz')).toBe(false);
    expect(re.test('/foo/bar/ba')).toBe(false);
  });

  it('anchors every alternative, not only the first (nginx anchors `^/a|/b` on /a only)', () => {
    const re = compiled('/a|/b');
    expect(re.test('/b/x')).toBe(true);
    expect(re.test('/x/b')).toBe(false);
  });

  it('takes the capture groups of the match, "" for a group that took no part', () => {
    const re = compiled('/something(/|$)(.*)');
    expect(re.groupCount).toBe(2);
    expect(re.groups('/something/new/x')).toEqual(['/', 'new/x']);
    expect(re.groups('/SomeThing')).toEqual(['', '']);
    expect(re.groups('/other')).toBeNull();
    expect(compiled('/a(x)?(b)').groups('/ab')).toEqual(['', 'b']);
    expect(compiled('/([0-9]+)/(?:x)').groups('/12/x')).toEqual(['12']);
  });

  it('takes every realistic path regex', () => {
    for (const p of ['/something(/|$)(.*)', '/api/v[0-9]+/(users|groups)/([^/]+)/items/(.*)', '/[a-z0-9-]{1,63}/(.*)', '/foo/.*', '/.well-known/(openid-configuration|jwks.json)$', '/static/[a-z0-9._-]+\\.(css|js)$', '/', '/a@b!c,d;e\'f', '/^anchored', '/(a+)+$']) {
      expect(typeof compilePathRegex(p), p).toBe('object');
    }
  });

  it.each([
    ['/a(?=b)', /not an RE2 regular expression: .*\(\?=.*no lookarounds or backreferences/],
    ['/(a)\\1', /not an RE2 regular expression: invalid escape sequence/],
    ['/(a', /not an RE2 regular expression: missing closing \)/],
    ['/a)|(.*', /not an RE2 regular expression: unexpected \)/],
    ['/a**', /invalid nested repetition operator/],
    ['/a{1001}', /invalid repeat count/],
    ['/a%2Fb', /must start with "\/" and hold only/],
    ['/a b', /must start with "\/" and hold only/],
    ['/a"b', /must start with "\/" and hold only/],
    ['/a#b', /must start with "\/" and hold only/],
    ['a/b', /must start with "\/" and hold only/],
    ['/(?P<n>x)', /must start with "\/" and hold only/],
    ['/caf\u00e9', /must start with "\/" and hold only/],
    ['/[a-z]{1,200}', new RegExp(`compiles to \\d+ instructions, more than ${MAX_PROGRAM_SIZE}`)],
    [`/${'a'.repeat(1025)}`, /is longer than 1024 characters/],
  ])('refuses %j with the reason', (pattern, reason) => {
    const re = compilePathRegex(pattern);
    expect(typeof re).toBe('string');
    expect(re).toMatch(reason);
  });

  // A backtracking engine (V8's RegExp, PCRE) takes about 2^50 steps here; RE2 is linear.
  it('matches (a+)+$ against 50 a and a ! (catastrophic backtracking) in linear time', () => {
    const re = compiled('/(a+)+$');
    const path = `/${'a'.repeat(50)}!`;
    expect(re.test(path)).toBe(false);
    expect(re.groups(path)).toBeNull();
    expect(re.groups(`/${'a'.repeat(16_000)}`)).toEqual(['a'.repeat(16_000)]);
  });

  it('never throws, and never takes a pattern with characters outside its set, for any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.stringMatching(/^\/[-a-z0-9/.()[\]{}*+?|^$\\:]{0,30}$/)), (pattern) => {
        const re = compilePathRegex(pattern);
        if (typeof re === 'string') {
          expect(re).not.toMatch(/[\r\n]/);
          return;
        }
        expect(pattern).toMatch(/^\/[-._~A-Za-z0-9/:^$[\](){}*+?|&=\\@!',;]*$/);
        re.test('/a/b');
        re.groups('/a/b');
      }),
      { numRuns: 2000 },
    );
  });
});
