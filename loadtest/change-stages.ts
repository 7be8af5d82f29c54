// `npx node loadtest/change-stages.ts [--ingresses 10000] [--changes 100] [--tls] [--baseline DIR]`
//
// What one Ingress change costs in each stage between the snapshot and a worker's router, in one
// process, without the child processes, sockets and timers of scale-bench.ts: N Ingresses as
// scale-bench makes them (one host and one Prefix path each, a Service per ten; with --tls, each
// host has TLS from a Secret of its own, all holding one self-signed certificate), then `--changes`
// times one Ingress's path switched, and per change:
//   compile   compile with the controller's memo
//   tls       TlsControl.resolve (certificates, proxy-ssl, basic-auth and client-certificate Secrets)
//   diff      the worker pool's table diff
//   status    Kubernetes mode's status publisher (leader, nothing to write)
//   send      the diff's structured clone (what postMessage does for each worker)
//   apply     a worker applying the diff
//   router    the worker's router for the new table, from the last one
// Median ms of each. With --baseline DIR (another checkout), DIR's modules are measured first, then
// this tree's, in the same process order, alternating twice. Not part of npm test.

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({ options: { ingresses: { type: 'string', default: '10000' }, changes: { type: 'string', default: '100' }, tls: { type: 'boolean', default: false }, baseline: { type: 'string' } } });
const ingresses = Number(values.ingresses);
const changes = Number(values.changes);
if (!(ingresses >= 1 && ingresses <= 100_000 && changes >= 1 && changes <= 10_000)) throw new Error('--ingresses 1-100000, --changes 1-10000');
const here = fileURLToPath(new URL('..', import.meta.url));

const ingress = (i: number, path: string) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: `ing-${i}`, namespace: 'scale' },
  spec: {
    ingressClassName: 'gatehouse',
    rules: [{ host: `h${i}.scale.test`, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: `svc-${Math.floor(i / 10)}`, port: { name: 'http' } } } }] } }],
    ...(values.tls ? { tls: [{ hosts: [`h${i}.scale.test`], secretName: `tls-${i}` }] } : {}),
  },
});

async function measure(tree: string): Promise<Record<string, number>> {
  const m = (path: string) => import(`${tree}/${path}`);
  const { Snapshot, toKubeObject } = await m('src/core/snapshot.ts');
  const { compile, CompileMemo } = await m('src/core/compile.ts');
  const { compileOptions, parseOptions } = await m('src/options.ts');
  const { TableDiffer, applyTableDiff } = await m('src/dataplane/table-diff.ts');
  const { Router } = await m('src/dataplane/router/router.ts');
  const { TlsControl } = await m('src/control/tls/tls-control.ts');
  const { StatusPublisher } = await m('src/sources/kube/status-publisher.ts');
  const snapshot = new Snapshot();
  const upsert = (o: unknown) => {
    const c = toKubeObject(o);
    if (!c.ok) throw new Error(c.reason);
    snapshot.upsert(c.object);
  };
  upsert({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } });
  for (let s = 0; s < Math.ceil(ingresses / 10); s++) upsert({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${s}`, namespace: 'scale' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
  if (values.tls) {
    const { generateSelfSigned } = await m('src/control/tls/self-signed.ts');
    const pem = await generateSelfSigned({ commonName: '*.scale.test' });
    const data = { 'tls.crt': Buffer.from(pem.cert).toString('base64'), 'tls.key': Buffer.from(pem.key).toString('base64') };
    for (let i = 0; i < ingresses; i++) upsert({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `tls-${i}`, namespace: 'scale' }, type: 'kubernetes.io/tls', data });
  }
  for (let i = 0; i < ingresses; i++) upsert(ingress(i, '/v0'));
  const options = compileOptions(parseOptions(['--manifests', '.']));
  const memo = new CompileMemo();
  const log = { info() {}, warn() {}, error() {}, debug() {}, child: () => log };
  const tls = new TlsControl({ secret: (ns: string, name: string) => snapshot.get('Secret', ns, name), secretRevision: () => snapshot.revision('Secret'), log, onChange() {} });
  const status = new StatusPublisher({ http: { request: async () => ({}) }, elector: { isLeader: () => true }, log, publishService: null, publishStatusAddress: null });
  const differ = new TableDiffer();
  let result = compile(snapshot, options, 1, memo);
  await tls.resolve(result.table);
  differ.diff(result.table);
  status.update(snapshot, result.ingresses);
  let table = result.table;
  let router = new Router(table);
  const times: Record<string, number[]> = { compile: [], tls: [], diff: [], status: [], send: [], apply: [], router: [] };
  const time = async <T>(stage: string, f: () => T | Promise<T>): Promise<T> => {
    const started = performance.now();
    const v = await f();
    times[stage]!.push(performance.now() - started);
    return v;
  };
  for (let c = 0; c < changes; c++) {
    upsert(ingress((c * 7919) % ingresses, `/p${c}`));
    result = await time('compile', () => compile(snapshot, options, c + 2, memo));
    await time('tls', () => tls.resolve(result.table));
    const diff = await time('diff', () => differ.diff(result.table));
    await time('status', () => status.update(snapshot, result.ingresses));
    const sent = await time('send', () => structuredClone(diff));
    table = await time('apply', () => applyTableDiff(table, sent));
    router = await time('router', () => new Router(table, {}, router, sent));
  }
  tls.close();
  await status.close();
  const median = (list: number[]) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

const trees = values.baseline === undefined ? [here] : [values.baseline, here, values.baseline, here];
for (const tree of trees) {
  const r = await measure(tree);
  console.log(`${tree === here ? 'this tree' : 'baseline '} ${ingresses} Ingresses${values.tls ? ' with TLS' : ''}, median ms: ${Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(2)}`).join('  ')}`);
}
