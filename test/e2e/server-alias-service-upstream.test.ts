// server-alias and service-upstream end to end. Aliases serve their host's routes (a one-label
// wildcard alias too); an alias another Ingress routes as a host stays that Ingress's, and the
// alias's Ingress gets GH_SERVER_ALIAS_CONFLICT. service-upstream sends requests to the Service's
// ClusterIP and port (here 127.0.0.1 and an echo's port) instead of the EndpointSlice's addresses;
// a headless Service keeps its endpoints, with GH_SERVICE_UPSTREAM_NO_CLUSTER_IP.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import { backendService, endpointSlice, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

/** A Service whose spec.clusterIP is `clusterIP` and whose port 80 (`http`) is `port`. */
function clusterService(name: string, clusterIP: string, port: number) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP, ports: [{ name: 'http', port, targetPort: 'http' }] } };
}

describe('server-alias and service-upstream', () => {
  let main: Echo;
  let other: Echo;
  let cluster: Echo;
  let pod: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    [main, other, cluster, pod] = await Promise.all([startEcho({ name: 'main' }), startEcho({ name: 'other' }), startEcho({ name: 'cluster' }), startEcho({ name: 'pod' })]);
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('main', main.port),
        backendService('other', other.port),
        // The ClusterIP (127.0.0.1:cluster's port) and the endpoints (pod) answer differently.
        clusterService('clustered', '127.0.0.1', cluster.port),
        endpointSlice('clustered', 'clustered', { ports: [{ name: 'http', port: pod.port }] }),
        clusterService('headless', 'None', 80),
        endpointSlice('headless', 'headless', { ports: [{ name: 'http', port: pod.port }] }),
        ingress('main', {
          creationTimestamp: '2024-01-01T00:00:00Z',
          annotations: { [`${A}server-alias`]: 'b.test, *.wild.test, other.test' },
          rules: [{ host: 'a.test', paths: [{ path: '/', service: 'main' }, { path: '/api', service: 'other' }] }],
        }),
        ingress('other', { creationTimestamp: '2024-01-02T00:00:00Z', rules: [{ host: 'other.test', paths: [{ path: '/', service: 'other' }] }] }),
        ingress('upstream', {
          annotations: { [`${A}service-upstream`]: 'true' },
          rules: [{ host: 'cluster.test', paths: [{ path: '/', service: 'clustered', port: cluster.port }, { path: '/headless', service: 'headless' }] }],
        }),
        ingress('endpoints', { rules: [{ host: 'endpoints.test', paths: [{ path: '/', service: 'clustered', port: cluster.port }] }] }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await Promise.all([main, other, cluster, pod].map((e) => e?.close()));
  });

  it('serves an alias with its host\'s routes, a one-label wildcard alias too', async () => {
    for (const host of ['a.test', 'b.test', 'B.TEST:8080', 'x.wild.test']) {
      expect(servedBy(await gh.request('/page', { host })), host).toBe('main');
      expect(servedBy(await gh.request('/api/x', { host })), host).toBe('other');
    }
    // One label only, as an Ingress host wildcard.
    expect((await gh.request('/page', { host: 'x.y.wild.test' })).status).toBe(404);
    expect(main.received.at(-1)!.headers.find(([n]) => n.toLowerCase() === 'host')?.[1]).toBe('x.wild.test');
  });

  it('leaves a host another Ingress routes to that Ingress, with a condition on the alias\'s Ingress', async () => {
    expect(servedBy(await gh.request('/page', { host: 'other.test' }))).toBe('other');
    const conflicts = gh.controller.conditions().filter((c) => c.code === 'GH_SERVER_ALIAS_CONFLICT');
    expect(conflicts.map((c) => [c.ref.name, c.field])).toEqual([['main', `metadata.annotations["${A}server-alias"]`]]);
    expect(conflicts[0]!.message).toContain('"other.test"');
  });

  it('service-upstream sends requests to the ClusterIP and port, not to the endpoints', async () => {
    for (let i = 0; i < 3; i++) expect(servedBy(await gh.request('/x', { host: 'cluster.test' }))).toBe('cluster');
    // The same Service port without the annotation: its endpoints.
    expect(servedBy(await gh.request('/x', { host: 'endpoints.test' }))).toBe('pod');
  });

  it('a headless Service keeps its endpoints, with a condition', async () => {
    expect(servedBy(await gh.request('/headless', { host: 'cluster.test' }))).toBe('pod');
    expect(gh.controller.conditions().filter((c) => c.code === 'GH_SERVICE_UPSTREAM_NO_CLUSTER_IP').map((c) => [c.ref.name, c.field])).toEqual([['upstream', 'spec.rules[0].http.paths[1].backend.service']]);
  });
});
