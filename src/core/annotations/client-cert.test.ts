import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { clientCertsByHost, readClientCert } from './client-cert.ts';

const N = 'nginx.ingress.kubernetes.io/';
const G = 'gatehouse.io/';
const SECRET = { ref: 'shop/ca', ingress: 'shop/web', field: `metadata.annotations["${N}auth-tls-secret"]` };

describe('client-cert family (auth-tls-*)', () => {
  it('is absent when no auth-tls annotation is set', () => {
    expect(readClientCert(annotated({}))).toEqual({ ok: true, value: undefined });
  });

  it('reads auth-tls-secret with ingress-nginx\'s defaults: verify on, depth 1, no error page, certificate not passed', () => {
    expect(readClientCert(annotated({ [`${N}auth-tls-secret`]: 'shop/ca' }))).toEqual({ ok: true, value: { secret: SECRET, verify: 'on', depth: 1, passCertificate: false } });
  });

  it('reads every setting, ours over ingress-nginx\'s prefix', () => {
    const r = readClientCert(annotated({
      [`${N}auth-tls-secret`]: 'shop/ca',
      [`${N}auth-tls-verify-client`]: 'on',
      [`${G}auth-tls-verify-client`]: 'optional_no_ca',
      [`${N}auth-tls-verify-depth`]: '3',
      [`${N}auth-tls-error-page`]: 'https://errors.example.com:8443/cert-error.html',
      [`${N}auth-tls-pass-certificate-to-upstream`]: 'true',
      [`${N}auth-tls-match-cn`]: 'CN=(alice|bob)',
    }));
    expect(r).toEqual({ ok: true, value: { secret: SECRET, verify: 'optional_no_ca', depth: 3, errorPage: 'https://errors.example.com:8443/cert-error.html', passCertificate: true, matchCn: 'CN=(alice|bob)' } });
  });

  it.each(['on', 'off', 'optional', 'optional_no_ca'])('takes auth-tls-verify-client %j', (v) => {
    const r = readClientCert(annotated({ [`${N}auth-tls-secret`]: 'shop/ca', [`${N}auth-tls-verify-client`]: v }));
    expect(r.ok && r.value?.verify).toBe(v);
  });

  it('refuses a Secret of another namespace, as ingress-nginx', () => {
    const r = readClientCert(annotated({ [`${N}auth-tls-secret`]: 'other/ca' }));
    expect(!r.ok && r.problems[0]!.message).toContain('Secret other/ca is in another namespace');
  });

  it('reads auth-tls-verify-depth 0 as 1, as ingress-nginx', () => {
    const r = readClientCert(annotated({ [`${N}auth-tls-secret`]: 'shop/ca', [`${N}auth-tls-verify-depth`]: '0' }));
    expect(r.ok && r.value?.depth).toBe(1);
  });

  it.each([
    ['auth-tls-secret', 'ca', 'is not "namespace/name" of a Secret'],
    ['auth-tls-verify-client', 'yes', 'is not "on", "off", "optional" or "optional_no_ca"'],
    ['auth-tls-verify-client', 'ON', 'is not "on"'],
    ['auth-tls-verify-depth', '-1', 'is not a whole number from 0 to 100'],
    ['auth-tls-verify-depth', '1.5', 'is not a whole number'],
    ['auth-tls-verify-depth', '101', 'is not a whole number'],
    ['auth-tls-error-page', '/error', 'is not an absolute http:// or https:// URL'],
    ['auth-tls-error-page', '@cert_error', 'is not an absolute'],
    ['auth-tls-error-page', 'example.com/error', 'is not an absolute'],
    ['auth-tls-error-page', 'https://example.com/e?x=$host', 'is not an absolute'],
    ['auth-tls-pass-certificate-to-upstream', 'yes', 'is not a boolean'],
    ['auth-tls-match-cn', 'alice', 'does not start with "CN="'],
    ['auth-tls-match-cn', 'CN=(alice', 'is not an RE2 regular expression'],
    ['auth-tls-match-cn', 'CN=(?=alice)', 'is not an RE2 regular expression'],
    ['auth-tls-match-cn', 'CN=[a-z]{1,1000}', 'instructions, more than 250'],
  ])('refuses %s %j, naming the annotation and what was expected', (name, value, why) => {
    const extra = name === 'auth-tls-secret' ? {} : { [`${N}auth-tls-secret`]: 'shop/ca' };
    expectRefused(readClientCert(annotated({ ...extra, [`${N}${name}`]: value })), `${N}${name}`, value, why);
  });

  it('refuses the other auth-tls annotations without auth-tls-secret (ingress-nginx ignores them; nothing would check a certificate)', () => {
    const r = readClientCert(annotated({ [`${N}auth-tls-verify-client`]: 'on', [`${G}auth-tls-match-cn`]: 'CN=a' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.key)).toEqual([`${N}auth-tls-verify-client`, `${G}auth-tls-match-cn`]);
  });

  it('never throws and yields no control characters on random values', () => {
    const names = ['secret', 'verify-client', 'verify-depth', 'error-page', 'pass-certificate-to-upstream', 'match-cn'].map((n) => `${N}auth-tls-${n}`);
    fuzzAnnotation(names, readClientCert, { [`${G}auth-tls-secret`]: 'shop/ca' });
    fuzzAnnotation(names, readClientCert);
  });
});

describe('clientCertsByHost', () => {
  const ing = (name: string) => ({ ...annotated({}), metadata: { name, namespace: 'shop' } });
  const cc = (ref: string, verify: 'on' | 'optional' = 'on') => ({ secret: { ...SECRET, ref, ingress: `shop/${ref}` }, verify, depth: 1, passCertificate: false });

  it('gives each host the settings of its oldest Ingress that sets them; a younger one with other settings gets a conflict, the same settings none', () => {
    const conflicts: string[] = [];
    const out = clientCertsByHost([
      { ingress: ing('a'), hosts: ['a.example.com', 'b.example.com'], clientCert: cc('one') },
      { ingress: ing('b'), hosts: ['b.example.com'], clientCert: cc('one') },
      { ingress: ing('c'), hosts: ['b.example.com', 'c.example.com'], clientCert: cc('one', 'optional') },
    ], (i, _field, message) => conflicts.push(`${i.metadata.name}: ${message}`));
    expect([...out.keys()]).toEqual(['a.example.com', 'b.example.com', 'c.example.com']);
    expect(out.get('b.example.com')).toEqual({ host: 'b.example.com', ...cc('one') });
    expect(out.get('c.example.com')!.verify).toBe('optional');
    expect(conflicts).toEqual(['c: host "b.example.com" already has client-certificate settings from Ingress shop/one, which is older; those apply to all its paths, not this Ingress\'s']);
  });
});
