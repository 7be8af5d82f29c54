// The admin server is safe (issue 11 item 6): it listens only on --status-bind-address (127.0.0.1
// outside a cluster), apart from the traffic listeners; and no Secret material reaches any of its
// answers. Secrets of every kind Gatehouse reads (TLS, proxy-ssl, basic-auth file and map, the
// default certificate, the client-certificate CA bundle, plus one nothing names) carry recognisable data; every admin endpoint is
// read after traffic and after the explain of each host, and none of it may appear, as text,
// base64, or any line of a PEM body. Also: /debug/explain live, with the endpoints' health from
// the active checks.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, tlsSecret, type KeyPair } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { send } from '../support/http-client.ts';
import { endpointSlice, freePort, ingress, ingressClass, manifest, service, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';
import { defaults, statusBindAddresses } from '../../src/options.ts';

const A = 'nginx.ingress.kubernetes.io/';
const G = 'gatehouse.io/';
const MARK = 'S3CRET-MARK-7f3a9c';

function opaque(name: string, data: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
}

/** What must never appear: the marks, their base64, and every line of every PEM body. */
function forbidden(pairs: readonly KeyPair[], texts: readonly string[]): string[] {
  const out = new Set<string>();
  for (const t of texts) {
    out.add(t);
    out.add(Buffer.from(t).toString('base64'));
  }
  for (const p of pairs) {
    for (const pem of [p.cert, p.key]) {
      if (pem === '') continue;
      out.add(Buffer.from(pem).toString('base64').slice(0, 60));
      for (const line of pem.split('\n')) if (line.length >= 40 && !line.startsWith('-----')) out.add(line);
    }
  }
  return [...out];
}

describe('admin endpoints are safe', () => {
  let gh: Gatehouse;
  let echo: Echo;
  let pairs: KeyPair[];
  let marks: string[];
  let closedPort: number;
  const STATUS_HOST = '127.0.0.2';

  const admin = (p: string) => send(gh.agent, `http://${STATUS_HOST}:${gh.adminPort}`, p);

  beforeAll(async () => {
    echo = await startEcho({ name: 'safe' });
    closedPort = await freePort();
    const ca = await createCa();
    const site = await ca.issue({ dnsNames: ['tls.test'] });
    const fallback = await ca.issue({ dnsNames: ['default.test'] });
    const client = await ca.issue({ dnsNames: ['client.test'], usage: 'client' });
    pairs = [site, fallback, client, { cert: ca.cert, key: '' }];
    const hashes = [`alice:$apr1$abcdefgh$${MARK}file`, `${MARK}map`];
    marks = [MARK, ...hashes, `${MARK}-unused`];
    const route = (name: string, host: string, annotations: Record<string, string> = {}, svc = 'echo') => ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', service: svc }] }] });
    gh = await startGatehouse({
      options: { statusBindAddress: STATUS_HOST, defaultSslCertificate: 'default/fallback' },
      manifests: manifest(
        ingressClass('gatehouse'),
        service('echo'),
        endpointSlice('echo-0', 'echo', { ports: [{ name: 'http', port: echo.port }] }),
        service('checked'),
        endpointSlice('checked-0', 'checked', { ports: [{ name: 'http', port: echo.port }] }),
        endpointSlice('checked-1', 'checked', { ports: [{ name: 'http', port: closedPort }] }),
        tlsSecret('site', site),
        tlsSecret('fallback', fallback),
        { ...tlsSecret('backend', { ...client }, { type: 'Opaque' }), data: { ...(tlsSecret('backend', client).data as object), 'ca.crt': Buffer.from(ca.cert).toString('base64') } },
        opaque('users', { auth: `${hashes[0]}\n` }),
        opaque('usermap', { bob: hashes[1]! }),
        opaque('unused', { token: marks[3]! }),
        opaque('clientca', { 'ca.crt': ca.cert }),
        { ...route('tls', 'tls.test'), spec: { ingressClassName: 'gatehouse', tls: [{ hosts: ['tls.test'], secretName: 'site' }], rules: [{ host: 'tls.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'echo', port: { number: 80 } } } }] } }] } },
        route('mtls', 'mtls.test', { [`${A}backend-protocol`]: 'HTTPS', [`${A}proxy-ssl-secret`]: 'default/backend', [`${A}proxy-ssl-verify`]: 'on' }),
        route('clientcert', 'clientcert.test', { [`${A}auth-tls-secret`]: 'default/clientca', [`${A}auth-tls-verify-client`]: 'on' }),
        route('basic', 'basic.test', { [`${A}auth-type`]: 'basic', [`${A}auth-secret`]: 'users' }),
        route('map', 'map.test', { [`${A}auth-type`]: 'basic', [`${A}auth-secret`]: 'usermap', [`${A}auth-secret-type`]: 'auth-map' }),
        route('checked', 'checked.test', { [`${G}health-check-path`]: '/', [`${G}health-check-interval`]: '300ms', [`${G}health-check-timeout`]: '200ms', [`${G}health-check-unhealthy-threshold`]: '1', [`${G}health-check-healthy-threshold`]: '1' }, 'checked'),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('the admin server listens on --status-bind-address only (127.0.0.1 by default outside a cluster)', async () => {
    expect((await admin('/healthz')).status).toBe(200);
    await expect(send(gh.agent, `http://127.0.0.1:${gh.adminPort}`, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    // Nor on the traffic port: /debug there is routed like any other path (no catch-all here: 404).
    expect((await gh.request('/debug/table')).status).toBe(404);
    expect(statusBindAddresses(defaults(), {})).toEqual(['127.0.0.1']);
    // In a pod: --bind-address (0.0.0.0 covers loopback), or the pod IP deploy/ passes, plus
    // loopback for `kubectl port-forward`, which connects to the pod's 127.0.0.1.
    expect(statusBindAddresses(defaults(), { KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toEqual(['0.0.0.0']);
    expect(statusBindAddresses({ ...defaults(), statusBindAddress: '10.9.9.9' }, {})).toEqual(['10.9.9.9', '127.0.0.1']);
    expect(statusBindAddresses({ ...defaults(), statusBindAddress: '127.0.0.2' }, {})).toEqual(['127.0.0.2']);
  });

  it('/debug/explain answers live, with the endpoints as the active checks see them', async () => {
    await waitFor('the active checks to mark the closed port down', async () => {
      const res = await admin(`/debug/explain?url=${encodeURIComponent('http://checked.test/x')}`);
      const body = JSON.parse(res.text) as { backend: { endpoints: { port: number; state: string }[] } };
      const states = Object.fromEntries(body.backend.endpoints.map((e) => [e.port, e.state]));
      return states[closedPort] === 'down' && states[echo.port] === 'up';
    }, 15_000, 50);
    const text = await admin(`/debug/explain?format=text&url=${encodeURIComponent('http://checked.test/x')}`);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.text).toContain(`127.0.0.1:${closedPort} down: active checks`);
    expect((await admin('/debug/explain')).status).toBe(400);
    expect((await admin('/debug/explain?url=%20')).status).toBe(400);
  });

  it('no Secret material in any admin answer: /debug/table, /debug/explain, /debug/state, /dashboard, /metrics', async () => {
    // Traffic first, so that counters and health have something to show.
    // 401: the users were read from the Secret and reached the workers.
    expect((await gh.request('/', { headers: { host: 'basic.test', authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` } })).status).toBe(401);
    await gh.request('/', { headers: { host: 'tls.test' } });
    const bodies: Record<string, string> = {};
    const paths = ['/healthz', '/readyz', '/debug/table', '/debug/state', '/dashboard', '/dashboard/app.js', '/dashboard/style.css', '/metrics', '/nope'];
    for (const host of ['tls.test', 'mtls.test', 'clientcert.test', 'basic.test', 'map.test', 'checked.test', 'default.test']) {
      for (const scheme of ['http', 'https']) {
        paths.push(`/debug/explain?url=${encodeURIComponent(`${scheme}://${host}/a`)}`, `/debug/explain?format=text&url=${encodeURIComponent(`${scheme}://${host}/a`)}`);
      }
    }
    for (const p of paths) bodies[p] = (await admin(p)).text;
    // The Secrets are served (so their data is loaded in this process), and named by reference.
    expect(bodies['/debug/table']).toContain('default/users');
    expect(bodies['/debug/state']).toMatch(/"secret": "default\/site"/);
    expect(bodies['/debug/state']).toMatch(/"secret": "default\/fallback"/);
    expect(bodies[`/debug/explain?format=text&url=${encodeURIComponent('http://mtls.test/a')}`]).toContain('Secret default/backend');
    const bad = forbidden(pairs, marks);
    for (const [p, body] of Object.entries(bodies)) {
      for (const f of bad) expect(body.includes(f), `${p} shows Secret material (${f.slice(0, 20)}…)`).toBe(false);
    }
  });
});
