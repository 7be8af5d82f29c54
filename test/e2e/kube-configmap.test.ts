// Kubernetes mode: the --configmap ConfigMap is watched by name from the start (the first table
// already follows it), a change to it applies live, and the ConfigMap its proxy-set-headers key
// names is watched by name too (created after the fact, then changed), all through the real
// client-node informers against the API emulator.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, headerValues, type Echo, type EchoReply } from '../support/echo-upstream.ts';
import { backendService, ingressClass, simpleIngress } from '../support/harness.ts';
import { startKubeApi, type KubeApi } from '../support/kube-api-emulator.ts';
import { eventually, put, startKubeGatehouse, type KubeGatehouse } from '../support/kube-harness.ts';

function configMap(name: string, data: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'gatehouse' }, data };
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
});
