// The control plane's proxy-ssl-secret checks: what passes reaches the workers as PEM, what does
// not gives a condition on the Ingress (and its routes answer 502 in the workers); any Secret type.

import { beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamPolicy, VirtualHost } from '../../core/model.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import { createCa, mismatched, type KeyPair, type TestCa } from '../../../test/support/certs.ts';
import { checkProxySslSecret, ProxySslResolver, withUpstream } from './proxy-ssl-resolver.ts';
import { upstreamTls } from '../../dataplane/proxy/upstream-tls.ts';

function secret(name: string, data: Record<string, string>, o: { stringData?: boolean; type?: string } = {}): KubeObject {
  const enc = o.stringData ? data : Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'shop' }, type: o.type ?? 'Opaque', ...(o.stringData ? { stringData: enc } : { data: enc }) } as KubeObject;
}

function policy(ref: string | null, verify: boolean, ingress = 'shop/web'): UpstreamPolicy {
  return { protocol: 'HTTPS', tls: { verify, secret: ref === null ? null : { ref, ingress, field: 'metadata.annotations["nginx.ingress.kubernetes.io/proxy-ssl-secret"]' }, name: 'api.shop.svc', serverName: false } };
}

function hosts(...routes: UpstreamPolicy[]): VirtualHost[] {
  return [{ host: 'a.test', routes: routes.map((upstream, i) => ({ path: `/${i}`, match: 'Prefix' as const, backend: 'shop/api:443', ingress: upstream.tls?.secret?.ingress ?? 'shop/web', sslRedirect: false, upstream })), defaultBackend: null, tls: false, sslRedirect: false }];
}

describe('proxy-ssl-secret checks', () => {
  let ca: TestCa;
  let client: KeyPair;
  let other: KeyPair;

  beforeAll(async () => {
    ca = await createCa();
    [client, other] = await Promise.all([ca.issue({ dnsNames: ['client'], usage: 'client' }), ca.issue({ dnsNames: ['other'] })]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['nothing usable', { other: 'x' }, 'holds neither ca.crt nor tls.crt and tls.key'],
    ['tls.crt alone', { 'tls.crt': 'PLACEHOLDER' }, 'has tls.crt but no tls.key'],
    ['tls.key alone', { 'tls.key': 'PLACEHOLDER' }, 'has tls.key but no tls.crt'],
    ['ca.crt that is no PEM', { 'ca.crt': 'hello' }, 'ca.crt holds no PEM certificate'],
    ['ca.crt that does not parse', { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, 'ca.crt does not parse'],
  ])('refuses %s', (_, data, message) => {
    const r = checkProxySslSecret(secret('s', data));
    expect(r).toMatchObject({ ok: false, code: 'GH_PROXY_SSL_SECRET_INVALID', message: expect.stringContaining(message) });
  });

  it('refuses a key that is not the certificate’s', () => {
    const bad = mismatched(client, other);
    expect(checkProxySslSecret(secret('s', { 'tls.crt': bad.cert, 'tls.key': bad.key }))).toMatchObject({ ok: false, code: 'GH_PROXY_SSL_SECRET_INVALID', message: expect.stringContaining('not the private key') });
  });

  it('says not found for a missing Secret', () => {
    expect(checkProxySslSecret(undefined)).toMatchObject({ ok: false, code: 'GH_PROXY_SSL_SECRET_NOT_FOUND' });
  });

  it('takes ca.crt alone, a client certificate alone, or both; data or stringData; any type', () => {
    expect(checkProxySslSecret(secret('s', { 'ca.crt': ca.cert }))).toEqual({ ok: true, pem: { ca: ca.cert, cert: null, key: null } });
    expect(checkProxySslSecret(secret('s', { 'tls.crt': client.cert, 'tls.key': client.key }, { type: 'kubernetes.io/tls' }))).toEqual({ ok: true, pem: { ca: null, cert: client.cert, key: client.key } });
    expect(checkProxySslSecret(secret('s', { 'ca.crt': ca.cert + ca.cert, 'tls.crt': client.cert, 'tls.key': client.key }, { stringData: true }))).toMatchObject({ ok: true });
  });

  it('resolves the routes’ Secrets into PEM by reference, with conditions for the others', () => {
    const store = new Map<string, KubeObject>([
      ['shop/ca', secret('ca', { 'ca.crt': ca.cert })],
      ['shop/client', secret('client', { 'tls.crt': client.cert, 'tls.key': client.key })],
    ]);
    const r = new ProxySslResolver((ns, name) => store.get(`${ns}/${name}`)).resolve(hosts(
      policy('shop/ca', true),
      policy('shop/ca', false, 'shop/other'),
      policy('shop/client', false),
      policy('shop/client', true), // verify on without ca.crt
      policy('shop/gone', false),
      policy('shop/gone', false), // reported once
      policy(null, true),
    ));
    expect(Object.keys(r.upstream).sort()).toEqual(['shop/ca', 'shop/client']);
    expect(r.conditions.map((c) => [`${c.ref.namespace}/${c.ref.name}`, c.code, c.field])).toEqual([
      ['shop/web', 'GH_PROXY_SSL_SECRET_INVALID', 'metadata.annotations["nginx.ingress.kubernetes.io/proxy-ssl-secret"]'],
      ['shop/web', 'GH_PROXY_SSL_SECRET_NOT_FOUND', 'metadata.annotations["nginx.ingress.kubernetes.io/proxy-ssl-secret"]'],
    ]);
    expect(r.conditions[0]!.message).toBe("Secret shop/client: has no ca.crt, and proxy-ssl-verify is on; requests to the Ingress's HTTPS backends answer 502");
    // The worker side agrees: no TLS configuration (502) where there is a condition.
    expect(upstreamTls(policy('shop/client', true).tls!, r.upstream)).toBeNull();
    expect(upstreamTls(policy('shop/gone', false).tls!, r.upstream)).toBeNull();
    expect(upstreamTls(policy('shop/ca', true).tls!, r.upstream)).not.toBeNull();
  });

  it('changes the material fingerprint with the PEM only', () => {
    const base = { certificates: {}, hosts: {}, defaultCertificate: 'x', fingerprint: 'f' };
    expect(withUpstream(base, {})).toBe(base);
    const a = withUpstream(base, { 'shop/ca': { ca: 'A', cert: null, key: null } });
    const b = withUpstream(base, { 'shop/ca': { ca: 'B', cert: null, key: null } });
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(withUpstream(base, { 'shop/ca': { ca: 'A', cert: null, key: null } }).fingerprint).toBe(a.fingerprint);
  });
});
