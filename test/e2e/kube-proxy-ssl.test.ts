// Kubernetes mode watches the Secrets annotations name, whatever their type: a
// proxy-ssl-secret is usually Opaque, which the kubernetes.io/tls-filtered informer never
// sees. With the CA in an Opaque Secret, proxy-ssl-verify on serves; the Secret deleted
// answers 502 (never an unverified connection); created again, it serves again.

import { createServer, type Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../support/certs.ts';
import { backendService, ingress, ingressClass } from '../support/harness.ts';
import { startKubeApi, type KubeApi } from '../support/kube-api-emulator.ts';
import { put, startKubeGatehouse, type KubeGatehouse } from '../support/kube-harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

function opaqueSecret(name: string, data: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

describe('kube mode: proxy-ssl-secret in an Opaque Secret', () => {
  let api: KubeApi;
  let gh: KubeGatehouse;
  let upstream: Server;
  let caPem: string;

  beforeAll(async () => {
    const ca = await createCa('Backend CA');
    caPem = ca.cert;
    const pair = await ca.issue({ dnsNames: ['secure.default.svc'] });
    upstream = createServer({ cert: pair.cert, key: pair.key }, (_req, res) => {
      res.writeHead(200, { 'x-echo-name': 'secure' });
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as { port: number }).port;

    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), backendService('secure', port), opaqueSecret('backend-ca', { 'ca.crt': caPem }));
    const ing = ingress('secure', {
      annotations: { [`${A}backend-protocol`]: 'HTTPS', [`${A}proxy-ssl-verify`]: 'on', [`${A}proxy-ssl-secret`]: 'default/backend-ca' },
      rules: [{ host: 'secure.test', paths: [{ path: '/', service: 'secure' }] }],
    });
    put(api, ing);
    gh = await startKubeGatehouse(api);
  });

  afterAll(async () => {
    await gh?.close();
    await api?.close();
    await new Promise<void>((r) => upstream?.close(() => r()));
  });

  it('verifies the backend with the CA from the Opaque Secret', async () => {
    await gh.until('secure.test', 'secure');
  });

  it('answers 502 once the Secret is deleted, and serves again when it is back', async () => {
    api.delete('Secret', 'default', 'backend-ca');
    await gh.until('secure.test', 502);
    expect(gh.controller.conditions().some((c) => c.code === 'GH_PROXY_SSL_SECRET_NOT_FOUND')).toBe(true);
    put(api, opaqueSecret('backend-ca', { 'ca.crt': caPem }));
    await gh.until('secure.test', 'secure');
  });
});
