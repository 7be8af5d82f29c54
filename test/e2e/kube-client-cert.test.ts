// Kubernetes mode watches the auth-tls-secret by name, whatever its type (a CA bundle is usually
// in an Opaque Secret, which the kubernetes.io/tls-filtered informer never sees): with the Secret
// the host serves; deleted, every request of the host answers 403 (never served without the
// client certificates it asks for); created again, it serves again. (auth-tls-verify-client
// optional, so plain HTTP, which presents no certificate, is served while the bundle is there.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { backendService, ingress, ingressClass } from '../support/harness.ts';
import { startKubeApi, type KubeApi } from '../support/kube-api-emulator.ts';
import { put, startKubeGatehouse, type KubeGatehouse } from '../support/kube-harness.ts';

const A = 'nginx.ingress.kubernetes.io/';

function caSecret(pem: string) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'client-ca', namespace: 'default' }, type: 'Opaque', data: { 'ca.crt': Buffer.from(pem).toString('base64') } };
}

describe('kube mode: auth-tls-secret in an Opaque Secret', () => {
  let api: KubeApi;
  let gh: KubeGatehouse;
  let echo: Echo;
  let caPem: string;

  beforeAll(async () => {
    caPem = (await createCa('Client CA')).cert;
    echo = await startEcho({ name: 'mtls' });
    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), backendService('echo', echo.port), caSecret(caPem));
    put(api, ingress('mtls', {
      annotations: { [`${A}auth-tls-secret`]: 'default/client-ca', [`${A}auth-tls-verify-client`]: 'optional' },
      rules: [{ host: 'mtls.test', paths: [{ path: '/', service: 'echo' }] }],
    }));
    gh = await startKubeGatehouse(api);
  });

  afterAll(async () => {
    await gh?.close();
    await api?.close();
    await echo?.close();
  });

  it('serves the host with the bundle, answers 403 once the Secret is deleted, and serves again when it is back', async () => {
    await gh.until('mtls.test', 'mtls');
    api.delete('Secret', 'default', 'client-ca');
    await gh.until('mtls.test', 403);
    expect(gh.controller.conditions().some((c) => c.code === 'GH_CLIENT_CERT_SECRET_NOT_FOUND')).toBe(true);
    put(api, caSecret(caPem));
    await gh.until('mtls.test', 'mtls');
  });
});
