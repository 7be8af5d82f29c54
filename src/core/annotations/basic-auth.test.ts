import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { readBasicAuth } from './basic-auth.ts';
import { readSatisfy } from './satisfy.ts';

const N = 'nginx.ingress.kubernetes.io/';
const BASIC = { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users' };
const field = (key: string) => `metadata.annotations[${JSON.stringify(key)}]`;

describe('basic-auth family', () => {
  it('is off without auth-type', () => {
    expect(readBasicAuth(annotated({}))).toEqual({ ok: true, value: undefined });
  });

  it("has ingress-nginx's defaults: auth-file, empty realm, the Ingress's namespace", () => {
    expect(readBasicAuth(annotated(BASIC))).toEqual({
      ok: true,
      value: { secret: { ref: 'shop/users', ingress: 'shop/web', field: field(`${N}auth-secret`) }, secretType: 'auth-file', realm: '' },
    });
  });

  it('reads every annotation under both prefixes, ours winning', () => {
    const r = readBasicAuth(annotated({
      ...BASIC,
      'gatehouse.io/auth-secret': 'shop/admins',
      [`${N}auth-secret-type`]: ' auth-map ',
      [`${N}auth-realm`]: 'Authentication Required - shop: admins/~._!#$%&\'()*+,;<=>?@[]^`{|}',
    }));
    expect(r).toEqual({
      ok: true,
      value: {
        secret: { ref: 'shop/admins', ingress: 'shop/web', field: field('gatehouse.io/auth-secret') },
        secretType: 'auth-map',
        realm: 'Authentication Required - shop: admins/~._!#$%&\'()*+,;<=>?@[]^`{|}',
      },
    });
  });

  it('refuses digest with its own code', () => {
    const r = readBasicAuth(annotated({ ...BASIC, [`${N}auth-type`]: 'digest' }));
    expect(r).toEqual({ ok: false, problems: [{ key: `${N}auth-type`, code: 'GH_AUTH_TYPE_UNSUPPORTED', message: expect.stringContaining('"digest" authentication is not supported') }] });
  });

  it.each([
    ['auth-type', 'Basic', 'expected "basic"'],
    ['auth-type', 'basicx', 'expected "basic"'],
    ['auth-secret', 'Users', 'is not a Secret'],
    ['auth-secret', 'a/b/c', 'is not a Secret'],
    ['auth-secret', '', 'is not a Secret'],
    ['auth-secret-type', 'auth-files', 'expected "auth-file" or "auth-map"'],
    ['auth-realm', 'say "hi"', 'is not a realm'],
    ['auth-realm', 'back\\slash', 'is not a realm'],
    ['auth-realm', 'line\r\nX-Injected: 1', 'is not a realm'],
    ['auth-realm', 'caf\u00e9', 'is not a realm'],
  ])('refuses %s %j', (name, value, why) => {
    expectRefused(readBasicAuth(annotated({ ...BASIC, [`${N}${name}`]: value })), `${N}${name}`, value, why);
  });

  it("refuses a Secret of another namespace (allow-cross-namespace-resources is off by default)", () => {
    const r = readBasicAuth(annotated({ ...BASIC, [`${N}auth-secret`]: 'other/users' }));
    expect(r).toMatchObject({ ok: false, problems: [{ key: `${N}auth-secret`, message: expect.stringContaining('Secret other/users is in another namespace') }] });
  });

  it('takes namespace/name in its own namespace', () => {
    expect(readBasicAuth(annotated({ ...BASIC, [`${N}auth-secret`]: 'shop/users' }))).toMatchObject({ ok: true, value: { secret: { ref: 'shop/users' } } });
  });

  it('refuses basic without auth-secret', () => {
    expect(readBasicAuth(annotated({ [`${N}auth-type`]: 'basic' }))).toMatchObject({ ok: false, problems: [{ key: `${N}auth-type`, message: expect.stringContaining('needs auth-secret') }] });
  });

  it('refuses auth-secret, auth-secret-type or auth-realm without auth-type (ingress-nginx would not authenticate)', () => {
    const r = readBasicAuth(annotated({ [`${N}auth-secret`]: 'users', [`${N}auth-realm`]: 'x' }));
    expect(r).toMatchObject({ ok: false, problems: [{ key: `${N}auth-secret` }, { key: `${N}auth-realm` }] });
  });

  it('never throws and yields no control characters', () => {
    fuzzAnnotation([`${N}auth-type`, `${N}auth-secret`, `${N}auth-secret-type`, `${N}auth-realm`], readBasicAuth, BASIC);
  });
});

describe('satisfy family', () => {
  it('is all (undefined) by default and for "all"; "any" when asked, spaces trimmed', () => {
    expect(readSatisfy(annotated({}))).toEqual({ ok: true, value: undefined });
    expect(readSatisfy(annotated({ [`${N}satisfy`]: 'all' }))).toEqual({ ok: true, value: undefined });
    expect(readSatisfy(annotated({ [`${N}satisfy`]: ' any ' }))).toEqual({ ok: true, value: 'any' });
    expect(readSatisfy(annotated({ [`${N}satisfy`]: 'all', 'gatehouse.io/satisfy': 'any' }))).toEqual({ ok: true, value: 'any' });
  });

  it.each(['Any', 'some', ''])('refuses %j (ingress-nginx silently takes all)', (value) => {
    expectRefused(readSatisfy(annotated({ [`${N}satisfy`]: value })), `${N}satisfy`, value, 'is not "any" or "all"');
  });

  it('never throws and yields no control characters', () => {
    fuzzAnnotation([`${N}satisfy`], readSatisfy);
  });
});
