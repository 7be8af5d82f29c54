// The control plane's Secret checks: each failure gives the right code and the default
// certificate; good Secrets are served by content id; data and stringData both read.

import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TlsBinding } from '../../core/model.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import { createCa, expired, mismatched, tlsSecret, type KeyPair, type TestCa } from '../../../test/support/certs.ts';
import { CertificateResolver, certificateId } from './certificate-resolver.ts';
import { CertStore } from '../../dataplane/tls/cert-store.ts';

function binding(host: string, secret: string | null, field = 'spec.tls[0].secretName'): TlsBinding {
  return { host, secret, ingress: 'shop/web', field };
}

describe('CertificateResolver', () => {
  let ca: TestCa;
  let good: KeyPair;
  let other: KeyPair;
  let old: KeyPair;
  const secrets = new Map<string, KubeObject>();
  const put = (o: Record<string, unknown>) => {
    const m = o.metadata as { namespace: string; name: string };
    secrets.set(`${m.namespace}/${m.name}`, o as unknown as KubeObject);
  };
  const resolver = () => new CertificateResolver((ns, name) => secrets.get(`${ns}/${name}`));

  beforeAll(async () => {
    ca = await createCa();
    good = await ca.issue({ dnsNames: ['a.test', '*.wild.test'] });
    other = await ca.issue({ dnsNames: ['b.test'] });
    old = await expired(ca, ['old.test']);
    put(tlsSecret('good', good, { namespace: 'shop' }));
    put(tlsSecret('expired', old, { namespace: 'shop' }));
    put(tlsSecret('mismatch', mismatched(good, other), { namespace: 'shop' }));
    put(tlsSecret('opaque', good, { namespace: 'shop', type: 'Opaque' }));
    put(tlsSecret('no-key', { cert: good.cert }, { namespace: 'shop' }));
    put(tlsSecret('garbage', { cert: 'x', key: 'y' }, { namespace: 'shop' }));
    put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'string-data', namespace: 'shop' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': other.cert, 'tls.key': other.key } });
  });

  it('serves good Secrets by content id and gives every failure its code and the default', async () => {
    const r = await resolver().resolve({
      defaultCertificate: null,
      tls: [
        binding('a.test', 'shop/good'),
        binding('*.wild.test', 'shop/good'),
        binding('b.test', 'shop/string-data'),
        binding('old.test', 'shop/expired', 'spec.tls[1].secretName'),
        binding('mm.test', 'shop/mismatch', 'spec.tls[2].secretName'),
        binding('op.test', 'shop/opaque', 'spec.tls[3].secretName'),
        binding('nk.test', 'shop/no-key', 'spec.tls[4].secretName'),
        binding('gb.test', 'shop/garbage', 'spec.tls[5].secretName'),
        binding('gone.test', 'shop/gone', 'spec.tls[6].secretName'),
        binding('none.test', null, 'spec.tls[7].secretName'),
      ],
    });
    const goodId = certificateId(good);
    expect(r.material.hosts).toEqual({ 'a.test': goodId, '*.wild.test': goodId, 'b.test': certificateId(other) });
    expect(Object.keys(r.material.certificates).sort()).toEqual([goodId, certificateId(other), r.material.defaultCertificate].sort());
    expect(r.conditions.map((c) => [c.field, c.code])).toEqual([
      ['spec.tls[1].secretName', 'GH_TLS_CERT_EXPIRED'],
      ['spec.tls[2].secretName', 'GH_TLS_KEY_MISMATCH'],
      ['spec.tls[3].secretName', 'GH_TLS_SECRET_INVALID'],
      ['spec.tls[4].secretName', 'GH_TLS_SECRET_INVALID'],
      ['spec.tls[5].secretName', 'GH_TLS_SECRET_INVALID'],
      ['spec.tls[6].secretName', 'GH_TLS_SECRET_NOT_FOUND'],
    ]);
    expect(r.conditions.every((c) => c.ref.kind === 'Ingress' && c.ref.namespace === 'shop' && c.ref.name === 'web')).toBe(true);
    expect(JSON.stringify(r.conditions)).not.toMatch(/BEGIN|PRIVATE/);
    // The generated default is self-signed, and the next expiry is the earliest served notAfter.
    const def = new X509Certificate(r.material.certificates[r.material.defaultCertificate]!.cert);
    expect(def.subjectAltName).toBe('DNS:gatehouse.invalid');
    expect(r.nextExpiry).toBe(Math.min(new X509Certificate(good.cert).validToDate.getTime(), new X509Certificate(other.cert).validToDate.getTime()));
  });

  it('uses --default-ssl-certificate when it serves, else the generated one with a Secret condition', async () => {
    const res = resolver();
    const ok = await res.resolve({ defaultCertificate: 'shop/good', tls: [] });
    expect(ok.material.defaultCertificate).toBe(certificateId(good));
    expect(ok.conditions).toEqual([]);
    const bad = await res.resolve({ defaultCertificate: 'shop/expired', tls: [] });
    expect(bad.material.defaultCertificate).not.toBe(certificateId(old));
    expect(bad.conditions).toEqual([{ ref: { kind: 'Secret', namespace: 'shop', name: 'expired' }, code: 'GH_TLS_CERT_EXPIRED', field: '', message: expect.stringContaining('--default-ssl-certificate shop/expired') }]);
    // The generated certificate is made once.
    expect((await res.resolve({ defaultCertificate: null, tls: [] })).material.defaultCertificate).toBe(bad.material.defaultCertificate);
  });

  it('re-checks expiry against the clock on every resolve', async () => {
    const notAfter = new X509Certificate(good.cert).validToDate.getTime();
    let now = notAfter - 1000;
    const res = new CertificateResolver((ns, name) => secrets.get(`${ns}/${name}`), () => now);
    expect((await res.resolve({ defaultCertificate: null, tls: [binding('a.test', 'shop/good')] })).material.hosts['a.test']).toBe(certificateId(good));
    now = notAfter + 1;
    const later = await res.resolve({ defaultCertificate: null, tls: [binding('a.test', 'shop/good')] });
    expect(later.material.hosts['a.test']).toBeUndefined();
    expect(later.conditions.map((c) => c.code)).toEqual(['GH_TLS_CERT_EXPIRED']);
  });

  it('with a Secret revision, gives the last result for the same bindings, and checks again once a Secret changed or a served certificate expired', async () => {
    const notAfter = new X509Certificate(good.cert).validToDate.getTime();
    let now = notAfter - 1000;
    let revision = 1;
    const own = new Map(secrets);
    const res = new CertificateResolver((ns, name) => own.get(`${ns}/${name}`), () => now, () => revision);
    const tls = [binding('a.test', 'shop/good'), binding('b.test', 'shop/string-data')];
    const first = await res.resolve({ defaultCertificate: null, tls });
    expect(await res.resolve({ defaultCertificate: null, tls: [...tls] })).toBe(first);
    // Another binding object, alike: the same result; another binding: checked again.
    expect(await res.resolve({ defaultCertificate: null, tls: [tls[0]!, { ...tls[1]! }] })).toBe(first);
    const other = await res.resolve({ defaultCertificate: null, tls: [tls[0]!, binding('b.test', 'shop/good')] });
    expect(other.material.hosts['b.test']).toBe(certificateId(good));
    expect((await res.resolve({ defaultCertificate: null, tls })).material).toEqual(first.material);
    // A Secret changed: the snapshot counts it.
    own.set('shop/string-data', tlsSecret('string-data', good, { namespace: 'shop' }) as unknown as KubeObject);
    revision++;
    expect((await res.resolve({ defaultCertificate: null, tls })).material.hosts['b.test']).toBe(certificateId(good));
    now = notAfter + 1;
    const later = await res.resolve({ defaultCertificate: null, tls });
    expect(later.material.hosts).toEqual({});
    expect(later.conditions.map((c) => c.code)).toEqual(['GH_TLS_CERT_EXPIRED', 'GH_TLS_CERT_EXPIRED']);
  });
});

describe('CertStore SNI lookup', () => {
  const store = new CertStore();
  store.update({ certificates: {}, hosts: { 'a.test': 'A', '*.wild.test': 'W', 'exact.wild.test': 'E' }, defaultCertificate: 'D', fingerprint: 'f' });

  it.each([
    ['a.test', 'A'], ['A.TEST.', 'A'], ['x.wild.test', 'W'], ['exact.wild.test', 'E'],
    ['a.b.wild.test', 'D'], ['wild.test', 'D'], ['.wild.test', 'D'], ['', 'D'], ['other.test', 'D'],
  ])('%j → %s', (name, want) => {
    expect(store.idFor(name)).toBe(want);
  });
});
