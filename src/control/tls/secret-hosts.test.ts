// The hosts that name Secrets, kept from one table to the next (secret-hosts.ts), and the three
// resolvers walking those hosts only: after every table of a random sequence, the same hosts as
// filtering the whole table, and the same material and conditions as resolving every host.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientCertPolicy, RoutePolicies, UpstreamPolicy, VirtualHost } from '../../core/model.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import { createCa } from '../../../test/support/certs.ts';
import { BasicAuthResolver } from '../basic-auth-resolver.ts';
import { ClientCertResolver } from './client-cert-resolver.ts';
import { ProxySslResolver } from './proxy-ssl-resolver.ts';
import { namesSecrets, SecretHosts } from './secret-hosts.ts';

const HOSTS = ['a.test', 'b.test', '*.w.test', 'x.w.test', 'y.w.test', 'c.test', ''];
const SECRETS = ['ns/ca-ok', 'ns/ca-bad', 'ns/none', 'ns/users'];
const ref = (name: string) => ({ ref: name, ingress: 'ns/ing', field: 'metadata.annotations["x"]' });

const upstream = fc.constantFrom(...SECRETS).map((s): UpstreamPolicy => ({ protocol: 'HTTPS', tls: { verify: s !== 'ns/ca-bad', secret: ref(s), name: '', serverName: false } }));
const basicAuth = fc.constantFrom(...SECRETS).map((s): RoutePolicies => ({ basicAuth: { secret: ref(s), secretType: 'auth-file', realm: 'r' } }));
const clientCert = (host: string) => fc.constantFrom(...SECRETS).map((s): ClientCertPolicy => ({ host, secret: ref(s), verify: 'on', depth: 1, passCertificate: false }));

const vhost = (host: string): fc.Arbitrary<VirtualHost> =>
  fc
    .record({
      routes: fc.array(fc.record({ upstream: fc.option(upstream, { nil: undefined, freq: 3 }), policies: fc.option(basicAuth, { nil: undefined, freq: 3 }) }), { maxLength: 2 }),
      defaultUpstream: fc.option(upstream, { nil: undefined, freq: 4 }),
      clientCert: fc.option(clientCert(host), { nil: undefined, freq: 3 }),
      basicAuth: fc.option(basicAuth, { nil: undefined, freq: 4 }),
    })
    .map(({ routes, defaultUpstream, clientCert, basicAuth }) => ({
      host,
      routes: routes.map((r, i) => ({ path: `/r${i}`, match: 'Prefix' as const, backend: 'ns/svc:80', ingress: 'ns/ing', sslRedirect: false, ...(r.upstream ? { upstream: r.upstream } : {}), ...(r.policies ? { policies: r.policies } : {}) })),
      defaultBackend: null,
      tls: true,
      sslRedirect: false,
      ...(defaultUpstream ? { defaultUpstream } : {}),
      ...(clientCert || basicAuth ? { defaultPolicies: { ...basicAuth, ...(clientCert ? { clientCert } : {}) } } : {}),
    }));

const hosts = fc.subarray(HOSTS).chain((names) => fc.tuple(...names.map(vhost))).map((list) => [...list].sort((a, b) => (a.host < b.host ? -1 : 1)));

/** The next table's hosts: each of `before`'s kept (the same object), dropped or replaced, and some of `extra`'s added; sorted by host. */
const next = (before: readonly VirtualHost[]) =>
  fc.tuple(fc.array(fc.constantFrom('keep', 'keep', 'replace', 'drop'), { minLength: before.length, maxLength: before.length }), hosts).map(([fates, extra]) => {
    const kept = before.flatMap((vh, i) => (fates[i] === 'drop' ? [] : fates[i] === 'replace' ? extra.filter((e) => e.host === vh.host).concat(extra.some((e) => e.host === vh.host) ? [] : [{ ...vh }]) : [vh]));
    const names = new Set(kept.map((vh) => vh.host));
    return [...kept, ...extra.filter((vh) => !names.has(vh.host))].sort((a, b) => (a.host < b.host ? -1 : 1));
  });

const sequence = hosts.chain((first) => fc.array(fc.nat(), { maxLength: 6 }).chain((steps) => steps.reduce<fc.Arbitrary<VirtualHost[][]>>((acc) => acc.chain((tables) => next(tables.at(-1)!).map((t) => [...tables, t])), fc.constant([first]))));

describe('SecretHosts', () => {
  let secrets: Map<string, KubeObject>;
  beforeAll(async () => {
    const ca = await createCa('secret-hosts');
    const secret = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'ns' }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) }) as KubeObject;
    secrets = new Map([
      ['ns/ca-ok', secret('ca-ok', { 'ca.crt': ca.cert })],
      ['ns/ca-bad', secret('ca-bad', { 'ca.crt': 'not a certificate' })],
      ['ns/users', secret('users', { auth: 'alice:$apr1$abcdefgh$0123456789abcdefghijkl\nbob\n' })],
    ]);
  });

  it('after every table of a random sequence, gives the hosts that name Secrets, and the resolvers give what they give over every host', () => {
    const lookup = (namespace: string, name: string) => secrets.get(`${namespace}/${name}`);
    fc.assert(
      fc.property(sequence, (tables) => {
        const kept = new SecretHosts();
        for (const table of tables) {
          const named = kept.update(table);
          expect(named).toEqual(table.filter(namesSecrets));
          expect(new ProxySslResolver(lookup).resolve(named)).toEqual(new ProxySslResolver(lookup).resolve(table));
          expect(new BasicAuthResolver(lookup).resolve(named)).toEqual(new BasicAuthResolver(lookup).resolve(table));
          const clientCert = new ClientCertResolver(lookup).resolve(named, table);
          const whole = new ClientCertResolver(lookup).resolve(table);
          expect(clientCert).toEqual(whole);
          expect(JSON.stringify(clientCert)).toBe(JSON.stringify(whole));
        }
      }),
      { numRuns: 200 },
    );
  });
});
