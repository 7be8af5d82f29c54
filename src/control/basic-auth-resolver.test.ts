// The control plane's auth-secret checks: the users that pass reach the workers (by Secret and
// type), the rest give conditions on the Ingress naming the Secret, line and user, never a hash;
// a missing or unusable Secret is left out, so its routes answer 503 in the workers.

import { describe, expect, it } from 'vitest';
import type { BasicAuthPolicy, VirtualHost } from '../core/model.ts';
import type { KubeObject } from '../core/snapshot.ts';
import { BasicAuthResolver, MAX_AUTH_BYTES, readSecretUsers } from './basic-auth-resolver.ts';
import { withSecretData } from './tls/proxy-ssl-resolver.ts';
import type { TlsMaterial } from '../dataplane/tls/tls-material.ts';

const BCRYPT = '$2y$05$' + 'a'.repeat(53);
const APR1 = '$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1';
const SHA = '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=';

function secret(name: string, data: Record<string, string>, o: { stringData?: boolean } = {}): KubeObject {
  const enc = o.stringData ? data : Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'shop' }, type: 'Opaque', ...(o.stringData ? { stringData: enc } : { data: enc }) } as KubeObject;
}

const FIELD = 'metadata.annotations["nginx.ingress.kubernetes.io/auth-secret"]';

function policy(name: string, secretType: BasicAuthPolicy['secretType'] = 'auth-file', ingress = 'shop/web'): BasicAuthPolicy {
  return { secret: { ref: `shop/${name}`, ingress, field: FIELD }, secretType, realm: '' };
}

function hosts(...policies: BasicAuthPolicy[]): VirtualHost[] {
  return [{
    host: 'a.test',
    routes: policies.map((basicAuth, i) => ({ path: `/${i}`, match: 'Prefix' as const, backend: 'shop/api:80', ingress: basicAuth.secret.ingress, sslRedirect: false, policies: { basicAuth } })),
    defaultBackend: null,
    tls: false,
    sslRedirect: false,
  }];
}

describe('auth-secret checks', () => {
  it('reads an htpasswd file as nginx does: comments, blank lines, CRLF, a trailing comment field', () => {
    const file = `# users\r\nalice:${BCRYPT}\r\n\nbob:${APR1}:Bob the builder\ncarol:${SHA}\n`;
    expect(readSecretUsers(secret('users', { auth: file }), 'auth-file', 'shop/users')).toEqual({ users: [['alice', BCRYPT], ['bob', APR1], ['carol', SHA]], problems: [] });
  });

  it('takes stringData too, user names as their UTF-8 bytes', () => {
    const r = readSecretUsers(secret('users', { auth: `zoë:${SHA}` }, { stringData: true }), 'auth-file', 'shop/users');
    expect(r.users).toEqual([[Buffer.from('zoë').toString('latin1'), SHA]]);
  });

  it('reads an auth-map: each key a user, its value the hash (one trailing newline dropped)', () => {
    expect(readSecretUsers(secret('m', { bob: `${APR1}\n`, alice: BCRYPT }), 'auth-map', 'shop/m')).toEqual({ users: [['alice', BCRYPT], ['bob', APR1]], problems: [] });
  });

  it('refuses entries it cannot verify, naming line and user and never the hash; the others serve', () => {
    const file = ['alice:hunter2', `bob:${APR1}`, 'nocolon', `:${SHA}`, `bob:${SHA}`, `dave:$2y$14$${'a'.repeat(53)}`, 'erin:rl0uE4jxaY3Ho'].join('\n');
    const r = readSecretUsers(secret('users', { auth: file }), 'auth-file', 'shop/users');
    expect(r.users).toEqual([['bob', APR1]]);
    expect(r.problems.map((p) => p.code)).toEqual(Array(6).fill('GH_AUTH_ENTRY_REFUSED'));
    expect(r.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^Secret shop\/users key "auth" line 1 \(user "alice"\): plaintext or an unknown scheme is not supported; use bcrypt .*; that user cannot log in$/),
      'Secret shop/users key "auth" line 3: not "user:hash"; that user cannot log in',
      'Secret shop/users key "auth" line 4: the user name is empty; that user cannot log in',
      'Secret shop/users key "auth" line 5: user "bob" is already defined (key "auth" line 2; the first wins); that user cannot log in',
      expect.stringContaining('line 6 (user "dave"): bcrypt cost 14 is above the cap of 12'),
      expect.stringContaining('line 7 (user "erin"): crypt(3) DES is not supported'),
    ]);
    for (const p of r.problems) expect(p.message).not.toMatch(/hunter2|rl0uE4jxaY3Ho|aaaaaa/);
  });

  it('refuses an auth-map value that would make more lines', () => {
    const r = readSecretUsers(secret('m', { bob: `${SHA}\neve:${SHA}` }), 'auth-map', 'shop/m');
    expect(r.users).toEqual([]);
    expect(r.problems).toEqual([{ code: 'GH_AUTH_ENTRY_REFUSED', message: 'Secret shop/m key "bob": the value holds a line break or colon; that user cannot log in' }]);
  });

  it.each<[string, KubeObject | undefined, BasicAuthPolicy['secretType'], string, string]>([
    ['a missing Secret', undefined, 'auth-file', 'GH_AUTH_SECRET_NOT_FOUND', 'Secret shop/users not found'],
    ['no key auth', secret('users', { users: SHA }), 'auth-file', 'GH_AUTH_SECRET_INVALID', 'Secret shop/users has no key "auth" (auth-secret-type auth-file: an htpasswd file)'],
    ['an empty file', secret('users', { auth: '# nobody\n' }), 'auth-file', 'GH_AUTH_SECRET_INVALID', 'Secret shop/users has no entries in key "auth"'],
    ['an empty map', secret('users', {}), 'auth-map', 'GH_AUTH_SECRET_INVALID', 'Secret shop/users has no keys (auth-secret-type auth-map: one key per user)'],
    ['a huge file', secret('users', { auth: `a:${SHA}\n`.repeat(MAX_AUTH_BYTES / 10) }), 'auth-file', 'GH_AUTH_SECRET_INVALID', `Secret shop/users holds more than ${MAX_AUTH_BYTES} bytes of entries`],
  ])('leaves out %s', (_, s, type, code, message) => {
    expect(readSecretUsers(s, type, 'shop/users')).toEqual({ users: null, problems: [{ code, message }] });
  });

  it('resolves the Secrets a table names, once each, with conditions per Ingress', () => {
    const objects: Record<string, KubeObject> = { users: secret('users', { auth: `alice:${SHA}\nbob:plain` }), map: secret('map', { alice: SHA }) };
    const asked: string[] = [];
    const resolver = new BasicAuthResolver((ns, name) => {
      asked.push(`${ns}/${name}`);
      return objects[name];
    });
    const r = resolver.resolve(hosts(policy('users'), policy('users', 'auth-file', 'shop/other'), policy('users', 'auth-map'), policy('map', 'auth-map'), policy('gone')));
    expect(asked).toEqual(['shop/users', 'shop/users', 'shop/map', 'shop/gone']);
    // The same Secret read as an auth-map: one key, `auth`, whose value is not a hash; nobody logs in.
    expect(r.basicAuth).toEqual({ 'shop/users auth-file': [['alice', SHA]], 'shop/users auth-map': [], 'shop/map auth-map': [['alice', SHA]] });
    expect(r.conditions).toEqual([
      { ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_AUTH_ENTRY_REFUSED', field: FIELD, message: expect.stringContaining('line 2 (user "bob")') },
      { ref: { kind: 'Ingress', namespace: 'shop', name: 'other' }, code: 'GH_AUTH_ENTRY_REFUSED', field: FIELD, message: expect.stringContaining('line 2 (user "bob")') },
      { ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_AUTH_ENTRY_REFUSED', field: FIELD, message: 'Secret shop/users key "auth": the value holds a line break or colon; that user cannot log in' },
      { ref: { kind: 'Ingress', namespace: 'shop', name: 'web' }, code: 'GH_AUTH_SECRET_NOT_FOUND', field: FIELD, message: 'Secret shop/gone not found; the Ingress\'s routes answer 503 until it is fixed' },
    ]);
  });

  it('adds the users to the material with a fingerprint that follows them', () => {
    const material: TlsMaterial = { certificates: {}, hosts: {}, defaultCertificate: 'x', fingerprint: 'f' };
    expect(withSecretData(material, 'basicAuth', {})).toBe(material);
    const a = withSecretData(material, 'basicAuth', { 'shop/u auth-file': [['alice', SHA]] });
    const b = withSecretData(material, 'basicAuth', { 'shop/u auth-file': [['alice', APR1]] });
    expect(a.basicAuth).toEqual({ 'shop/u auth-file': [['alice', SHA]] });
    expect(a.fingerprint).not.toBe(b.fingerprint);
    expect(a.fingerprint).not.toBe('f');
  });
});
