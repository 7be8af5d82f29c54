import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { readServerAlias } from './server-alias.ts';

const ALIAS = 'nginx.ingress.kubernetes.io/server-alias';

describe('server-alias', () => {
  it.each([
    ['b.example.com', ['b.example.com']],
    ['B.Example.com., c.example.com,,', ['b.example.com', 'c.example.com']],
    ['*.wild.example.com', ['*.wild.example.com']],
    ['c.example.com,b.example.com,c.example.com', ['b.example.com', 'c.example.com']],
    ['localhost', ['localhost']],
  ])('reads %j as %j', (value, aliases) => {
    expect(readServerAlias(annotated({ [ALIAS]: value }))).toEqual({ ok: true, value: aliases });
  });

  it('reads an absent or empty list as none', () => {
    expect(readServerAlias(annotated({}))).toEqual({ ok: true, value: undefined });
    expect(readServerAlias(annotated({ [ALIAS]: ' , ' }))).toEqual({ ok: true, value: undefined });
  });

  it.each(['~^www\\d+\\.example\\.com$', '*.*.example.com', 'www.example.*', '.example.com', 'a..b', 'a b.com', '10.0.0.1', '[::1]', 'a_b.com', 'b.example.com:80', '*'])('refuses %j (regexes and other nginx server_name forms)', (value) => {
    const r = readServerAlias(annotated({ [ALIAS]: `ok.example.com, ${value}` }));
    expectRefused(r, ALIAS, value, 'is not a host name or a one-label wildcard');
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    fuzzAnnotation([ALIAS], readServerAlias);
  });
});
