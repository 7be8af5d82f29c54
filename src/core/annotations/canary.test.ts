import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { readCanary } from './canary.ts';

const N = 'nginx.ingress.kubernetes.io/';
const G = 'gatehouse.io/';

describe('canary family', () => {
  it('is absent when no canary annotation is set', () => {
    expect(readCanary(annotated({}))).toEqual({ ok: true, value: undefined });
  });

  it('reads canary: "true" alone as a canary with weight 0 out of 100', () => {
    expect(readCanary(annotated({ [`${N}canary`]: 'true' }))).toEqual({ ok: true, value: { enabled: true, keys: [], rules: { weight: 0, weightTotal: 100 } } });
  });

  it('reads every rule: header name lower-cased with "_" as "-", cookie name lower-cased, weights', () => {
    const r = readCanary(annotated({ [`${N}canary`]: 'true', [`${N}canary-by-header`]: 'X_Canary', [`${N}canary-by-cookie`]: 'Canary_Cookie', [`${N}canary-weight`]: ' 333 ', [`${N}canary-weight-total`]: '1000' }));
    expect(r).toEqual({
      ok: true,
      value: {
        enabled: true,
        keys: [`${N}canary-by-header`, `${N}canary-by-cookie`, `${N}canary-weight`, `${N}canary-weight-total`],
        rules: { header: { name: 'x-canary' }, cookie: 'canary_cookie', weight: 333, weightTotal: 1000 },
      },
    });
  });

  it('reads canary-by-header-value (spaces between words allowed) and -pattern; the value wins when both are set (ingress-nginx docs)', () => {
    const value = readCanary(annotated({ [`${N}canary`]: 'true', [`${N}canary-by-header`]: 'x-region', [`${N}canary-by-header-value`]: 'eu-west/1:a b' }));
    expect(value.ok && value.value?.rules.header).toEqual({ name: 'x-region', value: 'eu-west/1:a b' });
    const pattern = readCanary(annotated({ [`${N}canary`]: 'true', [`${N}canary-by-header`]: 'x-region', [`${N}canary-by-header-pattern`]: '^eu-(west|north)$' }));
    expect(pattern.ok && pattern.value?.rules.header).toEqual({ name: 'x-region', pattern: '^eu-(west|north)$' });
    const both = readCanary(annotated({ [`${N}canary`]: 'true', [`${N}canary-by-header`]: 'x-region', [`${N}canary-by-header-value`]: 'eu', [`${N}canary-by-header-pattern`]: 'us.*' }));
    expect(both.ok && both.value?.rules.header).toEqual({ name: 'x-region', value: 'eu' });
  });

  it('ignores canary-by-header-value and -pattern without canary-by-header (ingress-nginx: "no effect")', () => {
    const r = readCanary(annotated({ [`${N}canary`]: 'true', [`${N}canary-by-header-value`]: 'yes' }));
    expect(r.ok && r.value?.rules).toEqual({ weight: 0, weightTotal: 100 });
  });

  it('reads gatehouse.io/ over nginx.ingress.kubernetes.io/', () => {
    const r = readCanary(annotated({ [`${N}canary`]: 'true', [`${N}canary-weight`]: '10', [`${G}canary-weight`]: '20' }));
    expect(r.ok && r.value?.rules.weight).toBe(20);
  });

  it('reports canary-* set without canary: "true" (not enabled), as ingress-nginx serves the Ingress as a normal one', () => {
    const r = readCanary(annotated({ [`${N}canary`]: 'false', [`${N}canary-weight`]: '10' }));
    expect(r).toEqual({ ok: true, value: { enabled: false, keys: [`${N}canary-weight`], rules: { weight: 10, weightTotal: 100 } } });
    expect(readCanary(annotated({ [`${N}canary-by-cookie`]: 'c' })).ok && readCanary(annotated({ [`${N}canary-by-cookie`]: 'c' }))).toMatchObject({ value: { enabled: false } });
  });

  it.each([
    ['canary', 'yes', 'is not a boolean'],
    ['canary-weight', '-1', 'a whole number (0 or more)'],
    ['canary-weight', '10.5', 'a whole number (0 or more)'],
    ['canary-weight', '101', 'a weight from 0 to canary-weight-total (100)'],
    ['canary-weight-total', '50', 'ingress-nginx reads a smaller total as 100'],
    ['canary-weight-total', 'lots', 'a whole number'],
    ['canary-by-header', 'X Canary', 'a header name'],
    ['canary-by-header', 'x-canary:', 'a header name'],
    ['canary-by-header', '', 'a header name'],
    ['canary-by-header-value', 'a"b', 'a header value'],
    ['canary-by-header-value', 'a\r\nb', 'a header value'],
    ['canary-by-cookie', 'a;b', 'a cookie name'],
    ['canary-by-header-pattern', '(a', 'not an RE2 regular expression'],
    ['canary-by-header-pattern', '(?=a)b', 'RE2 has no lookarounds'],
    ['canary-by-header-pattern', 'a{1000}', 'instructions, more than'],
    ['canary-by-header-pattern', 'a b', 'as ingress-nginx allows'],
    ['canary-by-header-pattern', '', 'as ingress-nginx allows'],
  ])('refuses %s: %j', (name, value, why) => {
    const extra = name === 'canary' ? {} : { [`${N}canary`]: 'true', ...(name.startsWith('canary-by-header-') ? { [`${N}canary-by-header`]: 'x-c' } : {}) };
    expectRefused(readCanary(annotated({ ...extra, [`${N}${name}`]: value })), `${N}${name}`, value, why);
  });

  it('never throws and never yields control characters on random values', () => {
    fuzzAnnotation(['canary', 'canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total'].map((n) => N + n), readCanary, {
      [`${N}canary`]: 'true',
      [`${N}canary-by-header`]: 'x-c',
    });
  });
});
