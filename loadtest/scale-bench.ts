// `npx node loadtest/scale-bench.ts [--sizes 10,1000,5000,10000] [--modes local,kube]
//   [--changes 50] [--workers 2] [--no-idle | --idle-only] [--idle-runs 1] [--quiet 0] [--baseline DIR]`
//
// Gatehouse at scale: N Ingresses (one host and one Prefix path each, a Service per ten of them,
// every Service's EndpointSlice → one echo upstream), in local mode (manifests in 20 files in a
// temporary directory) and in Kubernetes mode (the test API emulator, in this process). For each
// N and mode it starts `src/main.ts` as a child process and reports:
//   ready     spawn → /readyz 200
//   rss       VmRSS of the Gatehouse process (main thread + workers) once ready, and after the
//             changes (and --quiet S seconds later, when given); peak is VmHWM
//   change    50 times: one Ingress's path switched to a new one (its file rewritten, or the
//             object updated in the emulator), then a request for the new path polled every 2 ms
//             on a fresh connection (the kernel picks the worker) until it answers 200, and
//             /readyz polled until every worker acks a new table generation; the change is
//             served once both happened. p50 / p99 / max.
// and, unless --no-idle, the idle RSS on the demo manifests (examples/local) with 1 and 2 workers
// (the median of --idle-runs starts, each tree in turn; --idle-only measures that alone).
// Each checkout runs as its `gatehouse` command (package.json "bin"); src/gatehouse.js keeps
// Node's compile cache in ~/.cache/gatehouse, so only a first run ever starts cold.
// With --baseline DIR (another checkout, e.g. `git worktree add /tmp/base main`, with node_modules),
// each figure is measured for DIR's command right before this tree's, so both see the same load.
// Every server listens on 127.0.0.1 and is stopped by its PID. Not part of npm test.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild, stopAll, untilReady, type Child } from './lib/child.ts';
import { startEchoUpstream, type EchoUpstream } from './lib/echo-upstream.ts';
import { freePort } from './lib/gatehouse.ts';
import { startKubeApi, type KubeApi, type KubeObject } from '../test/support/kube-api-emulator.ts';

/** A checkout's `gatehouse` command (package.json "bin"): what `npm start` and the image run. */
function entry(checkout: string): string {
  const pkg = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { bin: { gatehouse: string } };
  return join(checkout, pkg.bin.gatehouse);
}
const MAIN = entry(fileURLToPath(new URL('..', import.meta.url)));
const DEMO = fileURLToPath(new URL('../examples/local/', import.meta.url));
const FILES = 20;
const INGRESSES_PER_SERVICE = 10;
/** One change must be served within this, or the run stops. */
const CHANGE_TIMEOUT_MS = 20_000;
const READY_TIMEOUT_MS = 180_000;
/** Quiet time between changes, above the holdoff caps, so each is measured alone. */
const GAP_MS = 300;

const USAGE = `Flags:
  --sizes LIST     Ingress counts, comma-separated (default 10,1000,5000,10000; each 1-20000)
  --modes LIST     local, kube or both (default local,kube)
  --changes N      changes measured per size and mode (default 50, 1-500)
  --workers N      data-plane workers (default 2, 1-8)
  --no-idle        skip the idle-memory figures on the demo manifests
  --idle-only      measure only those
  --idle-runs N    starts per tree and worker count for them, the median printed (default 1, 1-15)
  --quiet S        also the RSS S seconds after the last change (default 0: not measured; 0-120)
  --baseline DIR   also run DIR's gatehouse command, interleaved with this tree's (before/after)
`;

function fail(message: string): never {
  process.stderr.write(`scale-bench: ${message}\n${USAGE}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,1000,5000,10000' },
    modes: { type: 'string', default: 'local,kube' },
    changes: { type: 'string', default: '50' },
    workers: { type: 'string', default: '2' },
    'no-idle': { type: 'boolean', default: false },
    'idle-only': { type: 'boolean', default: false },
    'idle-runs': { type: 'string', default: '1' },
    quiet: { type: 'string', default: '0' },
    baseline: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const int = (flag: string, v: string, min: number, max: number) => {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) fail(`--${flag}: expected ${min}-${max}, got ${JSON.stringify(v)}`);
  return n;
};
const SIZES = values.sizes.split(',').map((s) => int('sizes', s.trim(), 1, 20_000));
const MODES = values.modes.split(',').map((m) => m.trim());
for (const m of MODES) if (m !== 'local' && m !== 'kube') fail(`--modes: unknown mode ${JSON.stringify(m)}`);
const CHANGES = int('changes', values.changes, 1, 500);
const WORKERS = int('workers', values.workers, 1, 8);
const IDLE_RUNS = int('idle-runs', values['idle-runs'], 1, 15);
const QUIET_S = int('quiet', values.quiet, 0, 120);
if (values['no-idle'] && values['idle-only']) fail('--no-idle and --idle-only exclude each other');
/** The Gatehouse builds measured, each figure for all of them in turn. */
const TREES: readonly { label: string; main: string }[] = [
  ...(values.baseline === undefined ? [] : [{ label: 'base', main: entry(values.baseline) }]),
  { label: values.baseline === undefined ? 'this' : 'new', main: MAIN },
];

type Obj = Record<string, unknown>;

const host = (i: number) => `h${i}.scale.test`;
const serviceOf = (i: number) => `svc-${Math.floor(i / INGRESSES_PER_SERVICE)}`;

function ingressObject(i: number, path: string): Obj {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: `ing-${i}`, namespace: 'scale' },
    spec: {
      ingressClassName: 'gatehouse',
      rules: [{ host: host(i), http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: serviceOf(i), port: { name: 'http' } } } }] } }],
    },
  };
}

/** The IngressClass, and per ten Ingresses a Service with one EndpointSlice → the upstream. */
function baseObjects(n: number, upstreamPort: number): Obj[] {
  const out: Obj[] = [{ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } }];
  for (let s = 0; s < Math.ceil(n / INGRESSES_PER_SERVICE); s++) {
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${s}`, namespace: 'scale' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
    out.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `svc-${s}-1`, namespace: 'scale', labels: { 'kubernetes.io/service-name': `svc-${s}` } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: upstreamPort }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    });
  }
  return out;
}

/** VmRSS and VmHWM of a process, in MB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** One GET on a fresh connection: its status, or 0 when it failed. */
function get(port: number, path: string, hostHeader?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: hostHeader ? { host: hostHeader } : {}, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Readiness {
  generation: number;
  workers: { generation: number }[];
}

async function readiness(statusPort: number): Promise<Readiness | null> {
  const r = await get(statusPort, '/readyz');
  if (r.status !== 200) return null;
  try {
    return JSON.parse(r.body) as Readiness;
  } catch {
    return null;
  }
}

interface Running {
  child: Child;
  httpPort: number;
  statusPort: number;
  readyMs: number;
}

/** The Node flags of `main`'s shebang (`#!/usr/bin/env -S node FLAGS`): how the image and `gatehouse` run it. */
function shebangFlags(main: string): string[] {
  const first = readFileSync(main, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node (.+)$/.exec(first);
  return m === null ? [] : m[1]!.trim().split(/\s+/);
}

async function startGatehouse(main: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Running> {
  const [httpPort, httpsPort, statusPort] = [await freePort(), await freePort(), await freePort()];
  const t0 = performance.now();
  const child = startChild('gatehouse', main, [...args, '--bind-address', '127.0.0.1', '--log-level', 'warn', '--http-port', String(httpPort), '--https-port', String(httpsPort), '--status-port', String(statusPort), '--shutdown-grace-period', '1'], { execArgv: shebangFlags(main), ...(env ? { env: { ...process.env, ...env } } : {}) });
  let gaveUp = false;
  const ready = (async () => {
    while (!gaveUp) {
      if ((await get(statusPort, '/readyz')).status === 200) return;
      await sleep(10);
    }
  })();
  try {
    await untilReady(child, ready, READY_TIMEOUT_MS, 'ready (/readyz 200)');
  } catch (err) {
    gaveUp = true;
    await child.stop(5000);
    throw err;
  }
  return { child, httpPort, statusPort, readyMs: performance.now() - t0 };
}

/** Makes the change, then waits until the new path answers 200 and every worker acked a newer generation. */
async function measureChange(g: Running, change: () => void, hostHeader: string, path: string): Promise<number> {
  const before = (await readiness(g.statusPort))?.generation ?? 0;
  const t0 = performance.now();
  const deadline = t0 + CHANGE_TIMEOUT_MS;
  let served = 0;
  let acked = 0;
  change();
  const serve = (async () => {
    while (performance.now() < deadline) {
      if ((await get(g.httpPort, path, hostHeader)).status === 200) return void (served = performance.now());
      await sleep(2);
    }
  })();
  const ack = (async () => {
    while (performance.now() < deadline) {
      const r = await readiness(g.statusPort);
      if (r !== null && r.generation > before && r.workers.every((w) => w.generation === r.generation)) return void (acked = performance.now());
      await sleep(2);
    }
  })();
  await Promise.all([serve, ack]);
  if (served === 0 || acked === 0) throw new Error(`change not served within ${CHANGE_TIMEOUT_MS} ms (${hostHeader}${path}: ${served ? 'answered' : 'not answered'}, ${acked ? 'acked' : 'not acked'})`);
  return Math.max(served, acked) - t0;
}

interface Row {
  tree: string;
  mode: string;
  ingresses: number;
  readyMs: number;
  rssReady: number;
  rssAfter: number;
  /** --quiet seconds after the last change; null without --quiet. */
  rssQuiet: number | null;
  peak: number;
  p50: number;
  p99: number;
  max: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs the changes against a started Gatehouse, Ingress `i` of the `n` changing each time. */
async function runChanges(g: Running, n: number, apply: (i: number, path: string) => void): Promise<number[]> {
  const ms: number[] = [];
  // Spread over the Ingresses (and so over the files); each change gives its Ingress a new path.
  const version = new Map<number, number>();
  for (let c = 0; c < CHANGES; c++) {
    const i = Math.floor(((c * 7919) % CHANGES) * (n / CHANGES)) % n;
    const v = (version.get(i) ?? 0) + 1;
    version.set(i, v);
    const path = `/v${v}`;
    await sleep(GAP_MS);
    ms.push(await measureChange(g, () => apply(i, path), host(i), `${path}/x`));
  }
  return ms;
}

async function row(tree: string, mode: string, n: number, g: Running, rssReady: number, ms: number[]): Promise<Row> {
  const sorted = [...ms].sort((a, b) => a - b);
  const m = memory(g.child.pid);
  let rssQuiet: number | null = null;
  if (QUIET_S > 0) {
    await sleep(QUIET_S * 1000);
    rssQuiet = memory(g.child.pid).rss;
  }
  return { tree, mode, ingresses: n, readyMs: g.readyMs, rssReady, rssAfter: m.rss, rssQuiet, peak: m.peak, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1]! };
}

async function settledRss(pid: number): Promise<number> {
  await sleep(1000);
  return memory(pid).rss;
}

async function local(tree: (typeof TREES)[number], n: number, upstream: EchoUpstream): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-scale-'));
  const paths = new Map<number, string>();
  const fileOf = (i: number) => i % FILES;
  const yaml = (objects: readonly Obj[]) => objects.map((o) => JSON.stringify(o)).join('\n---\n') + '\n';
  const writeFile = (f: number) => {
    const objects: Obj[] = [];
    for (let i = f; i < n; i += FILES) objects.push(ingressObject(i, paths.get(i) ?? '/v0'));
    writeFileSync(join(dir, `ingresses-${String(f).padStart(2, '0')}.yaml`), yaml(objects));
  };
  let g: Running | null = null;
  try {
    writeFileSync(join(dir, 'base.yaml'), yaml(baseObjects(n, upstream.port)));
    for (let f = 0; f < Math.min(FILES, n); f++) writeFile(f);
    g = await startGatehouse(tree.main, ['--manifests', dir, '--workers', String(WORKERS)]);
    const rssReady = await settledRss(g.child.pid);
    const ms = await runChanges(g, n, (i, path) => {
      paths.set(i, path);
      writeFile(fileOf(i));
    });
    return await row(tree.label, 'local', n, g, rssReady, ms);
  } finally {
    await g?.child.stop(10_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function kube(tree: (typeof TREES)[number], n: number, upstream: EchoUpstream): Promise<Row> {
  const api: KubeApi = await startKubeApi();
  let g: Running | null = null;
  try {
    for (const o of baseObjects(n, upstream.port)) api.apply(o as KubeObject);
    for (let i = 0; i < n; i++) api.apply(ingressObject(i, '/v0') as KubeObject);
    g = await startGatehouse(tree.main, ['--apiserver-host', api.url, '--workers', String(WORKERS)], { POD_NAMESPACE: 'gatehouse', POD_NAME: 'scale' });
    const rssReady = await settledRss(g.child.pid);
    const ms = await runChanges(g, n, (i, path) => void api.apply(ingressObject(i, path) as KubeObject));
    return await row(tree.label, 'kube', n, g, rssReady, ms);
  } finally {
    await g?.child.stop(10_000);
    await api.close();
  }
}

async function idle(main: string, workers: number): Promise<number> {
  const g = await startGatehouse(main, ['--manifests', DEMO, '--workers', String(workers)]);
  try {
    await sleep(2000);
    return memory(g.child.pid).rss;
  } finally {
    await g.child.stop(10_000);
  }
}

const f1 = (x: number) => x.toFixed(1);
function print(rows: readonly Row[]): void {
  const head = ['tree', 'mode', 'ingresses', 'ready s', 'RSS ready MB', 'RSS after MB', ...(QUIET_S > 0 ? [`RSS +${QUIET_S}s MB`] : []), 'peak MB', 'change p50 ms', 'p99 ms', 'max ms'];
  const lines = rows.map((r) => [r.tree, r.mode, String(r.ingresses), (r.readyMs / 1000).toFixed(2), f1(r.rssReady), f1(r.rssAfter), ...(r.rssQuiet === null ? [] : [f1(r.rssQuiet)]), f1(r.peak), f1(r.p50), f1(r.p99), f1(r.max)]);
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  for (const l of [head, ...lines]) process.stdout.write(`${l.map((cell, c) => cell.padStart(widths[c]!)).join('  ')}\n`);
}

const upstream = await startEchoUpstream();
const rows: Row[] = [];
const stop = async () => {
  await stopAll([upstream.child]);
};
process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
try {
  process.stdout.write(`scale-bench: ${WORKERS} worker(s), ${CHANGES} changes per run, Node ${process.version}\n`);
  if (!values['no-idle']) {
    for (const workers of [1, 2]) {
      // Interleaved: each run starts every tree in turn, so drift hits them alike.
      const runs = new Map<string, number[]>(TREES.map((t) => [t.label, []]));
      for (let run = 0; run < IDLE_RUNS; run++) for (const tree of TREES) runs.get(tree.label)!.push(await idle(tree.main, workers));
      for (const [label, rss] of runs) {
        const sorted = rss.sort((a, b) => a - b);
        const all = IDLE_RUNS > 1 ? ` (median of ${sorted.map(f1).join(', ')})` : '';
        process.stdout.write(`idle RSS on the demo manifests, ${label}, ${workers} worker(s): ${f1(sorted[(sorted.length - 1) >> 1]!)} MB${all}\n`);
      }
    }
  }
  for (const n of values['idle-only'] ? [] : SIZES) {
    for (const mode of MODES) {
      for (const tree of TREES) {
        const r = mode === 'local' ? await local(tree, n, upstream) : await kube(tree, n, upstream);
        rows.push(r);
        process.stdout.write(`  ${tree.label} ${mode} ${n}: ready ${(r.readyMs / 1000).toFixed(2)} s, change p50 ${f1(r.p50)} ms p99 ${f1(r.p99)} ms, RSS ${f1(r.rssAfter)} MB\n`);
      }
    }
  }
  print(rows);
} finally {
  await stop();
}
process.exit(0);
