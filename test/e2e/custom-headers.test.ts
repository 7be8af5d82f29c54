// custom-headers and the ConfigMap's family defaults end to end, in local mode with the ConfigMap
// (--configmap) in the manifests directory: the headers of an Ingress's custom-headers ConfigMap
// reach the client once global-allowed-response-headers lists them; a change to that ConfigMap,
// its removal and a header not allowed apply live (the Ingress is left out, then served again);
// the ConfigMap's whitelist-source-range and denylist-source-range answer 403 on every route
// without its own list, and a refused global list fails closed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h2Request, h2Session } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

function configMap(name: string, data: Record<string, string>, namespace = 'gatehouse'): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

const ALLOWED = { 'global-allowed-response-headers': 'My-Custom-Header, My-Custom-Header-Dollar, X-Frame-Options' };

describe('custom-headers and the ConfigMap\'s family defaults', () => {
  let echo: Echo;
  let gh: Gatehouse;

  const site = (name: string, host: string, annotations: Record<string, string> = {}) =>
    ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });
  const codes = () => gh.controller.conditions().map((c) => [c.code, c.ref.name]);

  beforeAll(async () => {
    echo = await startEcho({ name: 'echo' });
    gh = await startGatehouse({
      manifests: {
        'site.yaml': manifest(
          ingressClass('gatehouse'),
          backendService('echo', echo.port),
          site('custom', 'custom.test', { [`${A}custom-headers`]: 'default/custom-headers' }),
          site('own', 'own.test', { 'gatehouse.io/custom-headers': 'custom-headers', 'gatehouse.io/response-headers': 'X-Frame-Options: SAMEORIGIN', [`${A}whitelist-source-range`]: '127.0.0.1/32' }),
          site('plain', 'plain.test'),
        ),
        'configmap.yaml': manifest(configMap('gatehouse', ALLOWED)),
        'headers.yaml': manifest(configMap('custom-headers', { 'My-Custom-Header': '42', 'My-Custom-Header-Dollar': '$remote_addr', 'X-Frame-Options': 'DENY' }, 'default')),
      },
      options: { configmap: 'gatehouse/gatehouse' },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('sets the ConfigMap\'s headers on the answers of the Ingress, a $ as itself (as ingress-nginx\'s e2e test)', async () => {
    const r = await gh.request('/', { host: 'custom.test' });
    expect(servedBy(r)).toBe('echo');
    expect(r.headers['my-custom-header']).toBe('42');
    expect(r.headers['my-custom-header-dollar']).toBe('$remote_addr');
    expect(r.headers['x-frame-options']).toBe('DENY');
    // Another Ingress's answers get none of them.
    const plain = await gh.request('/', { host: 'plain.test' });
    expect(plain.headers['my-custom-header']).toBeUndefined();
    expect(codes()).toEqual([]);
  });

  it('the Ingress\'s own gatehouse.io/response-headers win for the same name; HTTP/2 answers get them too', async () => {
    const r = await gh.request('/', { host: 'own.test' });
    expect(r.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(r.headers['my-custom-header']).toBe('42');
    const session = await h2Session(gh.httpsPort, { servername: 'custom.test' });
    try {
      const h2 = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'custom.test' });
      expect(h2.headers['my-custom-header']).toBe('42');
    } finally {
      session.close();
    }
  });

  it('a change to the ConfigMap applies live', async () => {
    await gh.write('headers.yaml', manifest(configMap('custom-headers', { 'My-Custom-Header': '43' }, 'default')));
    const r = await gh.request('/', { host: 'custom.test' });
    expect(r.headers['my-custom-header']).toBe('43');
    expect(r.headers['x-frame-options']).toBeUndefined();
  });

  it('a header global-allowed-response-headers does not list leaves the Ingress out until the operator allows it', async () => {
    await gh.write('headers.yaml', manifest(configMap('custom-headers', { 'My-Custom-Header': '44', 'X-Powered-By': 'gatehouse' }, 'default')));
    expect((await gh.request('/', { host: 'custom.test' })).status).toBe(404);
    expect(codes()).toEqual([['GH_CUSTOM_HEADERS_REFUSED', 'custom'], ['GH_CUSTOM_HEADERS_REFUSED', 'own']]);
    expect(gh.controller.conditions()[0]!.message).toBe(`${A}custom-headers: ConfigMap default/custom-headers sets "x-powered-by", which the --configmap ConfigMap's global-allowed-response-headers does not list (it lists my-custom-header, my-custom-header-dollar, x-frame-options); the Ingress is left out`);
    expect(servedBy(await gh.request('/', { host: 'plain.test' }))).toBe('echo');

    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { 'global-allowed-response-headers': `${ALLOWED['global-allowed-response-headers']}, X-Powered-By` })));
    const r = await gh.request('/', { host: 'custom.test' });
    expect(r.headers['x-powered-by']).toBe('gatehouse');
    expect(codes()).toEqual([]);
  });

  it('a ConfigMap that goes away leaves the Ingress out; back, it is served again', async () => {
    await gh.remove('headers.yaml');
    expect((await gh.request('/', { host: 'custom.test' })).status).toBe(404);
    expect(gh.controller.conditions()[0]!.message).toBe(`${A}custom-headers: ConfigMap default/custom-headers does not exist; the Ingress is left out`);
    await gh.write('headers.yaml', manifest(configMap('custom-headers', { 'My-Custom-Header': '45' }, 'default')));
    expect((await gh.request('/', { host: 'custom.test' })).headers['my-custom-header']).toBe('45');
  });

  it('the ConfigMap\'s whitelist-source-range answers 403 on every route without its own allow list, forwarding nothing', async () => {
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { ...ALLOWED, 'whitelist-source-range': '10.0.0.0/8, 2001:db8::/32' })));
    const before = echo.received.length;
    expect((await gh.request('/', { host: 'plain.test' })).status).toBe(403);
    expect((await gh.request('/', { host: 'custom.test' })).status).toBe(403);
    expect(echo.received.length).toBe(before);
    // An Ingress with its own allow list keeps it.
    expect(servedBy(await gh.request('/', { host: 'own.test' }))).toBe('echo');
  });

  it('a global whitelist-source-range that does not parse fails closed, with a condition on the key', async () => {
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { ...ALLOWED, 'whitelist-source-range': '127.0.0.0/8, 10.0.0.0/33' })));
    expect((await gh.request('/', { host: 'plain.test' })).status).toBe(403);
    expect(gh.controller.conditions().map((c) => [c.code, c.field])).toEqual([['GH_CONFIGMAP_KEY_INVALID', 'data["whitelist-source-range"]']]);
    expect(servedBy(await gh.request('/', { host: 'own.test' }))).toBe('echo');
  });

  it('the ConfigMap\'s denylist-source-range answers 403 to the clients it lists; removed, everyone is served', async () => {
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', { ...ALLOWED, 'denylist-source-range': '127.0.0.1' })));
    expect((await gh.request('/', { host: 'plain.test' })).status).toBe(403);
    // The Ingress's own allow list does not lift the global deny list (each list on its own).
    expect((await gh.request('/', { host: 'own.test' })).status).toBe(403);
    await gh.write('configmap.yaml', manifest(configMap('gatehouse', ALLOWED)));
    expect(servedBy(await gh.request('/', { host: 'plain.test' }))).toBe('echo');
  });
});
