// Kubernetes mode: the --configmap ConfigMap is watched by name from the start (the first table
// already follows it), a change to it applies live, and the ConfigMap its proxy-set-headers key
// names is watched by name too (created after the fact, then changed), as is the ConfigMap an
// Ingress's custom-headers names (missing at first: the Ingress is left out until it appears),
// all through the real client-node informers against the API emulator.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, headerValues, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { backendService, ingress, ingressClass, simpleIngress } from '../support/harness.ts';
import { startKubeApi, type KubeApi } from '../support/kube-api-emulator.ts';
import { eventually, put, startKubeGatehouse, type KubeGatehouse } from '../support/kube-harness.ts';

function configMap(name: string, data: Record<string, string>, namespace = 'gatehouse') {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

describe('kube mode: the --configmap ConfigMap', () => {
  let api: KubeApi;
  let gh: KubeGatehouse;
  let echo: Echo;

  beforeAll(async () => {
    echo = await startEcho({ name: 'echo' });
    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), backendService('echo', echo.port), simpleIngress('web', 'web.test', 'echo'));
    put(api, configMap('gatehouse', { 'use-forwarded-headers': 'true', 'proxy-set-headers': 'gatehouse/upstream-headers' }));
    gh = await startKubeGatehouse(api, { args: ['--configmap', 'gatehouse/gatehouse'] });
  });

  afterAll(async () => {
    await gh?.close();
    await api?.close();
    await echo?.close();
  });

  const saw = async (name: string): Promise<string[]> => {
    const r = await gh.request('/', { host: 'web.test', headers: { 'x-forwarded-for': '203.0.113.7' } });
    return headerValues((JSON.parse(r.text) as EchoReply).headers, name);
  };

  it('is watched by name, and changes apply live, as do those of the ConfigMap it names', async () => {
    // The first table already trusts X-Forwarded-For (the default range holds 127.0.0.1).
    expect(await saw('x-forwarded-for')).toEqual(['203.0.113.7']);
    expect(gh.controller.conditions().map((c) => [c.code, c.field])).toEqual([['GH_CONFIGMAP_NOT_FOUND', 'data["proxy-set-headers"]']]);

    // The named ConfigMap appears: watched by name, its headers are set upstream.
    put(api, configMap('upstream-headers', { 'X-Team': 'web' }));
    await eventually('proxy-set-headers to apply', async () => (await saw('x-team'))[0] === 'web');
    expect(gh.controller.conditions()).toEqual([]);
    put(api, configMap('upstream-headers', { 'X-Team': 'shop' }));
    await eventually('its change to apply', async () => (await saw('x-team'))[0] === 'shop');

    // The main ConfigMap changes: the peer falls out of proxy-real-ip-cidr.
    put(api, configMap('gatehouse', { 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '10.0.0.0/8', 'proxy-set-headers': 'gatehouse/upstream-headers' }));
    await eventually('the new trust range to apply', async () => (await saw('x-forwarded-for'))[0] === '127.0.0.1');

    // Only those two ConfigMaps were read, each by name (never a cluster-wide list).
    const lists = api.requests.filter((r) => r.resource === 'configmaps' && r.verb === 'list');
    expect(lists.length).toBeGreaterThan(0);
    for (const r of lists) {
      expect(r.namespace).toBe('gatehouse');
      expect(r.query.fieldSelector).toMatch(/^metadata\.name=(gatehouse|upstream-headers)$/);
    }
  });

  it('watches the ConfigMap an Ingress\'s custom-headers names by name: its creation and changes apply live', async () => {
    put(api, configMap('gatehouse', { 'use-forwarded-headers': 'true', 'proxy-set-headers': 'gatehouse/upstream-headers', 'global-allowed-response-headers': 'X-Site' }));
    put(api, ingress('custom', { annotations: { 'nginx.ingress.kubernetes.io/custom-headers': 'default/site-headers' }, rules: [{ host: 'custom.test', paths: [{ service: 'echo' }] }] }));
    await eventually('the Ingress to be left out for want of its ConfigMap', () =>
      gh.controller.conditions().some((c) => c.code === 'GH_CUSTOM_HEADERS_REFUSED' && c.message.includes('ConfigMap default/site-headers does not exist')));
    expect((await gh.request('/', { host: 'custom.test' })).status).toBe(404);

    put(api, configMap('site-headers', { 'X-Site': 'one' }, 'default'));
    await eventually('custom-headers to apply', async () => (await gh.request('/', { host: 'custom.test' })).headers['x-site'] === 'one');
    put(api, configMap('site-headers', { 'X-Site': 'two' }, 'default'));
    await eventually('its change to apply', async () => (await gh.request('/', { host: 'custom.test' })).headers['x-site'] === 'two');
    expect(gh.controller.conditions()).toEqual([]);

    // Read by name in the Ingress's namespace, never listed across the cluster.
    const lists = api.requests.filter((r) => r.resource === 'configmaps' && r.verb === 'list' && r.namespace === 'default');
    expect(lists.length).toBeGreaterThan(0);
    for (const r of lists) expect(r.query.fieldSelector).toBe('metadata.name=site-headers');
    expect(api.requests.filter((r) => r.resource === 'configmaps' && r.namespace === undefined)).toEqual([]);
  });
});
