// The acme family: grammar (Go's ParseBool, our prefix only) and which certificates annotated
// Ingresses ask for (compile's settled TLS bindings; wildcards and entries without a Secret refused).

import { describe, expect, it } from 'vitest';
import type { Condition, TlsBinding } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { ACME_FIELD, acmeRequests, readAcme, type AcmeCandidate } from './acme.ts';

function ing(annotations: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations } };
}

describe('readAcme', () => {
  it('is off by default and reads gatehouse.io/acme as a boolean', () => {
    expect(readAcme(ing())).toEqual({ ok: true, value: { acme: false } });
    expect(readAcme(ing({ 'gatehouse.io/acme': 'true' }))).toEqual({ ok: true, value: { acme: true } });
    expect(readAcme(ing({ 'gatehouse.io/acme': 'T' }))).toEqual({ ok: true, value: { acme: true } });
    expect(readAcme(ing({ 'gatehouse.io/acme': '0' }))).toEqual({ ok: true, value: { acme: false } });
  });

  it('reads no other prefix: ingress-nginx has no such annotation, and kubernetes.io/tls-acme is cert-manager\'s', () => {
    expect(readAcme(ing({ 'nginx.ingress.kubernetes.io/acme': 'true', 'kubernetes.io/tls-acme': 'true' }))).toEqual({ ok: true, value: { acme: false } });
  });

  it.each(['yes', 'on', '', 'TrUe', 2])('refuses %j, naming the annotation', (value) => {
    const r = readAcme(ing({ 'gatehouse.io/acme': value }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([{ key: 'gatehouse.io/acme', message: expect.stringContaining('is not a boolean') }]);
  });
});

describe('acmeRequests', () => {
  const bind = (host: string, secret: string | null, ingress = 'shop/web'): [string, TlsBinding] => [host, { host, secret, ingress, field: 'spec.tls[0].secretName' }];
  const cand = (host: string, secret: string | null, ingress = 'shop/web', field = 'spec.tls[0].secretName'): AcmeCandidate => ({ host, secret, ingress, field });

  it('groups the winning bindings by Secret, hosts and Ingresses sorted', () => {
    const bindings = new Map([bind('b.example', 'shop/tls'), bind('a.example', 'shop/tls', 'shop/other'), bind('c.example', 'shop/c-tls')]);
    const conditions: Condition[] = [];
    const got = acmeRequests(['shop/other', 'shop/web'], [cand('b.example', 'shop/tls'), cand('a.example', 'shop/tls', 'shop/other'), cand('c.example', 'shop/c-tls')], bindings, true, conditions);
    expect(got).toEqual([
      { secret: 'shop/c-tls', hosts: ['c.example'], ingresses: ['shop/web'] },
      { secret: 'shop/tls', hosts: ['a.example', 'b.example'], ingresses: ['shop/other', 'shop/web'] },
    ]);
    expect(conditions).toEqual([]);
  });

  it('leaves out a host whose binding another Secret won (that Ingress already has GH_TLS_CONFLICT)', () => {
    const conditions: Condition[] = [];
    expect(acmeRequests(['shop/web'], [cand('a.example', 'shop/mine')], new Map([bind('a.example', 'shop/theirs', 'shop/old')]), true, conditions)).toEqual([]);
    expect(conditions).toEqual([]);
  });

  it('refuses wildcards and entries without a Secret, and tells an annotated Ingress that has no TLS host', () => {
    const conditions: Condition[] = [];
    const bindings = new Map([bind('*.example', 'shop/w'), bind('n.example', null)]);
    expect(acmeRequests(['shop/bare', 'shop/web'], [cand('*.example', 'shop/w'), cand('n.example', null, 'shop/web', 'spec.tls[1].secretName')], bindings, true, conditions)).toEqual([]);
    expect(conditions.map((c) => [c.ref.name, c.code, c.field])).toEqual([
      ['web', 'GH_ACME_TLS_INVALID', 'spec.tls[0].secretName'],
      ['web', 'GH_ACME_TLS_INVALID', 'spec.tls[1].secretName'],
      ['bare', 'GH_ACME_TLS_INVALID', ACME_FIELD],
    ]);
  });

  it('without --acme-directory: one GH_ACME_NOT_CONFIGURED per annotated Ingress, no request', () => {
    const conditions: Condition[] = [];
    expect(acmeRequests(['shop/web'], [cand('a.example', 'shop/tls')], new Map([bind('a.example', 'shop/tls')]), false, conditions)).toEqual([]);
    expect(conditions).toEqual([{ ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_ACME_NOT_CONFIGURED', field: ACME_FIELD, message: expect.stringContaining('--acme-directory') }]);
  });
});
