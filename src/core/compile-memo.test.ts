// compile with a CompileMemo (readings kept per Ingress, groups of Ingresses assembled apart and
// kept while unchanged) must give byte for byte what compile without one gives, after any sequence
// of changes (edits that keep an Ingress's ties among them: the path that replaces a few Ingresses
// in the last compile's). The Ingresses here are drawn from a few hosts, Services and Secrets so that they
// interact in every way compile knows: shared hosts and paths, www-redirects, server-alias,
// wildcard TLS, canaries, health checks per backend, client certificates, error-page and default
// backends, service-upstream, ACME.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, CompileMemo } from './compile.ts';
import type { CompileOptions } from './model.ts';
import { Snapshot, toKubeObject } from './snapshot.ts';

const NS = 'ns';
/** Drawn from the first few (dense: most Ingresses tie into one group) or more of them (sparse: many small groups). */
const HOSTS = ['a.test', 'www.a.test', 'x.w.test', '*.w.test', 'alias.test', '', 'b.test', 'y.w.test', 'c.test', 'd.test', 'z.w.test'];
const SERVICES = ['svc-a', 'svc-b', 'svc-missing', 'svc-c', 'svc-d', 'svc-e'];
/** The Services that exist at first (svc-missing only once an upsert makes it). */
const EXISTING = SERVICES.filter((s) => s !== 'svc-missing');
const SECRETS = ['tls-a', 'tls-w', 'tls-b'];
const INGRESSES = 8;
const N = 'nginx.ingress.kubernetes.io/';

const BASE: CompileOptions = { controllerClass: 'gatehouse.io/ingress-controller', ingressClass: 'gatehouse', watchIngressWithoutClass: false, defaultBackendService: null };

/** Annotations an Ingress may carry, each a choice of values. */
const ANNOTATIONS: Record<string, readonly string[]> = {
  [`${N}canary`]: ['true', 'false'],
  [`${N}canary-weight`]: ['30'],
  [`${N}from-to-www-redirect`]: ['true'],
  [`${N}server-alias`]: ['alias.test', 'alias.test,b.test', 'z.w.test'],
  [`${N}auth-tls-secret`]: [`${NS}/ca-1`, `${NS}/ca-2`],
  [`${N}custom-http-errors`]: ['404,503'],
  [`${N}default-backend`]: ['svc-b', 'svc-missing'],
  [`${N}service-upstream`]: ['true'],
  [`${N}use-regex`]: ['true'],
  [`${N}rewrite-target`]: ['/$1'],
  [`${N}force-ssl-redirect`]: ['true'],
  [`${N}ssl-redirect`]: ['false'],
  [`${N}backend-protocol`]: ['HTTPS', 'GRPC'],
  'gatehouse.io/health-check-path': ['/healthz', '/ready'],
  'gatehouse.io/passive-health-consecutive-failures': ['3', '5'],
  'gatehouse.io/acme': ['true'],
};

/** A random sequence of changes to Ingresses and Services, the Ingresses using `hosts` and `services` of the pools. */
function changes(hosts: readonly string[], services: readonly string[]): fc.Arbitrary<Op[]> {
  const backend = fc.record({ name: fc.constantFrom(...services), port: fc.constantFrom<{ name: string } | { number: number }>({ name: 'http' }, { number: 80 }, { number: 8080 }) });

  const path = fc.record({
    path: fc.constantFrom('/', '/api', '/api/v1', '/(.*)'),
    pathType: fc.constantFrom('Prefix', 'Exact', 'ImplementationSpecific'),
    backend: backend.map((service) => ({ service })),
  });

  const rule = fc.record({ host: fc.constantFrom(...hosts), paths: fc.array(path, { maxLength: 2 }) }).map(({ host, paths }) => ({ ...(host === '' ? {} : { host }), ...(paths.length === 0 ? {} : { http: { paths } }) }));

  const tls = fc.record({ hosts: fc.subarray(hosts.filter((h) => h !== ''), { maxLength: 2 }), secretName: fc.option(fc.constantFrom(...SECRETS), { nil: undefined }) }).map(({ hosts, secretName }) => ({ hosts, ...(secretName === undefined ? {} : { secretName }) }));

  // Each annotation with a chance of one in four: several together, as the interactions need (health checks on an error-page backend, ACME on a shared Secret).
  const annotations = fc
    .tuple(...Object.entries(ANNOTATIONS).map(([k, values]) => fc.option(fc.constantFrom(...values).map((v) => [k, v] as const), { nil: undefined, freq: 3 })))
    .map((pairs) => Object.fromEntries(pairs.filter((p) => p !== undefined)));

  const ingress = (i: number) =>
    fc.record({
      created: fc.option(fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', '2024-01-03T00:00:00Z'), { nil: undefined }),
      annotations,
      rules: fc.array(rule, { maxLength: 2 }),
      tls: fc.array(tls, { maxLength: 2 }),
      defaultBackend: fc.option(backend, { nil: undefined }),
    }).map(({ created, annotations, rules, tls, defaultBackend }) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: `ing-${i}`, namespace: NS, annotations, ...(created === undefined ? {} : { creationTimestamp: created }) },
      spec: { ingressClassName: 'gatehouse', rules, ...(tls.length === 0 ? {} : { tls }), ...(defaultBackend === undefined ? {} : { defaultBackend: { service: defaultBackend } }) },
    }));

  const service = (name: string) =>
    fc.record({ port: fc.constantFrom(80, 8080), clusterIP: fc.constantFrom('10.0.0.1', 'None') }).map(({ port, clusterIP }) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: NS },
      spec: { clusterIP, ports: [{ name: 'http', port, targetPort: 8080 }] },
    }));

  // An edit that keeps what ties the Ingress to others (hosts, Services, TLS): its paths and some annotations.
  const edit = fc.record({
    name: fc.integer({ min: 0, max: INGRESSES - 1 }).map((i) => `ing-${i}`),
    path: fc.constantFrom('/', '/api', '/api/v1', '/(.*)', '/v2'),
    pathType: fc.constantFrom('Prefix', 'Exact', 'ImplementationSpecific'),
    annotations: fc.subarray(EDITABLE).chain((keys) => fc.tuple(...keys.map((k) => fc.constantFrom(...ANNOTATIONS[k]!).map((v) => [k, v] as const)))).map((pairs) => Object.fromEntries(pairs)),
    secretName: fc.option(fc.constantFrom(...SECRETS, 'tls-d'), { nil: undefined }),
  });

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: INGRESSES - 1 }).chain(ingress).map((o) => ({ upsert: o })) },
    { weight: 6, arbitrary: edit.map((e) => ({ edit: e })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: INGRESSES - 1 }).map((i) => ({ remove: { kind: 'Ingress' as const, name: `ing-${i}` } })) },
    { weight: 1, arbitrary: fc.constantFrom(...services).chain(service).map((o) => ({ upsert: o })) },
    { weight: 1, arbitrary: fc.constantFrom(...services).map((name) => ({ remove: { kind: 'Service' as const, name } })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SECRETS, 'ca-1', 'tls-d'), fc.constantFrom('eA==', 'eQ==')).map(([name, data]) => ({ upsert: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type: 'Opaque', data: { 'ca.crt': data } } })) },
    { weight: 1, arbitrary: fc.constantFrom(...SECRETS, 'ca-1', 'tls-d').map((name) => ({ remove: { kind: 'Secret' as const, name } })) },
  );
  return fc.array(op, { minLength: 1, maxLength: 40 });
}

/** Annotations that tie an Ingress to no other: an edit may change them. */
const EDITABLE = [`${N}auth-tls-secret`, `${N}force-ssl-redirect`, `${N}ssl-redirect`, `${N}backend-protocol`, `${N}use-regex`, `${N}rewrite-target`, `${N}custom-http-errors`, 'gatehouse.io/health-check-path', 'gatehouse.io/passive-health-consecutive-failures'];

type Edit = { name: string; path: string; pathType: string; annotations: Record<string, string>; secretName: string | undefined };
type Op = { upsert: unknown } | { remove: { kind: 'Ingress' | 'Service' | 'Secret'; name: string } } | { edit: Edit };

/** The Ingress `e.name` with every path, pathType and TLS secretName replaced and the editable annotations set to `e`'s; nothing when it does not exist. */
function edited(snapshot: Snapshot, e: Edit): unknown {
  const ing = snapshot.get('Ingress', NS, e.name);
  if (ing === undefined) return undefined;
  const o = structuredClone(ing) as { metadata: { annotations?: Record<string, string> }; spec: { rules?: { http?: { paths: { path: string; pathType: string }[] } }[]; tls?: { secretName?: string }[] } };
  const annotations = Object.fromEntries(Object.entries(o.metadata.annotations ?? {}).filter(([k]) => !EDITABLE.includes(k)));
  o.metadata.annotations = { ...annotations, ...e.annotations };
  for (const rule of o.spec.rules ?? []) for (const p of rule.http?.paths ?? []) Object.assign(p, { path: e.path, pathType: e.pathType });
  for (const t of o.spec.tls ?? []) {
    if (e.secretName === undefined) delete t.secretName;
    else t.secretName = e.secretName;
  }
  return o;
}

const options = fc.record({ defaultBackendService: fc.constantFrom(null, `${NS}/svc-a`), acme: fc.constantFrom(true, true, false), defaultSslRedirect: fc.boolean(), defaultSslCertificate: fc.constantFrom(null, `${NS}/tls-a`, `${NS}/tls-d`) }).map((o) => ({ ...BASE, ...o }));

function apply(snapshot: Snapshot, o: Op): void {
  if ('edit' in o) {
    const upsert = edited(snapshot, o.edit);
    if (upsert !== undefined) apply(snapshot, { upsert });
    return;
  }
  if ('remove' in o) {
    snapshot.remove(o.remove.kind, NS, o.remove.name);
    return;
  }
  const checked = toKubeObject(o.upsert);
  if (!checked.ok) throw new Error(checked.reason);
  snapshot.upsert(checked.object);
}

function start(): Snapshot {
  const snapshot = new Snapshot();
  apply(snapshot, { upsert: { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } } });
  for (const name of EXISTING) apply(snapshot, { upsert: { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { clusterIP: '10.0.0.2', ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } });
  for (const name of [...SECRETS, 'ca-1', 'ca-2']) apply(snapshot, { upsert: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type: 'Opaque', data: { 'ca.crt': 'eA==' } } });
  return snapshot;
}

describe('compile with a memo', () => {
  it.each([
    ['dense', HOSTS.slice(0, 6), SERVICES.slice(0, 3)],
    ['medium', HOSTS.slice(0, 8), SERVICES.slice(0, 4)],
    ['sparse', HOSTS, SERVICES],
  ])('gives byte for byte the result of compile without one, after every change of a random sequence (%s)', (_, hosts, services) => {
    fc.assert(
      fc.property(options, changes(hosts, services), (opts, ops) => {
        const snapshot = start();
        const memo = new CompileMemo();
        ops.forEach((o, generation) => {
          apply(snapshot, o);
          const whole = JSON.stringify(compile(snapshot, opts, generation));
          expect(JSON.stringify(compile(snapshot, opts, generation, memo))).toBe(whole);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the health checks of a route to the Service port --default-backend-service names (as before groups)', () => {
    const snapshot = start();
    apply(snapshot, { upsert: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'ing-0', namespace: NS, annotations: { 'gatehouse.io/health-check-path': '/healthz' } }, spec: { ingressClassName: 'gatehouse', rules: [{ host: 'a.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc-a', port: { number: 80 } } } }] } }] } } });
    const options = { ...BASE, defaultBackendService: `${NS}/svc-a` };
    const { table } = compile(snapshot, options, 1, new CompileMemo());
    expect(table.defaultBackend).toBe(`${NS}/svc-a:80`);
    expect(table.backends[`${NS}/svc-a:80`]?.health?.active?.path).toBe('/healthz');
    expect(JSON.stringify(table)).toBe(JSON.stringify(compile(snapshot, options, 1).table));
  });

  it('keeps the hosts of the groups a change did not touch: the same objects', () => {
    const snapshot = start();
    for (let i = 0; i < 4; i++) {
      apply(snapshot, { upsert: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: `ing-${i}`, namespace: NS }, spec: { ingressClassName: 'gatehouse', rules: [{ host: `h${i}.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: EXISTING[i % 3], port: { name: 'http' } } } }] } }] } } });
    }
    const memo = new CompileMemo();
    const before = compile(snapshot, BASE, 1, memo).table;
    apply(snapshot, { upsert: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'ing-1', namespace: NS }, spec: { ingressClassName: 'gatehouse', rules: [{ host: 'h1.test', http: { paths: [{ path: '/v2', pathType: 'Prefix', backend: { service: { name: 'svc-b', port: { name: 'http' } } } }] } }] } } });
    const after = compile(snapshot, BASE, 2, memo).table;
    expect(after.fingerprint).not.toBe(before.fingerprint);
    // ing-0 and ing-3 share svc-a, ing-1 (svc-b) and ing-2 (svc-c) are alone: h1 alone is assembled again.
    expect(after.hosts.map((vh, i) => vh === before.hosts[i])).toEqual([true, false, true, true]);
    expect(JSON.stringify(after)).toBe(JSON.stringify(compile(snapshot, BASE, 2).table));
  });
});
