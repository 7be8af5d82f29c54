// `gatehouse check` (docs/check.md): golden text and JSON reports for the fixture set of real-world
// Ingress manifests (test/fixtures/check/README.md), exit codes, and cluster mode against the API
// emulator, which must see nothing but reads. UPDATE_GOLDEN=1 rewrites the reports; review the diff.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../src/check/run-check.ts';
import type { CheckReport } from '../src/check/check-report.ts';
import { CATALOGUE } from '../src/core/annotations/annotation-catalogue.ts';
import { startKubeApi, type KubeApi, type KubeObject } from './support/kube-api-emulator.ts';

const FIXTURES = path.join('test', 'fixtures', 'check');
const MANIFESTS = path.join(FIXTURES, 'manifests');
/** ingress-nginx's class: the fixtures are Ingresses it serves. */
const CLASS_FLAGS = ['--controller-class', 'k8s.io/ingress-nginx', '--ingress-class', 'nginx'];

async function check(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCheck(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

function golden(file: string, got: string): void {
  const at = path.join(FIXTURES, file);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(at)) writeFileSync(at, got);
  expect(got).toBe(readFileSync(at, 'utf8'));
}

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function manifestDir(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-check-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'objects.yaml'), yaml);
  return dir;
}

const CLEAN = `
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
    nginx.ingress.kubernetes.io/ssl-passthrough: "false"
    cert-manager.io/cluster-issuer: letsencrypt
spec:
  ingressClassName: nginx
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other, namespace: shop}
spec:
  ingressClassName: traefik
  rules:
    - host: other.example.com
`;

describe('gatehouse check --manifests', () => {
  it('reports the fixture set as text (golden) and exits 1', async () => {
    const { code, stdout, stderr } = await check(['--manifests', MANIFESTS, ...CLASS_FLAGS]);
    expect(stderr).toBe('');
    golden('report.txt', stdout);
    expect(code).toBe(1);
  });

  it('reports the fixture set as JSON (golden), the same report as the text', async () => {
    const { code, stdout } = await check(['--manifests', MANIFESTS, ...CLASS_FLAGS, '--output=json']);
    golden('report.json', stdout);
    const report = JSON.parse(stdout) as CheckReport;
    expect(code).toBe(1);
    expect(report.exitCode).toBe(1);
    expect(report.version).toBe(1);
    // Every status shows up in the fixture set, and refused Ingresses are left out.
    const statuses = new Set(report.ingresses.flatMap((i) => i.annotations.map((a) => a.status)));
    expect([...statuses].sort()).toEqual(['differs', 'refused', 'supported', 'unsupported']);
    for (const i of report.ingresses) if (i.annotations.some((a) => a.status === 'refused')) expect(i.state).toBe('left out');
  });

  it('exits 0 when every Ingress would behave as under ingress-nginx; another class is listed and does not count', async () => {
    const dir = await manifestDir(CLEAN);
    const { code, stdout } = await check(['--manifests', dir, ...CLASS_FLAGS]);
    expect(stdout).toContain('shop/web: as under ingress-nginx\n');
    expect(stdout).toContain('  supported           nginx.ingress.kubernetes.io/ssl-passthrough\n');
    expect(stdout).not.toContain('cert-manager.io');
    expect(stdout).toContain('Not ours with these flags (another class; see --ingress-class and --controller-class):\n  shop/other (class "traefik")\n');
    expect(stdout).toMatch(/Summary: 1 Ingress checked \(1 not ours\): 1 as under ingress-nginx, 0 with changes, 0 left out; annotations: 2 supported; 0 problems\.\n$/);
    expect(code).toBe(0);
  });

  it('reports unknown and invalid annotations, and exits 1', async () => {
    const dir = await manifestDir(CLEAN.replace('proxy-body-size: 8m', 'proxy-body-size: 8b\n    nginx.ingress.kubernetes.io/proxy-bodysize: 8m\n    gatehouse.io/health-check-path: /healthz\n    nginx.ingress.kubernetes.io/health-check-path: /healthz'));
    const { code, stdout } = await check(['--manifests', dir, ...CLASS_FLAGS, '--output', 'json']);
    const web = (JSON.parse(stdout) as CheckReport).ingresses.find((i) => i.name === 'web')!;
    expect(web.state).toBe('left out');
    expect(web.annotations.map((a) => [a.key, a.status])).toEqual([
      ['gatehouse.io/health-check-path', 'supported'],
      ['nginx.ingress.kubernetes.io/health-check-path', 'unknown'],
      ['nginx.ingress.kubernetes.io/proxy-body-size', 'invalid'],
      ['nginx.ingress.kubernetes.io/proxy-bodysize', 'unknown'],
      ['nginx.ingress.kubernetes.io/ssl-passthrough', 'supported'],
    ]);
    expect(web.annotations[2]!.note).toContain('"8b"');
    expect(web.problems).toEqual([]);
    expect(code).toBe(1);
  });

  it('writes control characters of a value as \\uXXXX escapes in the text report: a terminal never gets DEL or a C1 CSI', async () => {
    const dir = await manifestDir(CLEAN.replace('proxy-body-size: 8m', 'proxy-body-size: "8\\x7f"').replace('ingressClassName: traefik', 'ingressClassName: "traefik\\u009b2J"'));
    const { code, stdout } = await check(['--manifests', dir, ...CLASS_FLAGS]);
    expect(stdout).toContain('"8\\u007f"');
    expect(stdout).toContain('(class "traefik\\u009b2J")');
    // eslint-disable-next-line no-control-regex -- control characters are what must not be there
    expect(stdout.replaceAll('\n', '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(code).toBe(1);
  });

  it('lists problems about no Ingress (a ConfigMap key, a manifest that does not parse) under "Other problems", and exits 1', async () => {
    const dir = await manifestDir(`${CLEAN}---
apiVersion: v1
kind: ConfigMap
metadata: {name: gatehouse, namespace: ingress}
data:
  proxy-body-size: lots
`);
    await writeFile(path.join(dir, 'broken.yaml'), 'kind: [unclosed\n');
    const { code, stdout } = await check(['--manifests', dir, ...CLASS_FLAGS, '--configmap', 'ingress/gatehouse', '--output', 'json']);
    const report = JSON.parse(stdout) as CheckReport;
    expect(report.problems.map((p) => [p.code, p.object])).toEqual([
      ['GH_MANIFEST_UNREADABLE', path.join(dir, 'broken.yaml')],
      ['GH_CONFIGMAP_KEY_INVALID', 'ConfigMap ingress/gatehouse'],
    ]);
    expect(report.ingresses.find((i) => i.name === 'web')!.asIngressNginx).toBe(true);
    expect(code).toBe(1);
    const text = await check(['--manifests', dir, ...CLASS_FLAGS, '--configmap', 'ingress/gatehouse']);
    expect(text.stdout).toContain(`Other problems:\n  GH_MANIFEST_UNREADABLE ${path.join(dir, 'broken.yaml')}\n`);
  });

  it('exits 2 on usage errors and when the directory cannot be read', async () => {
    expect((await check(['--output', 'yaml'])).code).toBe(2);
    expect((await check(['--manifests'])).code).toBe(2);
    const unknown = await check(['--manifests', MANIFESTS, '--no-such-flag']);
    expect(unknown).toEqual({ code: 2, stdout: '', stderr: 'gatehouse check: --no-such-flag: unknown flag (see --help)\n' });
    const missing = await check(['--manifests', path.join(MANIFESTS, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^gatehouse check: manifest directory .* does not exist\n$/);
    const help = await check(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: gatehouse check --manifests DIR/);
  });
});

describe('gatehouse check against a cluster', () => {
  let api: KubeApi | null = null;
  afterEach(async () => {
    await api?.close();
    api = null;
  });

  /** The fixture set in the emulator, all created at one instant (age order is then by namespace/name, as in the manifests). */
  async function clusterWithFixtures(): Promise<KubeApi> {
    const kube = await startKubeApi({ clock: () => new Date('2026-01-01T00:00:00Z') });
    api = kube;
    for (const file of readdirSync(MANIFESTS).sort()) {
      for (const doc of parseAllDocuments(readFileSync(path.join(MANIFESTS, file), 'utf8'))) kube.create(doc.toJS() as KubeObject);
    }
    return kube;
  }

  it('tells the same story as --manifests, and only reads: no write, no watch', async () => {
    const kube = await clusterWithFixtures();
    const fromCluster = await check(['--apiserver-host', kube.url, ...CLASS_FLAGS, '--output', 'json']);
    const fromManifests = await check(['--manifests', MANIFESTS, ...CLASS_FLAGS, '--output', 'json']);
    expect(fromCluster.stderr).toBe('');
    expect(fromCluster.code).toBe(1);
    const { source, ...report } = JSON.parse(fromCluster.stdout) as CheckReport;
    const { source: _m, ...expected } = JSON.parse(fromManifests.stdout) as CheckReport;
    expect(source).toEqual({ cluster: kube.url });
    expect(report).toEqual(expected);
    expect(kube.requests.length).toBeGreaterThan(0);
    expect(kube.requests.filter((r) => r.method !== 'GET' || r.watch || (r.verb !== 'list' && r.verb !== 'get'))).toEqual([]);
  });

  it('fetches the Secrets annotations name, by name, and checks them as the controller does', async () => {
    const kube = await startKubeApi();
    api = kube;
    kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'shop' }, spec: { ports: [{ port: 443 }] } });
    kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'upstream-ca', namespace: 'shop' }, type: 'Opaque', data: { 'tls.crt': Buffer.from('x').toString('base64') } });
    kube.create({
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
      metadata: { name: 'api', namespace: 'shop', annotations: { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS', 'nginx.ingress.kubernetes.io/proxy-ssl-secret': 'shop/upstream-ca' } },
      spec: { ingressClassName: 'nginx', rules: [{ host: 'api.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 443 } } } }] } }] },
    });
    kube.create({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } });
    const { code, stdout } = await check(['--apiserver-host', kube.url, ...CLASS_FLAGS, '--output=json']);
    const ing = (JSON.parse(stdout) as CheckReport).ingresses[0]!;
    expect(ing.problems.map((p) => p.code)).toEqual(['GH_PROXY_SSL_SECRET_INVALID']);
    expect(ing.problems[0]!.message).toContain('Secret shop/upstream-ca: has tls.crt but no tls.key');
    expect(code).toBe(1);
    expect(kube.requests.some((r) => r.resource === 'secrets' && r.namespace === 'shop' && r.query.fieldSelector === 'metadata.name=upstream-ca')).toBe(true);
    expect(kube.requests.filter((r) => r.method !== 'GET' || r.watch)).toEqual([]);
  });

  it('exits 2 when the API server cannot be reached', async () => {
    const kube = await startKubeApi();
    const url = kube.url;
    await kube.close();
    const { code, stderr } = await check(['--apiserver-host', url, ...CLASS_FLAGS]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^gatehouse check: /);
  });
});

describe('docs/check.md', () => {
  const DOC = path.join('docs', 'check.md');
  /** The rows of a two-column table of the catalogue's names of one status, sorted by name. */
  const table = (status: 'unsupported' | 'differs') =>
    ['| annotation | note |', '| --- | --- |', ...Object.entries(CATALOGUE).filter(([, e]) => e.status === status).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, e]) => `| \`${name}\` | ${e.note.replaceAll('|', '\\|')} |`)].join('\n');
  /** The table right under `heading` in the doc. */
  const section = (doc: string, heading: string): { start: number; end: number } => {
    const start = doc.indexOf('| annotation |', doc.indexOf(`\n${heading}\n`));
    const end = doc.indexOf('\n\n', start);
    return { start, end: end === -1 ? doc.length : end };
  };

  it('has the catalogue\'s unsupported and differing annotations, with its notes (UPDATE_GOLDEN=1 rewrites them)', () => {
    let doc = readFileSync(DOC, 'utf8');
    for (const [heading, status] of [['### Unsupported (served without them)', 'unsupported'], ['### Supported, differs', 'differs']] as const) {
      const at = section(doc, heading);
      if (process.env.UPDATE_GOLDEN === '1') doc = doc.slice(0, at.start) + table(status) + doc.slice(at.end);
      else expect(doc.slice(at.start, at.end), heading).toBe(table(status));
    }
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(DOC, doc);
  });

  it('lists every refused annotation with the catalogue\'s note', () => {
    const doc = readFileSync(DOC, 'utf8');
    for (const [name, entry] of Object.entries(CATALOGUE)) {
      if (entry.status !== 'refused') continue;
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row!.replaceAll('\\|', '|'), name).toContain(entry.note);
    }
  });
});
