import { describe, expect, it } from 'vitest';
import type { UpstreamTlsPolicy, VirtualHost } from '../../core/model.ts';
import { sniFor, upstreamTls, UpstreamTlsConfigs } from './upstream-tls.ts';

const secretRef = { ref: 'shop/ca', ingress: 'shop/web', field: 'f' };
const base: UpstreamTlsPolicy = { verify: false, secret: null, name: 'api.shop.svc', serverName: false };
const PEM = { 'shop/ca': { ca: 'CA', cert: 'CERT', key: 'KEY' } };

describe('upstreamTls', () => {
  it('verify off: no checks, no CA; a client certificate if the Secret has one', () => {
    const t = upstreamTls(base, {})!;
    expect(t.options.rejectUnauthorized).toBe(false);
    expect(t.options.ca).toBeUndefined();
    expect(t.sni).toBeNull();
    const withCert = upstreamTls({ ...base, secret: secretRef }, PEM)!;
    expect(withCert.options).toMatchObject({ rejectUnauthorized: false, ca: 'CA', cert: 'CERT', key: 'KEY' });
  });

  it('verify on: the Secret’s CA, or Node’s roots with no Secret', () => {
    expect(upstreamTls({ ...base, verify: true, secret: secretRef }, PEM)!.options).toMatchObject({ rejectUnauthorized: true, ca: 'CA' });
    expect(upstreamTls({ ...base, verify: true }, {})!.options.ca).toBeUndefined();
  });

  it('null (502) when the Secret is not in the material, or verify is on and it has no ca.crt', () => {
    expect(upstreamTls({ ...base, secret: secretRef }, {})).toBeNull();
    expect(upstreamTls({ ...base, verify: true, secret: secretRef }, { 'shop/ca': { ca: null, cert: 'C', key: 'K' } })).toBeNull();
  });

  it('SNI: the name with proxy-ssl-server-name on; otherwise an ExternalName’s own name, nothing to an IP', () => {
    const on = upstreamTls({ ...base, serverName: true }, {})!;
    expect(sniFor(on, '10.0.0.1')).toBe('api.shop.svc');
    const off = upstreamTls(base, {})!;
    expect(sniFor(off, '10.0.0.1')).toBeUndefined();
    expect(sniFor(off, '::1')).toBeUndefined();
    expect(sniFor(off, 'api.partner.example')).toBe('api.partner.example');
  });

  it('checks the certificate against the policy name, not the address connected to', () => {
    const t = upstreamTls({ ...base, verify: true }, {})!;
    const cert = { subject: { CN: 'x' }, subjectaltname: 'DNS:api.shop.svc' } as never;
    expect(t.options.checkServerIdentity!('10.0.0.1', cert)).toBeUndefined();
    expect(t.options.checkServerIdentity!('10.0.0.1', { subject: { CN: 'x' }, subjectaltname: 'DNS:other.svc' } as never)).toBeInstanceOf(Error);
  });

  it('ids: equal for equal policy and PEM, different otherwise', () => {
    const a = upstreamTls({ ...base, secret: secretRef }, PEM)!.id;
    expect(upstreamTls({ ...base, secret: { ...secretRef, ingress: 'shop/other' } }, PEM)!.id).toBe(a);
    expect(upstreamTls({ ...base, secret: secretRef }, { 'shop/ca': { ...PEM['shop/ca'], ca: 'CA2' } })!.id).not.toBe(a);
    expect(upstreamTls({ ...base, secret: secretRef, verify: true }, PEM)!.id).not.toBe(a);
  });
});

describe('UpstreamTlsConfigs', () => {
  it('computes the configurations of a table once and returns the ids in use', () => {
    const policy = { ...base, secret: secretRef };
    const hosts: VirtualHost[] = [{
      host: 'a.test', defaultBackend: 'b', tls: false, sslRedirect: false,
      routes: [{ path: '/', match: 'Prefix', backend: 'b', ingress: 'shop/web', sslRedirect: false, upstream: { protocol: 'HTTPS', tls: policy } }],
      defaultUpstream: { protocol: 'GRPC', tls: null },
    }];
    const configs = new UpstreamTlsConfigs();
    const ids = configs.update(PEM, hosts);
    expect(ids.size).toBe(1);
    expect(ids.has(configs.get(policy)!.id)).toBe(true);
    expect(configs.get(policy)).toBe(configs.get(policy));
    // PEM gone: the policy cannot be served, and no id is in use.
    expect(configs.update({}, hosts).size).toBe(0);
    expect(configs.get(policy)).toBeNull();
  });
});
