// Basic authentication and satisfy end to end: the auth-secret Secret is read by the control
// plane and its users reach the workers apart from the table; requests without valid credentials
// get 401 with the realm's challenge and nothing is forwarded; the upstream never sees the
// Authorization header (ingress-nginx clears it); a missing Secret answers 503; a Secret edit
// takes effect live; CORS preflights need no credentials (nginx answers them in its rewrite
// phase, before auth_basic); and satisfy any/all combine access lists with the password. Clients
// come from 127.0.0.1, so lists include or exclude it.

import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { h2Request, h2Session } from '../support/certs.ts';
import { headerValues, startEcho, type Echo } from '../support/echo-upstream.ts';
import { rawExchange, servedBy } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, type Gatehouse } from '../support/harness.ts';

const A = 'nginx.ingress.kubernetes.io/';
// `openssl passwd -apr1 -salt abcdefgh password`, and `{SHA}` of "password".
const APR1 = '$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1';
const SHA = '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=';
const BCRYPT = bcrypt.hashSync('s3cret', 5);

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function secret(name: string, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
}

const site = (host: string, annotations: Record<string, string>) =>
  ingress(host.replaceAll('.', '-'), { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });

const AUTH = { [`${A}auth-type`]: 'basic', [`${A}auth-secret`]: 'users', [`${A}auth-realm`]: 'Staff only' };

describe('basic authentication', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'auth' });
    gh = await startGatehouse({
      manifests: {
        'secret.yaml': manifest(secret('users', { auth: `# staff\nalice:${BCRYPT}\nbob:${APR1}\ncarol:${SHA}\ndave:plaintext\n` })),
        'sites.yaml': manifest(
          ingressClass('gatehouse'),
          backendService('echo', echo.port),
          secret('map', { erin: SHA }),
          site('basic.test', AUTH),
          site('map.test', { [`${A}auth-type`]: 'basic', [`${A}auth-secret`]: 'default/map', [`${A}auth-secret-type`]: 'auth-map' }),
          site('missing.test', { ...AUTH, [`${A}auth-secret`]: 'nobody' }),
          site('cors.test', { ...AUTH, [`${A}enable-cors`]: 'true' }),
          site('digest.test', { ...AUTH, [`${A}auth-type`]: 'digest' }),
          site('open.test', {}),
        ),
      },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  const forwarded = async <T>(run: () => Promise<T>): Promise<{ result: T; count: number }> => {
    const before = echo.received.length;
    const result = await run();
    return { result, count: echo.received.length - before };
  };

  it('answers 401 with the realm, and forwards nothing, without valid credentials', async () => {
    for (const authorization of [undefined, basic('alice', 'wrong'), basic('nobody', 's3cret'), basic('dave', 'plaintext'), 'Bearer x', 'Basic !!!']) {
      const { result: r, count } = await forwarded(() => gh.request('/x', { host: 'basic.test', headers: authorization ? { authorization } : {} }));
      expect(r.status, authorization).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="Staff only"');
      expect(count).toBe(0);
    }
  });

  it.each([
    ['bcrypt', 'alice', 's3cret'],
    ['apr1', 'bob', 'password'],
    ['{SHA}', 'carol', 'password'],
  ])('forwards a request with a valid %s password, without the Authorization header', async (_, user, password) => {
    for (let i = 0; i < 2; i++) {
      const r = await gh.request('/x?y=1', { host: 'basic.test', headers: { authorization: basic(user, password), 'x-other': 'kept' } });
      expect(r.status).toBe(200);
      expect(servedBy(r)).toBe('auth');
      const got = echo.received.at(-1)!;
      expect(got.url).toBe('/x?y=1');
      expect(headerValues(got.headers, 'authorization')).toEqual([]);
      expect(headerValues(got.headers, 'x-other')).toEqual(['kept']);
    }
  });

  it('reads an auth-map Secret named namespace/name; the default realm is empty', async () => {
    expect((await gh.request('/', { host: 'map.test', headers: { authorization: basic('erin', 'password') } })).status).toBe(200);
    const r = await gh.request('/', { host: 'map.test' });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm=""');
  });

  it('answers 503 for a missing Secret, never forwarding, and reports both problems as conditions', async () => {
    const { result: r, count } = await forwarded(() => gh.request('/', { host: 'missing.test', headers: { authorization: basic('alice', 's3cret') } }));
    expect(r.status).toBe(503);
    expect(count).toBe(0);
    const codes = gh.controller.conditions().map((c) => [c.ref.name, c.code]);
    expect(codes).toContainEqual(['missing-test', 'GH_AUTH_SECRET_NOT_FOUND']);
    expect(codes).toContainEqual(['basic-test', 'GH_AUTH_ENTRY_REFUSED']);
    expect(codes).toContainEqual(['digest-test', 'GH_AUTH_TYPE_UNSUPPORTED']);
    // The refused line is named, its hash never.
    const refused = gh.controller.conditions().find((c) => c.code === 'GH_AUTH_ENTRY_REFUSED')!;
    expect(refused.message).toContain('line 5 (user "dave")');
    expect(refused.message).not.toContain('plaintext:');
  });

  it('leaves out an Ingress with auth-type digest, serving the rest', async () => {
    expect((await gh.request('/', { host: 'digest.test' })).status).toBe(404);
    expect((await gh.request('/', { host: 'open.test' })).status).toBe(200);
  });

  it('keeps the Secret out of the route table', async () => {
    const { body } = await gh.admin('/debug/table');
    const text = JSON.stringify(body);
    expect(text).toContain('default/users');
    expect(text).not.toContain(APR1);
    expect(text).not.toContain(BCRYPT.slice(7));
  });

  it('answers a CORS preflight 204 without credentials, and puts the CORS headers on the 401', async () => {
    const { result: pre, count } = await forwarded(() =>
      gh.request('/api', { host: 'cors.test', method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } }),
    );
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(count).toBe(0);
    const r = await gh.request('/api', { host: 'cors.test', headers: { origin: 'https://app.example' } });
    expect(r.status).toBe(401);
    expect(r.headers['access-control-allow-origin']).toBe('*');
    expect(r.headers['www-authenticate']).toBe('Basic realm="Staff only"');
  });

  it('checks WebSocket upgrades the same way', async () => {
    const { result: refused, count } = await forwarded(() =>
      rawExchange(gh.httpPort, 'GET /ws HTTP/1.1\r\nHost: basic.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'),
    );
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toEqual(['Basic realm="Staff only"']);
    expect(count).toBe(0);
    const ws = new WebSocket(`ws://127.0.0.1:${gh.httpPort}/ws`, { headers: { host: 'basic.test', authorization: basic('bob', 'password') } });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const got = echo.received.filter((x) => x.upgrade).at(-1)!;
      expect(headerValues(got.headers, 'authorization')).toEqual([]);
    } finally {
      ws.terminate();
    }
  });

  it('checks HTTP/2 requests the same way', async () => {
    const session = await h2Session(gh.httpsPort, { servername: 'basic.test' });
    try {
      const refused = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'basic.test' });
      expect(refused.status).toBe(401);
      const ok = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'basic.test', authorization: basic('carol', 'password') });
      expect(ok.status).toBe(200);
    } finally {
      session.close();
    }
  });

  it('takes a Secret edit live: the new password works, the old one no longer does; a Secret that appears ends the 503', async () => {
    const alice = { host: 'basic.test', headers: { authorization: basic('alice', 's3cret') } };
    expect((await gh.request('/', alice)).status).toBe(200);
    await gh.write('secret.yaml', manifest(secret('users', { auth: `alice:${bcrypt.hashSync('n3w', 5)}\n` }), secret('nobody', { auth: `zed:${SHA}` })));
    expect((await gh.request('/', alice)).status).toBe(401);
    expect((await gh.request('/', { host: 'basic.test', headers: { authorization: basic('alice', 'n3w') } })).status).toBe(200);
    expect((await gh.request('/', { host: 'basic.test', headers: { authorization: basic('bob', 'password') } })).status).toBe(401);
    expect((await gh.request('/', { host: 'missing.test', headers: { authorization: basic('zed', 'password') } })).status).toBe(200);
    expect(gh.controller.conditions().map((c) => c.code)).not.toContain('GH_AUTH_SECRET_NOT_FOUND');
  });
});

describe('satisfy', () => {
  let echo: Echo;
  let gh: Gatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'sat' });
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port),
        secret('users', { auth: `carol:${SHA}\n` }),
        site('any-inside.test', { ...AUTH, [`${A}satisfy`]: 'any', [`${A}allowlist-source-range`]: '127.0.0.1/32' }),
        site('any-outside.test', { ...AUTH, [`${A}satisfy`]: 'any', [`${A}allowlist-source-range`]: '10.0.0.0/8' }),
        site('any-denied.test', { ...AUTH, [`${A}satisfy`]: 'any', [`${A}denylist-source-range`]: '127.0.0.1' }),
        site('any-missing.test', { ...AUTH, [`${A}satisfy`]: 'any', [`${A}allowlist-source-range`]: '127.0.0.1', [`${A}auth-secret`]: 'nobody' }),
        site('all-inside.test', { ...AUTH, [`${A}satisfy`]: 'all', [`${A}allowlist-source-range`]: '127.0.0.1' }),
        site('all-outside.test', { ...AUTH, [`${A}allowlist-source-range`]: '10.0.0.0/8' }),
        site('bad.test', { ...AUTH, [`${A}satisfy`]: 'either' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  const get = (host: string, password?: string) => gh.request('/', { host, headers: password === undefined ? {} : { authorization: basic('carol', password) } });

  it('any: a client inside the allow list passes without credentials (and the Authorization header is still not forwarded)', async () => {
    expect((await get('any-inside.test')).status).toBe(200);
    expect((await get('any-inside.test', 'wrong')).status).toBe(200);
    expect(headerValues(echo.received.at(-1)!.headers, 'authorization')).toEqual([]);
  });

  it("any: a client outside the allow list passes with the password; failing both gets the authentication's 401", async () => {
    expect((await get('any-outside.test', 'password')).status).toBe(200);
    const before = echo.received.length;
    for (const password of [undefined, 'wrong']) {
      const r = await get('any-outside.test', password);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="Staff only"');
    }
    expect(echo.received.length).toBe(before);
  });

  it('any: a client in a deny list passes with the password, as nginx (the deny rule and auth_basic are alternatives)', async () => {
    expect((await get('any-denied.test', 'password')).status).toBe(200);
    expect((await get('any-denied.test')).status).toBe(401);
  });

  it('any: a missing Secret answers 503 even to a client the allow list admits', async () => {
    expect((await get('any-missing.test')).status).toBe(503);
  });

  it('all (the default): both must pass — 401 inside the list without the password, 403 outside it with the password', async () => {
    expect((await get('all-inside.test')).status).toBe(401);
    expect((await get('all-inside.test', 'password')).status).toBe(200);
    expect((await get('all-outside.test', 'password')).status).toBe(403);
    expect((await get('all-outside.test')).status).toBe(403);
  });

  it('refuses a satisfy value that is neither any nor all', async () => {
    expect((await get('bad.test', 'password')).status).toBe(404);
    expect(gh.controller.conditions().map((c) => [c.ref.name, c.code, c.field])).toContainEqual(['bad-test', 'GH_ANNOTATION_INVALID', `metadata.annotations["${A}satisfy"]`]);
  });
});
