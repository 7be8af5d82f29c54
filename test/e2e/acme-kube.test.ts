// ACME HTTP-01 in Kubernetes mode with two replicas on one API emulator and pebble on loopback:
// only the leader orders; the tokens reach the other replica through the challenge ConfigMap, and
// pebble validates through the *other* replica's HTTP port (its httpPort), so the certificate is
// issued only if the follower answers; both replicas answer every token while it is pending; the
// certificate lands in the Secret through the API and both replicas serve it by SNI; the account
// key is kept in a Secret; an order the CA refuses raises an Event from the leader.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseAllDocuments } from 'yaml';
import { getGlobalDispatcher } from 'undici';
import { launch, type Launched } from '../../src/control/launch.ts';
import { parseOptions } from '../../src/options.ts';
import { handshake } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { backendService, freePort, ingress, ingressClass, reservePort, sleep } from '../support/harness.ts';
import { send } from '../support/http-client.ts';
import { startKubeApi, type KubeApi, type RequestRecord } from '../support/kube-api-emulator.ts';
import { eventually, put, TEST_TIMINGS } from '../support/kube-harness.ts';
import { pebbleInstalled, startPebble, type Pebble } from '../support/pebble.ts';

const NS = 'gatehouse';
const CHALLENGES = 'gatehouse-leader-acme-challenges';
const ACCOUNT = 'gatehouse-leader-acme-account';

interface Replica {
  readonly name: string;
  readonly launched: Launched;
  readonly httpPort: number;
  readonly httpsPort: number;
}

interface KubeEvent {
  reason: string;
  message: string;
  reportingInstance?: string;
  involvedObject: { kind: string; namespace?: string; name: string };
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** deploy/rbac.yaml's rules: the ClusterRole's anywhere, the Role's in its namespace only. */
function rbacAllows(r: RequestRecord): boolean {
  const docs = parseAllDocuments(readFileSync(path.join(import.meta.dirname, '..', '..', 'deploy', 'rbac.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { namespace?: string }; rules?: Rule[] });
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return docs.some((d) => (d.kind === 'ClusterRole' || (d.kind === 'Role' && d.metadata.namespace === r.namespace)) && (d.rules ?? []).some((rule) =>
    rule.apiGroups.includes(r.group ?? '') && rule.resources.includes(resource ?? '') && rule.verbs.includes(r.verb ?? '') &&
    (rule.resourceNames === undefined || (r.name !== undefined && rule.resourceNames.includes(r.name)))));
}

function acmeIngress(name: string, secret: string, host: string): Record<string, unknown> {
  const ing = ingress(name, { namespace: 'app', annotations: { 'gatehouse.io/acme': 'true' }, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] }] });
  (ing.spec as Record<string, unknown>).tls = [{ hosts: [host], secretName: secret }];
  return ing;
}

describe.runIf(pebbleInstalled())('ACME in Kubernetes mode: the leader orders, every replica answers', () => {
  let echo: Echo;
  let api: KubeApi;
  let pebble: Pebble;
  let root: string;
  const replicas: Replica[] = [];
  /** Token answers seen while the order was pending: replica name → tokens answered right. */
  const answered = new Map<string, Set<string>>();
  let watching = true;
  let watcher: Promise<void> = Promise.resolve();

  const start = async (name: string, http: { port: number; release(): Promise<void> }): Promise<Replica> => {
    const https = await reservePort();
    const options = parseOptions([
      '--apiserver-host', api.url,
      '--bind-address', '127.0.0.1',
      '--http-port', String(http.port),
      '--https-port', String(https.port),
      '--status-port', String(await freePort()),
      '--workers', '2',
      '--log-level', 'silent',
      '--access-log-sample', '0',
      '--shutdown-grace-period', '1',
      '--acme-directory', pebble.directory,
      '--acme-ca-file', pebble.caFile,
      '--acme-email', 'ops@example.com',
    ]);
    try {
      const launched = await launch(options, pino({ level: 'silent' }), {
        env: { POD_NAMESPACE: NS, POD_NAME: name },
        timings: TEST_TIMINGS,
        acmeTimings: { propagationMs: 1500, pollMinMs: 50, pollMaxMs: 500, retryMinMs: 500, retryMaxMs: 2000, requestTimeoutMs: 5000, serveTimeoutMs: 10_000 },
      });
      const r = { name, launched, httpPort: http.port, httpsPort: https.port };
      replicas.push(r);
      return r;
    } finally {
      await http.release();
      await https.release();
    }
  };

  beforeAll(async () => {
    echo = await startEcho({ name: 'acme-kube' });
    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), backendService('echo', echo.port, { namespace: 'app' }));
    // pebble validates through the follower's HTTP port.
    const followerHttp = await reservePort();
    pebble = await startPebble({ httpPort: followerHttp.port, domainBlocklist: ['blocked.acme.test'] });
    root = await pebble.root();
    const a = await start('gh-a', await reservePort());
    await eventually('gh-a to lead', () => a.launched.kube!.elector.isLeader());
    await start('gh-b', followerHttp);

    // While orders run: every token in the ConfigMap is asked of both replicas, again until each
    // has answered it right or it is gone (the follower learns it through its watch, a moment
    // after the emulator has it).
    watcher = (async () => {
      while (watching) {
        const cm = api.get('ConfigMap', NS, CHALLENGES) as { data?: Record<string, string> } | undefined;
        for (const [token, keyAuthorization] of Object.entries(cm?.data ?? {})) {
          for (const r of replicas) {
            if (answered.get(r.name)?.has(token)) continue;
            const reply = await send(getGlobalDispatcher(), `http://127.0.0.1:${r.httpPort}`, `/.well-known/acme-challenge/${token}`, { host: 'web.acme.test' }).catch(() => null);
            if (reply?.status === 200 && reply.text === keyAuthorization) {
              if (!answered.has(r.name)) answered.set(r.name, new Set());
              answered.get(r.name)!.add(token);
            }
          }
        }
        await sleep(5);
      }
    })();
  });

  afterAll(async () => {
    watching = false;
    await watcher;
    await Promise.all(replicas.map((r) => r.launched.close()));
    await pebble?.close();
    await api?.close();
    await echo?.close();
  });

  it('orders once, on the leader; the follower answers the token (pebble validates through it); the Secret is written and both replicas serve it', async () => {
    const [a, b] = replicas as [Replica, Replica];
    put(api, acmeIngress('web', 'web-tls', 'web.acme.test'));
    await eventually('the certificate in Secret app/web-tls', () => {
      const s = api.get('Secret', 'app', 'web-tls') as { type?: string; data?: Record<string, string> } | undefined;
      return s?.type === 'kubernetes.io/tls' && typeof s.data?.['tls.crt'] === 'string';
    }, 20_000);
    for (const r of [a, b]) {
      await eventually(`${r.name} to serve the ACME certificate`, async () => (await handshake(r.httpsPort, { servername: 'web.acme.test', ca: root }).then(() => true, () => false)), 10_000);
    }
    expect(a.launched.acme!.stats()).toMatchObject({ orders: 1, issued: 1, failures: 0 });
    expect(b.launched.acme!.stats()).toMatchObject({ orders: 0, issued: 0, attempts: [] });
    expect(pebble.orders()).toBe(1);
    // Both replicas answered the pending token (the leader at once, the follower through the ConfigMap).
    expect(answered.get('gh-a')?.size).toBeGreaterThanOrEqual(1);
    expect(answered.get('gh-b')?.size).toBeGreaterThanOrEqual(1);
    // Tokens are removed once validated; the account key is kept in a Secret.
    await eventually('the tokens removed', () => Object.keys((api.get('ConfigMap', NS, CHALLENGES) as { data?: object } | undefined)?.data ?? {}).length === 0);
    expect((api.get('Secret', NS, ACCOUNT) as { data?: Record<string, string> } | undefined)?.data?.['account.key']).toEqual(expect.any(String));
    // Only the leader wrote Secrets and the ConfigMap.
    const writes = api.requests.filter((r) => (r.resource === 'secrets' || r.resource === 'configmaps') && ['create', 'update'].includes(r.verb ?? ''));
    expect(writes.length).toBeGreaterThan(0);
  });

  it('an order the CA refuses raises GH_ACME_ORDER_FAILED on the leader and an Event from it; the follower orders nothing', async () => {
    const [a, b] = replicas as [Replica, Replica];
    put(api, acmeIngress('blocked', 'blocked-tls', 'blocked.acme.test'));
    await eventually('the Event', () => (api.list('Event', 'app') as unknown as KubeEvent[]).some((ev) => ev.reason === 'AcmeOrderFailed' && ev.involvedObject.name === 'blocked'), 15_000);
    const event = (api.list('Event', 'app') as unknown as KubeEvent[]).find((ev) => ev.reason === 'AcmeOrderFailed')!;
    expect(event.reportingInstance).toBe('gh-a');
    expect(event.message).toMatch(/blocked\.acme\.test/);
    expect(a.launched.controller.conditions().filter((c) => c.code === 'GH_ACME_ORDER_FAILED').map((c) => c.ref.name)).toEqual(['blocked']);
    expect(b.launched.controller.conditions().filter((c) => c.code.startsWith('GH_ACME_'))).toEqual([]);
    expect(b.launched.acme!.stats().attempts).toEqual([]);
  });

  it('made only requests that deploy/rbac.yaml allows (Secret and ConfigMap writes included)', () => {
    const made = api.requests.filter((r) => r.verb !== undefined);
    const denied = [...new Set(made.filter((r) => !rbacAllows(r)).map((r) => `${r.verb} ${r.resource}${r.namespace ? ` in ${r.namespace}` : ''}${r.name ? ` name=${r.name}` : ''}`))];
    expect(denied).toEqual([]);
    const seen = new Set(made.map((r) => `${r.verb} ${r.resource}`));
    for (const want of ['create secrets', 'get secrets', 'create configmaps', 'update configmaps', 'watch configmaps']) expect(seen, want).toContain(want);
  });
});
