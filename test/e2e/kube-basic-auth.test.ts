// Kubernetes mode watches the auth-secret Secret by name (compile's annotationSecrets): an edit
// to its htpasswd file takes effect live, its deletion answers 503 (never unauthenticated), and
// its return serves again.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { backendService, ingress, ingressClass } from '../support/harness.ts';
import { startKubeApi, type KubeApi } from '../support/kube-api-emulator.ts';
import { eventually, put, startKubeGatehouse, type KubeGatehouse } from '../support/kube-harness.ts';

const A = 'nginx.ingress.kubernetes.io/';
// `openssl passwd -apr1 -salt abcdefgh password`, and `{SHA}` of "password".
const APR1 = '$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1';
const SHA = '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=';

const users = (file: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'users', namespace: 'default' }, type: 'Opaque', data: { auth: Buffer.from(file).toString('base64') } });
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('kube mode: auth-secret', () => {
  let api: KubeApi;
  let gh: KubeGatehouse;
  let echo: Echo;

  beforeAll(async () => {
    echo = await startEcho({ name: 'private' });
    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), backendService('private', echo.port), users(`alice:${APR1}\n`));
    put(api, ingress('private', {
      annotations: { [`${A}auth-type`]: 'basic', [`${A}auth-secret`]: 'users' },
      rules: [{ host: 'private.test', paths: [{ path: '/', service: 'private' }] }],
    }));
    gh = await startKubeGatehouse(api);
  });

  afterAll(async () => {
    await gh?.close();
    await api?.close();
    await echo?.close();
  });

  const status = async (user: string, password: string) => (await gh.request('/', { host: 'private.test', headers: basic(user, password) })).status;

  it('serves the users of the Secret, and follows its edits', async () => {
    await gh.until('private.test', 401);
    expect(await status('alice', 'password')).toBe(200);
    put(api, users(`bob:${SHA}\n`));
    await eventually('bob to get in', async () => (await status('bob', 'password')) === 200);
    expect(await status('alice', 'password')).toBe(401);
  });

  it('answers 503 once the Secret is deleted, and serves again when it is back', async () => {
    api.delete('Secret', 'default', 'users');
    await gh.until('private.test', 503);
    expect(gh.controller.conditions().some((c) => c.code === 'GH_AUTH_SECRET_NOT_FOUND')).toBe(true);
    put(api, users(`alice:${APR1}\n`));
    await eventually('alice to get in again', async () => (await status('alice', 'password')) === 200);
  });
});
