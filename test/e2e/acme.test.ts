// ACME HTTP-01 end to end in local mode, against Debian's pebble on loopback with real validation
// (pebble's VA fetches the token from Gatehouse's HTTP port): an annotated Ingress gets a
// certificate into --acme-storage that the HTTPS listener serves by SNI, its chain verifying
// against pebble's root; a stored certificate due for renewal is re-ordered while one that is not
// is kept; nothing is ordered twice; a restart reuses the account and the stored certificates;
// short-lived certificates are renewed when they come due; an unreachable CA gives a condition
// and retries with growing delays, and recovers once the CA answers.

import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { AcmeService, AcmeTimings } from '../../src/control/acme/acme-service.ts';
import { createAcme } from '../../src/control/acme/create-acme.ts';
import { startController, type Controller } from '../../src/control/controller.ts';
import { manifestSource } from '../../src/control/launch.ts';
import { createLog } from '../../src/observability/log.ts';
import { defaults, type Options } from '../../src/options.ts';
import { createCa, handshake, httpsRequest, type TestCa } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { backendService, freePort, ingress, ingressClass, manifest, reservePort, waitFor } from '../support/harness.ts';
import { getGlobalDispatcher } from 'undici';
import { send } from '../support/http-client.ts';
import { memoryLog, type LogLine } from '../support/kube-harness.ts';
import { pebbleInstalled, startPebble, type Pebble } from '../support/pebble.ts';

const DAY = 86_400_000;

/** Debian's pebble (apt-get install pebble): without it these suites skip, with one line saying so. */
const hasPebble = pebbleInstalled();

const TIMINGS: AcmeTimings = { retryMinMs: 200, retryMaxMs: 1600, pollMinMs: 50, pollMaxMs: 500, serveTimeoutMs: 10_000, requestTimeoutMs: 5000, checkIntervalMs: 60_000 };

interface AcmeGatehouse {
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly controller: Controller;
  readonly acme: AcmeService;
  readonly dir: string;
  /** The ACME manager's warnings (failed orders, with the retry delay planned). */
  readonly acmeLogs: LogLine[];
  /** Writes a manifest file atomically (the source picks it up). */
  write(file: string, text: string): Promise<void>;
  acmeConditions(): { name: string; code: string; message: string }[];
  close(): Promise<void>;
}

/** The controller in-process with a manifest directory and ACME on; `http` is the reserved HTTP port pebble validates against. */
async function startAcmeGatehouse(o: { manifests: Record<string, string>; storage: string; directory: string; caFile: string; http: { port: number; release(): Promise<void> }; timings?: AcmeTimings }): Promise<AcmeGatehouse> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-acme-'));
  for (const [name, text] of Object.entries(o.manifests)) await writeFile(path.join(dir, name), text);
  const https = await reservePort();
  const options: Options = {
    ...defaults(),
    manifests: dir,
    httpPort: o.http.port,
    httpsPort: https.port,
    statusPort: 0,
    bindAddress: '127.0.0.1',
    workers: 2,
    logLevel: 'silent',
    accessLogSample: 0,
    shutdownGracePeriod: 1,
    acmeDirectory: o.directory,
    acmeEmail: 'ops@example.com',
    acmeStorage: o.storage,
    acmeCaFile: o.caFile,
  };
  const log = createLog(options.logLevel);
  const acmeLogs: LogLine[] = [];
  const acme = (await createAcme(options, memoryLog('warn', acmeLogs), null, o.timings ?? TIMINGS))!;
  const source = await manifestSource(dir, options, log);
  let controller: Controller;
  try {
    controller = await startController(options, source, log, {}, acme);
    await controller.settled();
  } finally {
    await o.http.release();
    await https.release();
  }
  let closing: Promise<void> | null = null;
  return {
    httpPort: options.httpPort,
    httpsPort: options.httpsPort,
    controller,
    acme,
    dir,
    acmeLogs,
    async write(file, text) {
      const temp = path.join(dir, `.${file}.tmp`);
      await writeFile(temp, text);
      await rename(temp, path.join(dir, file));
    },
    acmeConditions: () => controller.conditions().filter((c) => c.code.startsWith('GH_ACME_')).map((c) => ({ name: c.ref.name, code: c.code, message: c.message })),
    close: () =>
      (closing ??= (async () => {
        await controller.close();
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}

/** An Ingress annotated gatehouse.io/acme: "true" binding `hosts` to Secret `secret`, routed to Service echo. */
function acmeIngress(name: string, secret: string, hosts: readonly string[], annotations: Record<string, string> = { 'gatehouse.io/acme': 'true' }): Record<string, unknown> {
  const ing = ingress(name, { annotations, rules: hosts.map((host) => ({ host, paths: [{ path: '/', pathType: 'Prefix', service: 'echo' }] })) });
  (ing.spec as Record<string, unknown>).tls = [{ hosts, secretName: secret }];
  return ing;
}

/** A kubernetes.io/tls Secret manifest file as the ACME storage keeps it. */
function storedSecret(name: string, pair: { cert: string; key: string }): string {
  return stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') } });
}

/** The certificate served for `servername`, verified against `ca` (chain and name), or null when it does not verify. */
async function servedVerifying(port: number, servername: string, ca: string): Promise<string | null> {
  return handshake(port, { servername, ca }).then((h) => h.fingerprint, () => null);
}

describe.runIf(hasPebble)('ACME HTTP-01 against pebble (local mode)', () => {
  let echo: Echo;
  let pebble: Pebble;
  let root: string;
  let testCa: TestCa;
  let storage: string;
  let gh: AcmeGatehouse;
  let seeded: { renew: string; keep: string };

  beforeAll(async () => {
    echo = await startEcho({ name: 'acme' });
    storage = await mkdtemp(path.join(tmpdir(), 'gatehouse-acme-storage-'));
    // Pre-seeded certificates from another CA: one 80 days into 90 (due: 10 days left), one 30 days into 90 (kept).
    testCa = await createCa('Previous CA');
    const renew = await testCa.issue({ dnsNames: ['renew.acme.test'], notBefore: new Date(Date.now() - 80 * DAY), notAfter: new Date(Date.now() + 10 * DAY) });
    const keep = await testCa.issue({ dnsNames: ['keep.acme.test'], notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() + 60 * DAY) });
    seeded = { renew: new X509Certificate(renew.cert).fingerprint256, keep: new X509Certificate(keep.cert).fingerprint256 };
    await writeFile(path.join(storage, 'default_renew-tls.yaml'), storedSecret('renew-tls', renew));
    await writeFile(path.join(storage, 'default_keep-tls.yaml'), storedSecret('keep-tls', keep));

    const http = await reservePort();
    pebble = await startPebble({ httpPort: http.port });
    root = await pebble.root();
    gh = await startAcmeGatehouse({
      manifests: {
        'base.yaml': manifest(ingressClass('gatehouse'), backendService('echo', echo.port)),
        'renew.yaml': manifest(acmeIngress('renew', 'renew-tls', ['renew.acme.test']), acmeIngress('keep', 'keep-tls', ['keep.acme.test'])),
      },
      storage,
      directory: pebble.directory,
      caFile: pebble.caFile,
      http,
    });
  });

  afterAll(async () => {
    await gh?.close();
    await pebble?.close();
    await echo?.close();
    if (storage) await rm(storage, { recursive: true, force: true });
  });

  it('serves the stored certificates from the first table, re-orders the one due for renewal and keeps the other', async () => {
    // The kept one is served as stored (it verifies against its own CA, not pebble's).
    expect(await servedVerifying(gh.httpsPort, 'keep.acme.test', testCa.cert)).toBe(seeded.keep);
    await waitFor('the renewed certificate to be served', async () => (await servedVerifying(gh.httpsPort, 'renew.acme.test', root)) !== null, 20_000, 50);
    expect(await servedVerifying(gh.httpsPort, 'renew.acme.test', root)).not.toBe(seeded.renew);
    expect(await servedVerifying(gh.httpsPort, 'keep.acme.test', testCa.cert)).toBe(seeded.keep);
    const text = await readFile(path.join(storage, 'default_renew-tls.yaml'), 'utf8');
    const stored = JSON.parse(text.slice(text.indexOf('{'))) as { type: string; data: Record<string, string> };
    expect(stored.type).toBe('kubernetes.io/tls');
    const cert = new X509Certificate(Buffer.from(stored.data['tls.crt']!, 'base64'));
    expect(cert.subjectAltName).toBe('DNS:renew.acme.test');
    expect(cert.issuer).not.toContain('Previous CA');
    expect(gh.acme.stats().orders).toBe(1);
    expect(gh.acmeConditions()).toEqual([]);
  });

  it('orders a certificate for a newly annotated Ingress: stored as a kubernetes.io/tls Secret manifest (0600), served by SNI, chain verifying against pebble\'s root', async () => {
    const before = gh.acme.stats().orders;
    await gh.write('shop.yaml', manifest(acmeIngress('shop', 'shop-tls', ['shop.acme.test', 'www.shop.acme.test'])));
    // Recompiles while the order is in flight must not order again.
    for (let i = 0; i < 5; i++) {
      await gh.write('noise.yaml', manifest(backendService(`noise-${i}`, echo.port)));
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor('the ACME certificate to be served for both names', async () =>
      (await servedVerifying(gh.httpsPort, 'shop.acme.test', root)) !== null && (await servedVerifying(gh.httpsPort, 'www.shop.acme.test', root)) !== null, 20_000, 50);
    const file = path.join(storage, 'default_shop-tls.yaml');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(storage, 'acme-account.key'))).mode & 0o777).toBe(0o600);
    const h = await handshake(gh.httpsPort, { servername: 'www.shop.acme.test', ca: root });
    expect(h.subjectAltName.split(', ').sort()).toEqual(['DNS:shop.acme.test', 'DNS:www.shop.acme.test']);
    const r = await httpsRequest(gh.httpsPort, { servername: 'shop.acme.test', path: '/hello', ca: root });
    expect(r.status).toBe(200);
    expect(gh.acme.stats().orders).toBe(before + 1);
  });

  it('answers no challenge it did not publish: an unknown token path is routed (never redirected), other paths redirect to https', async () => {
    const challenge = await send(getGlobalDispatcher(), `http://127.0.0.1:${gh.httpPort}`, '/.well-known/acme-challenge/not-a-token', { host: 'shop.acme.test' });
    expect(challenge.status).toBe(200); // the echo upstream: routed, not redirected
    const other = await send(getGlobalDispatcher(), `http://127.0.0.1:${gh.httpPort}`, '/x', { host: 'shop.acme.test' });
    expect(other.status).toBe(308);
  });

  it('orders nothing twice: recompiles, and the names already served, order nothing (pebble counts the orders too)', async () => {
    const orders = gh.acme.stats().orders;
    expect(pebble.orders()).toBe(orders);
    for (let i = 0; i < 3; i++) await gh.write('noise.yaml', manifest(backendService(`again-${i}`, echo.port)));
    await new Promise((r) => setTimeout(r, 500));
    expect(gh.acme.stats().orders).toBe(orders);
    expect(pebble.orders()).toBe(orders);
    expect(gh.acme.stats().failures).toBe(0);
  });

  it('after a restart, reuses the stored account and certificates: nothing is ordered and the same certificates are served', async () => {
    const served = await servedVerifying(gh.httpsPort, 'shop.acme.test', root);
    const accountKey = await readFile(path.join(storage, 'acme-account.key'), 'utf8');
    const accounts = pebble.logs.filter((l) => /There are now \d+ accounts/.test(l)).length;
    const orders = pebble.orders();
    await gh.close();
    const http = await reservePort();
    // pebble validates against the port it was configured with; nothing is validated here.
    gh = await startAcmeGatehouse({
      manifests: {
        'base.yaml': manifest(ingressClass('gatehouse'), backendService('echo', echo.port)),
        'shop.yaml': manifest(acmeIngress('shop', 'shop-tls', ['shop.acme.test', 'www.shop.acme.test'])),
        'renew.yaml': manifest(acmeIngress('renew', 'renew-tls', ['renew.acme.test'])),
      },
      storage,
      directory: pebble.directory,
      caFile: pebble.caFile,
      http,
    });
    expect(await servedVerifying(gh.httpsPort, 'shop.acme.test', root)).toBe(served);
    await new Promise((r) => setTimeout(r, 500));
    expect(gh.acme.stats()).toMatchObject({ orders: 0, attempts: [] });
    expect(pebble.orders()).toBe(orders);
    expect(await readFile(path.join(storage, 'acme-account.key'), 'utf8')).toBe(accountKey);
    expect(pebble.logs.filter((l) => /There are now \d+ accounts/.test(l)).length).toBe(accounts);
  });
});

describe.runIf(hasPebble)('ACME renewal when a certificate comes due', () => {
  let echo: Echo;
  let pebble: Pebble;
  let storage: string;
  let gh: AcmeGatehouse;

  beforeAll(async () => {
    echo = await startEcho({ name: 'acme-short' });
    storage = await mkdtemp(path.join(tmpdir(), 'gatehouse-acme-storage-'));
    const http = await reservePort();
    // 6-second certificates: renewal comes due with a third of the lifetime left, 4 s after issuance.
    pebble = await startPebble({ httpPort: http.port, certificateValidityPeriod: 6 });
    gh = await startAcmeGatehouse({
      manifests: { 'all.yaml': manifest(ingressClass('gatehouse'), backendService('echo', echo.port), acmeIngress('short', 'short-tls', ['short.acme.test'])) },
      storage,
      directory: pebble.directory,
      caFile: pebble.caFile,
      http,
    });
  });

  afterAll(async () => {
    await gh?.close();
    await pebble?.close();
    await echo?.close();
    if (storage) await rm(storage, { recursive: true, force: true });
  });

  it('re-orders a certificate once it is due (a timer, no recompile) and serves the new one', async () => {
    const root = await pebble.root();
    await waitFor('the first certificate', async () => (await servedVerifying(gh.httpsPort, 'short.acme.test', root)) !== null, 20_000, 50);
    const first = await servedVerifying(gh.httpsPort, 'short.acme.test', root);
    await waitFor('a renewed certificate', async () => {
      const now = await servedVerifying(gh.httpsPort, 'short.acme.test', root);
      return now !== null && now !== first;
    }, 20_000, 100);
    expect(gh.acme.stats().orders).toBeGreaterThanOrEqual(2);
    expect(gh.acme.stats().failures).toBe(0);
  });
});

describe.runIf(hasPebble)('ACME failures back off', () => {
  let echo: Echo;
  let pebble: Pebble | null = null;
  let storage: string;
  let gh: AcmeGatehouse;
  let directoryPort: number;
  let ca: TestCa;
  let httpPort: number;

  beforeAll(async () => {
    echo = await startEcho({ name: 'acme-down' });
    storage = await mkdtemp(path.join(tmpdir(), 'gatehouse-acme-storage-'));
    // The CA (and the file trusting it) exist; nothing listens on the directory's port yet.
    directoryPort = await freePort();
    ca = await createCa('Pebble Test Server CA');
    await mkdir(storage, { recursive: true });
    const caFile = path.join(storage, '..', `${path.basename(storage)}-ca.pem`);
    await writeFile(caFile, ca.cert);
    const http = await reservePort();
    httpPort = http.port;
    gh = await startAcmeGatehouse({
      manifests: { 'all.yaml': manifest(ingressClass('gatehouse'), backendService('echo', echo.port), acmeIngress('down', 'down-tls', ['down.acme.test'])) },
      storage,
      directory: `https://127.0.0.1:${directoryPort}/dir`,
      caFile,
      http,
      timings: { ...TIMINGS, retryMinMs: 100, retryMaxMs: 800 },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await pebble?.close();
    await echo?.close();
    if (storage) {
      await rm(storage, { recursive: true, force: true });
      await rm(path.join(storage, '..', `${path.basename(storage)}-ca.pem`), { force: true });
    }
  });

  it('raises GH_ACME_ORDER_FAILED on the Ingress, retries with exponential backoff up to the cap, and keeps serving', async () => {
    await waitFor('six attempts', () => gh.acme.stats().attempts.length >= 6, 15_000, 20);
    expect(gh.acmeConditions()).toEqual([{ name: 'down', code: 'GH_ACME_ORDER_FAILED', message: expect.stringMatching(/down\.acme\.test.*ECONNREFUSED.*retrying with backoff/) }]);
    // The delays planned after each failure: 100, 200, 400, 800, 800 ms, doubling, then capped.
    const planned = [100, 200, 400, 800, 800];
    expect(gh.acmeLogs.filter((l) => l.msg === 'ACME order failed').slice(0, 5).map((l) => l.retryInMs)).toEqual(planned);
    // And kept: each attempt came once its delay was up (+ the time an attempt takes, and a timer
    // running late on a busy machine: generous), not before and not at some later check.
    const at = gh.acme.stats().attempts;
    const gaps = at.slice(1, 6).map((t, i) => t - at[i]!);
    for (const [i, gap] of gaps.entries()) {
      expect(gap, `gap ${i}`).toBeGreaterThanOrEqual(planned[i]! - 10);
      expect(gap, `gap ${i}`).toBeLessThan(planned[i]! + 2000);
    }
    expect(gh.acme.stats()).toMatchObject({ orders: 0, issued: 0 });
    // Still serving: the route answers over HTTP and the default certificate over HTTPS.
    expect((await send(getGlobalDispatcher(), `http://127.0.0.1:${gh.httpPort}`, '/', { host: 'other.test' })).status).toBe(404);
    expect((await httpsRequest(gh.httpsPort, { servername: 'down.acme.test', path: '/' })).status).toBe(200);
  });

  it('recovers once the CA answers: the certificate is issued and the condition goes', async () => {
    pebble = await startPebble({ httpPort, listenPort: directoryPort, ca });
    const root = await pebble.root();
    await waitFor('the certificate once the CA answers', async () => (await servedVerifying(gh.httpsPort, 'down.acme.test', root)) !== null, 20_000, 50);
    await waitFor('the condition to go', () => gh.acmeConditions().length === 0, 5000);
    expect(gh.acme.stats().issued).toBe(1);
  });
});
