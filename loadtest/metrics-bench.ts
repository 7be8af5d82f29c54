// `node loadtest/metrics-bench.ts [--requests N]`
//
// The two designs issue 11 names for request metrics across the worker pool, measured on the
// request path and at scrape time, in one thread (no wrk):
// (a) prom-client in each worker (a Counter with the five request labels, two Histograms and two
//     byte Counters with the three route labels), aggregated at scrape with
//     AggregatorRegistry.aggregate over each worker's getMetricsAsJSON() (which in the pool would
//     also cost a message round trip to every worker, not counted here);
// (b) dataplane/observe/request-metrics.ts: plain stores into the worker's Float64Array region of
//     a SharedArrayBuffer at a series number the router precomputed, summed by the main thread at
//     scrape (observability/metrics.ts renderMetrics).
// Each records the same requests: 100 routes, methods and statuses in a fixed mix. Prints ns per
// request recorded and ms per scrape of 2 workers' worth. See loadtest/README.md.

import { parseArgs } from 'node:util';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { createMetricsBuffer, DURATION_BUCKETS, MetricsReader, RequestMetrics, type RequestSample } from '../src/dataplane/observe/request-metrics.ts';
import { SeriesRegistry } from '../src/dataplane/observe/series.ts';
import { Histogram as MainHistogram, COMPILE_BUCKETS, renderMetrics } from '../src/observability/metrics.ts';
import type { RouteTable } from '../src/core/model.ts';
import { table } from './lib/report.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000000' } } });
const N = Math.min(Math.max(Number(values.requests) || 2_000_000, 10_000), 50_000_000);
const ROUTES = 100;
const METHODS = ['GET', 'GET', 'GET', 'POST', 'HEAD', 'PUT'];
const STATUSES = [200, 200, 200, 200, 304, 404, 502];

// The same route table for both: 100 Ingresses, one Service each.
const routeTable: RouteTable = {
  generation: 1,
  fingerprint: 'f',
  hosts: Array.from({ length: ROUTES }, (_, i) => ({ host: `h${i}.test`, routes: [{ path: '/', match: 'Prefix' as const, backend: `ns/svc${i}:80`, ingress: `ns/ing${i}`, sslRedirect: false }], defaultBackend: null, tls: false, sslRedirect: false })),
  defaultBackend: null,
  backends: Object.fromEntries(Array.from({ length: ROUTES }, (_, i) => [`ns/svc${i}:80`, { id: `ns/svc${i}:80`, namespace: 'ns', service: `svc${i}`, port: 80, target: { type: 'missing' as const } }])),
  tls: [],
  defaultCertificate: null,
};

function promWorker() {
  const registry = new Registry();
  const route = ['namespace', 'ingress', 'service'] as const;
  const requests = new Counter({ name: 'gatehouse_requests_total', help: 'h', labelNames: [...route, 'method', 'status_class'], registers: [registry] });
  const duration = new Histogram({ name: 'gatehouse_request_duration_seconds', help: 'h', labelNames: route, buckets: [...DURATION_BUCKETS], registers: [registry] });
  const upstream = new Histogram({ name: 'gatehouse_upstream_duration_seconds', help: 'h', labelNames: route, buckets: [...DURATION_BUCKETS], registers: [registry] });
  const bytesIn = new Counter({ name: 'gatehouse_request_bytes_total', help: 'h', labelNames: route, registers: [registry] });
  const bytesOut = new Counter({ name: 'gatehouse_response_bytes_total', help: 'h', labelNames: route, registers: [registry] });
  // The best prom-client can do per route: label children resolved once (as per table generation).
  const children = Array.from({ length: ROUTES }, (_, i) => {
    const labels = { namespace: 'ns', ingress: `ing${i}`, service: `svc${i}` };
    return { labels, duration: duration.labels(labels), upstream: upstream.labels(labels), bytesIn: bytesIn.labels(labels), bytesOut: bytesOut.labels(labels) };
  });
  const observe = (r: number, method: string, status: number, seconds: number) => {
    const c = children[r]!;
    requests.inc({ ...c.labels, method, status_class: `${(status / 100) | 0}xx` });
    c.duration.observe(seconds);
    c.upstream.observe(seconds * 0.9);
    c.bytesIn.inc(120);
    c.bytesOut.inc(640);
  };
  return { registry, observe };
}

function sabPool(workers: number) {
  const buffer = createMetricsBuffer(workers);
  const series = new SeriesRegistry();
  const index = series.add(routeTable);
  // The router's precomputed series number of each route.
  const numbers = routeTable.hosts.map((h) => index[`ns\0${h.routes[0]!.ingress.slice(3)}\0${routeTable.backends[h.routes[0]!.backend]!.service}`]!);
  const writers = Array.from({ length: workers }, (_, w) => new RequestMetrics(buffer, w));
  const s: RequestSample = { series: 0, method: '', status: 0, seconds: 0, upstreamSeconds: 0, bytesIn: 120, bytesOut: 640, retries: 0, refusal: null };
  const observe = (w: number, r: number, method: string, status: number, seconds: number) => {
    s.series = numbers[r]!;
    s.method = method;
    s.status = status;
    s.seconds = seconds;
    s.upstreamSeconds = seconds * 0.9;
    writers[w]!.observe(s);
  };
  return { reader: new MetricsReader(buffer), series, observe };
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t);
}

const control = { generation: 1, compile: new MainHistogram(COMPILE_BUCKETS).read(), applies: 1, lastApply: 0, conditions: [], leader: null, certificates: {}, endpoints: {}, endpointHealth: [], workers: 2 };
const results: string[][] = [['', 'ns per request recorded', 'ms per scrape (2 workers)']];

for (let round = 1; round <= 2; round++) {
  // (a) prom-client: two workers' registries, aggregated.
  const w = [promWorker(), promWorker()];
  const promNs = time(() => {
    for (let i = 0; i < N; i++) w[i & 1]!.observe(i % ROUTES, METHODS[i % METHODS.length]!, STATUSES[i % STATUSES.length]!, (i % 1000) / 10_000);
  }) / N;
  let promScrapeMs = 0;
  for (let k = 0; k < 5; k++) {
    const t = process.hrtime.bigint();
    const json = await Promise.all(w.map((x) => x.registry.getMetricsAsJSON()));
    await AggregatorRegistry.aggregate(json).metrics();
    promScrapeMs += Number(process.hrtime.bigint() - t) / 1e6 / 5;
  }
  results.push([`(a) prom-client per worker, aggregated #${round}`, promNs.toFixed(1), promScrapeMs.toFixed(2)]);

  // (b) shared memory.
  const pool = sabPool(2);
  const sabNs = time(() => {
    for (let i = 0; i < N; i++) pool.observe(i & 1, i % ROUTES, METHODS[i % METHODS.length]!, STATUSES[i % STATUSES.length]!, (i % 1000) / 10_000);
  }) / N;
  let sabScrapeMs = 0;
  for (let k = 0; k < 5; k++) sabScrapeMs += time(() => renderMetrics(pool.reader, pool.series.labels(), control)) / 1e6 / 5;
  results.push([`(b) SharedArrayBuffer regions, summed #${round}`, sabNs.toFixed(1), sabScrapeMs.toFixed(2)]);
}

process.stdout.write(`\nRequest metrics, ${N} requests over ${ROUTES} routes, 2 workers' worth, one thread (Node ${process.version})\n${table(results)}\n`);
