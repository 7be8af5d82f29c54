// The control plane's auth-tls-secret checks: a usable ca.crt reaches the workers as PEM (the
// certificates alone, one a line), what is not gives a condition on the Ingress (and its host
// answers 403 in the workers); any Secret type; a host under a wildcard that asks keeps out.

import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientCertPolicy, VirtualHost } from '../../core/model.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import { createCa, type TestCa } from '../../../test/support/certs.ts';
import { checkClientCertSecret, ClientCertResolver } from './client-cert-resolver.ts';
import { withSecretData } from './proxy-ssl-resolver.ts';

function secret(name: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'shop' }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } as KubeObject;
}

function host(name: string, ref: string | null, verify: ClientCertPolicy['verify'] = 'on'): VirtualHost {
  const clientCert: ClientCertPolicy | undefined = ref === null ? undefined : { host: name, secret: { ref, ingress: 'shop/web', field: 'metadata.annotations["nginx.ingress.kubernetes.io/auth-tls-secret"]' }, verify, depth: 1, passCertificate: false };
  return { host: name, routes: [], defaultBackend: null, tls: true, sslRedirect: false, ...(clientCert ? { defaultPolicies: { clientCert } } : {}) };
}

describe('auth-tls-secret checks', () => {
  let a: TestCa;
  let b: TestCa;

  beforeAll(async () => {
    [a, b] = await Promise.all([createCa('A'), createCa('B')]);
  });

  it.each<[string, Record<string, string> | undefined, string, string]>([
    ['a missing Secret', undefined, 'GH_CLIENT_CERT_SECRET_NOT_FOUND', 'not found'],
    ['no ca.crt', { 'tls.crt': 'x' }, 'GH_CLIENT_CERT_SECRET_INVALID', 'has no ca.crt'],
    ['a ca.crt that is no PEM', { 'ca.crt': 'hello' }, 'GH_CLIENT_CERT_SECRET_INVALID', 'ca.crt holds no PEM certificate'],
    ['a ca.crt that does not parse', { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, 'GH_CLIENT_CERT_SECRET_INVALID', 'ca.crt does not parse'],
  ])('refuses %s', (_, data, code, message) => {
    const r = checkClientCertSecret(data === undefined ? undefined : secret('ca', data));
    expect(r).toMatchObject({ ok: false, code });
    expect(!r.ok && r.message).toContain(message);
  });

  it('ships the certificates of ca.crt one a line, whatever text surrounds them', () => {
    const r = checkClientCertSecret(secret('ca', { 'ca.crt': `# ours\n${a.cert.trim()}${b.cert.trim()}` }));
    expect(r.ok && r.ca).toBe(`${a.cert.trim()}\n${b.cert.trim()}\n`);
  });

  it('gives the hosts whose Secret serves their bundle (request: verify is not off), conditions for the others, and null for a host a wildcard that asks would cover', () => {
    const secrets: Record<string, KubeObject> = { ca: secret('ca', { 'ca.crt': a.cert }) };
    const resolver = new ClientCertResolver((_ns, name) => secrets[name]);
    const r = resolver.resolve([host('*.example.com', 'shop/ca'), host('off.example.com', 'shop/ca', 'off'), host('open.example.com', null), host('gone.test', 'shop/gone'), host('other.test', null)]);
    expect(Object.keys(r.clientAuth).sort()).toEqual(['*.example.com', 'off.example.com', 'open.example.com']);
    expect(r.clientAuth['*.example.com']).toMatchObject({ request: true });
    expect(r.clientAuth['off.example.com']).toMatchObject({ request: false });
    expect(r.clientAuth['open.example.com']).toBe(null);
    expect(r.conditions).toEqual([{ ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_CLIENT_CERT_SECRET_NOT_FOUND', field: 'metadata.annotations["nginx.ingress.kubernetes.io/auth-tls-secret"]', message: 'Secret shop/gone: not found; requests to host "gone.test" answer 403' }]);
    // A new bundle is a new id (workers answer 421 on connections verified with the old one).
    const before = r.clientAuth['*.example.com']!.id;
    secrets.ca = secret('ca', { 'ca.crt': b.cert });
    expect(resolver.resolve([host('*.example.com', 'shop/ca')]).clientAuth['*.example.com']!.id).not.toBe(before);
  });

  it('changes the material\'s fingerprint with the bundles, and leaves material without any as it was', () => {
    const material = { certificates: {}, hosts: {}, defaultCertificate: 'd', fingerprint: 'f' };
    expect(withSecretData(material, 'clientAuth', {})).toBe(material);
    const withOne = withSecretData(material, 'clientAuth', { 'a.test': { ca: a.cert, id: '1', request: true, host: 'a.test' } });
    expect(withOne.fingerprint).not.toBe('f');
    expect(withSecretData(material, 'clientAuth', { 'a.test': { ca: a.cert, id: '2', request: true, host: 'a.test' } }).fingerprint).not.toBe(withOne.fingerprint);
  });
});
