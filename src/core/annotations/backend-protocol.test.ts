import { describe, expect, it } from 'vitest';
import type { Condition } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { defaultServerName, readBackendProtocol, upstreamPolicy } from './backend-protocol.ts';
import { readIngressAnnotations } from './ingress-annotations.ts';
import { readProxySsl } from './proxy-ssl.ts';

function ing(annotations: Record<string, unknown> = {}, namespace = 'shop'): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace, annotations } };
}

const svc = { namespace: 'shop', service: 'api', target: { type: 'endpoints' as const, portName: 'http', targetPort: 8080 } };
const external = { namespace: 'shop', service: 'partner', target: { type: 'externalName' as const, hostname: 'api.partner.example', port: 443 } };
const NO_SSL = { verify: false, secret: null, name: null, serverName: false };

describe('backend-protocol family', () => {
  it('defaults to HTTP', () => {
    expect(readBackendProtocol(ing())).toEqual({ ok: true, value: 'HTTP' });
  });

  it.each([
    ['HTTP', 'HTTP'], ['https', 'HTTPS'], ['Grpc', 'GRPC'], [' GRPCS ', 'GRPCS'], ['h2c', 'H2C'],
  ])('reads %j as %s (case-insensitive and trimmed, as ingress-nginx)', (value, want) => {
    expect(readBackendProtocol(ing({ 'nginx.ingress.kubernetes.io/backend-protocol': value }))).toEqual({ ok: true, value: want });
  });

  it('prefers gatehouse.io/ over nginx.ingress.kubernetes.io/', () => {
    expect(readBackendProtocol(ing({ 'gatehouse.io/backend-protocol': 'GRPC', 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' }))).toEqual({ ok: true, value: 'GRPC' });
  });

  it.each(['FCGI', 'AUTO_HTTP', 'ajp'])('refuses the ingress-nginx protocol %j that Gatehouse does not serve, naming the annotation', (value) => {
    const r = readBackendProtocol(ing({ 'nginx.ingress.kubernetes.io/backend-protocol': value }));
    expect(r).toEqual({ ok: false, problems: [{ key: 'nginx.ingress.kubernetes.io/backend-protocol', message: expect.stringMatching(/nginx\.ingress\.kubernetes\.io\/backend-protocol: .* Gatehouse does not serve/) }] });
  });

  it.each(['HTTP2', '', 'grpc-web', 'true'])('refuses %j', (value) => {
    const r = readBackendProtocol(ing({ 'gatehouse.io/backend-protocol': value }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]!.message).toMatch(/^gatehouse\.io\/backend-protocol: .* is not a backend protocol/);
  });

  it('leaves the Ingress out with GH_ANNOTATION_INVALID', () => {
    const conditions: Condition[] = [];
    expect(readIngressAnnotations(ing({ 'nginx.ingress.kubernetes.io/backend-protocol': 'FCGI' }), { sslRedirect: true }, conditions)).toBeNull();
    expect(conditions.map((c) => [c.code, c.field])).toEqual([['GH_ANNOTATION_INVALID', 'metadata.annotations["nginx.ingress.kubernetes.io/backend-protocol"]']]);
  });
});

describe('upstreamPolicy', () => {
  it('is absent for HTTP, whatever proxy-ssl-* say', () => {
    expect(upstreamPolicy('HTTP', { ...NO_SSL, verify: true }, svc)).toBeUndefined();
  });

  it('carries no TLS for the cleartext protocols', () => {
    expect(upstreamPolicy('GRPC', NO_SSL, svc)).toEqual({ protocol: 'GRPC', tls: null });
    expect(upstreamPolicy('H2C', NO_SSL, svc)).toEqual({ protocol: 'H2C', tls: null });
  });

  it('fills in the TLS policy for HTTPS and GRPCS: proxy-ssl-name, else the Service DNS name or the ExternalName', () => {
    expect(upstreamPolicy('HTTPS', NO_SSL, svc)).toEqual({ protocol: 'HTTPS', tls: { verify: false, secret: null, name: 'api.shop.svc', serverName: false } });
    expect(upstreamPolicy('GRPCS', NO_SSL, external)!.tls!.name).toBe('api.partner.example');
    const ssl = readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-name': 'X.example', 'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on', 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'shop/ca' }));
    expect(ssl.ok).toBe(true);
    if (ssl.ok) {
      expect(upstreamPolicy('GRPCS', ssl.value, svc)).toEqual({
        protocol: 'GRPCS',
        tls: { verify: true, secret: { ref: 'shop/ca', ingress: 'shop/web', field: 'metadata.annotations["nginx.ingress.kubernetes.io/proxy-ssl-secret"]' }, name: 'x.example', serverName: false },
      });
    }
  });

  it('defaultServerName', () => {
    expect(defaultServerName(svc)).toBe('api.shop.svc');
    expect(defaultServerName(external)).toBe('api.partner.example');
  });
});

describe('proxy-ssl family', () => {
  it('defaults: verify off, no Secret, no name, no SNI', () => {
    expect(readProxySsl(ing())).toEqual({ ok: true, value: NO_SSL });
  });

  it('reads "on" and "off" exactly, as ingress-nginx (^(on|off)$)', () => {
    const r = readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on', 'gatehouse.io/proxy-ssl-server-name': 'on' }));
    expect(r).toEqual({ ok: true, value: { ...NO_SSL, verify: true, serverName: true } });
    expect(readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'off' }))).toEqual({ ok: true, value: NO_SSL });
  });

  it.each(['true', 'On', 'yes', '1', ''])('refuses proxy-ssl-verify %j rather than read it as "off"', (value) => {
    const r = readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-verify': value }));
    expect(r).toEqual({ ok: false, problems: [{ key: 'nginx.ingress.kubernetes.io/proxy-ssl-verify', message: expect.stringContaining('is not "on" or "off"') }] });
  });

  it.each(['ca', 'shop/', '/ca', 'shop/ca/x', 'Shop/ca', 'shop/CA', 'shop/c a'])('refuses proxy-ssl-secret %j (not namespace/name)', (value) => {
    const r = readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-secret': value }));
    expect(r.ok).toBe(false);
  });

  it('refuses a Secret of another namespace (ingress-nginx: cross namespace secrets are not supported)', () => {
    const r = readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'kube-system/ca' }));
    expect(r).toEqual({ ok: false, problems: [{ key: 'nginx.ingress.kubernetes.io/proxy-ssl-secret', message: expect.stringContaining('another namespace') }] });
  });

  it('reads proxy-ssl-name as a lower-case DNS name or IPv4 address', () => {
    const name = (v: string) => {
      const r = readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-name': v }));
      return r.ok ? r.value.name : null;
    };
    expect(name('API.Example.com')).toBe('api.example.com');
    expect(name('10.0.0.1')).toBe('10.0.0.1');
    expect(name('not a name')).toBeNull();
    expect(name('*.example.com')).toBeNull();
    expect(name('')).toBeNull();
  });

  it('reports every bad annotation of the family', () => {
    const r = readProxySsl(ing({ 'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'x', 'nginx.ingress.kubernetes.io/proxy-ssl-server-name': 'y', 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'z' }));
    expect(r.ok ? [] : r.problems.map((p) => p.key)).toEqual([
      'nginx.ingress.kubernetes.io/proxy-ssl-verify', 'nginx.ingress.kubernetes.io/proxy-ssl-server-name', 'nginx.ingress.kubernetes.io/proxy-ssl-secret',
    ]);
  });
});
