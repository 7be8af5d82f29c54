// /metrics: the Prometheus text format (version 0.0.4) of the pool's request metrics, summed over
// the workers' shared regions at scrape time (dataplane/observe/request-metrics.ts), and of the
// control plane's state (generation, compiles, conditions, leader, certificates, endpoint health).
// docs/metrics.md lists each family with its labels and the ingress-nginx metric it replaces; a
// test keeps the two in step. Label values are bounded: Ingresses, Services, backends, endpoints,
// Secrets and condition codes, never a path, a client address or a query.

import type { Condition } from '../core/model.ts';
import { BLOCK, DURATION_BUCKETS, METHODS, STATUS_CLASSES, type HistogramSum, type MetricsReader } from '../dataplane/observe/request-metrics.ts';
import type { SeriesLabels } from '../dataplane/observe/series.ts';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Buckets of gatehouse_config_compile_duration_seconds. */
export const COMPILE_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** A histogram the main thread keeps itself (compile durations). */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += v;
  }

  read(): HistogramSum {
    let running = 0;
    return { buckets: this.#counts.map((c) => (running += c)), sum: this.#sum };
  }
}

/** One endpoint of a backend with health checks (active, passive or both). */
export interface EndpointHealthSample {
  readonly backend: string;
  readonly endpoint: string;
  /** Active checks pass and it is not ejected. */
  readonly healthy: boolean;
  /** Times passive health ejected it. */
  readonly ejections: number;
}

/** What the control plane knows, at scrape time. */
export interface ControlPlaneSample {
  readonly generation: number;
  readonly compile: HistogramSum;
  /** Tables every worker served, and when the last one was served (epoch seconds; 0: none yet). */
  readonly applies: number;
  readonly lastApply: number;
  readonly conditions: readonly Condition[];
  /** Kubernetes mode: whether this replica holds the Lease; null (local mode): not reported. */
  readonly leader: boolean | null;
  /** notAfter (epoch ms) of each served certificate, by `namespace/name` of its Secret. */
  readonly certificates: Readonly<Record<string, number>>;
  /** Ready endpoints per backend id. */
  readonly endpoints: Readonly<Record<string, number>>;
  readonly endpointHealth: readonly EndpointHealthSample[];
  readonly workers: number;
}

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(+v.toPrecision(15));
}

class Exposition {
  readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Readonly<Record<string, string>>, value: number): void {
    this.lines.push(`${name}${labelText(labels)} ${num(value)}`);
  }

  histogram(name: string, labels: Readonly<Record<string, string>>, bounds: readonly number[], h: HistogramSum): void {
    for (let i = 0; i < bounds.length; i++) this.sample(`${name}_bucket`, { ...labels, le: String(bounds[i]) }, h.buckets[i]!);
    const count = h.buckets[bounds.length]!;
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, count);
    this.sample(`${name}_sum`, labels, h.sum);
    this.sample(`${name}_count`, labels, count);
  }
}

function requestMetrics(x: Exposition, reader: MetricsReader, series: readonly SeriesLabels[]): void {
  const used: { labels: Record<string, string>; n: number }[] = [];
  series.forEach((l, n) => {
    const labels = { namespace: l.namespace, ingress: l.ingress, service: l.service };
    if (reader.histogram(n, BLOCK.duration).buckets[DURATION_BUCKETS.length]! > 0) used.push({ labels, n });
  });

  x.family('gatehouse_requests_total', 'counter', 'Requests answered, by the Ingress and Service that served them, method and status class.');
  for (const { labels, n } of used) {
    for (let m = 0; m < METHODS.length; m++) {
      for (let c = 0; c < STATUS_CLASSES.length; c++) {
        const v = reader.requests(n, m, c);
        if (v > 0) x.sample('gatehouse_requests_total', { ...labels, method: METHODS[m]!, status_class: STATUS_CLASSES[c]! }, v);
      }
    }
  }
  x.family('gatehouse_request_duration_seconds', 'histogram', 'Time from a request\'s arrival to the end of its response.');
  for (const { labels, n } of used) x.histogram('gatehouse_request_duration_seconds', labels, DURATION_BUCKETS, reader.histogram(n, BLOCK.duration));
  x.family('gatehouse_upstream_duration_seconds', 'histogram', 'Time from the first try to an endpoint to the end of the last try\'s response, of requests that reached one.');
  for (const { labels, n } of used) {
    const h = reader.histogram(n, BLOCK.upstreamDuration);
    if (h.buckets[DURATION_BUCKETS.length]! > 0) x.histogram('gatehouse_upstream_duration_seconds', labels, DURATION_BUCKETS, h);
  }
  const counters: [string, string, number, Record<string, string>?][] = [
    ['gatehouse_request_bytes_total', 'Bytes of requests: request line, headers and body.', BLOCK.bytesIn],
    ['gatehouse_response_bytes_total', 'Bytes of responses sent to clients (HTTP/2: bodies of declared length).', BLOCK.bytesOut],
    ['gatehouse_upstream_retries_total', 'Tries past the first (proxy-next-upstream).', BLOCK.retries],
  ];
  for (const [name, help, offset] of counters) {
    x.family(name, 'counter', help);
    for (const { labels, n } of used) {
      const v = reader.counter(n, offset);
      if (v > 0) x.sample(name, labels, v);
    }
  }
  x.family('gatehouse_requests_refused_total', 'counter', 'Requests a policy refused: over a rate or connection limit (reason rate_limit), or by an access list or authentication (reason access).');
  for (const { labels, n } of used) {
    for (const [reason, offset] of [['rate_limit', BLOCK.refusedRateLimit], ['access', BLOCK.refusedAccess]] as const) {
      const v = reader.counter(n, offset);
      if (v > 0) x.sample('gatehouse_requests_refused_total', { ...labels, reason }, v);
    }
  }
}

function workerMetrics(x: Exposition, reader: MetricsReader): void {
  x.family('gatehouse_client_connections', 'gauge', 'Open client connections, by listener.');
  x.sample('gatehouse_client_connections', { listener: 'http' }, reader.fixed('connectionsHttp'));
  x.sample('gatehouse_client_connections', { listener: 'https' }, reader.fixed('connectionsHttps'));
  x.family('gatehouse_tls_handshakes_total', 'counter', 'TLS handshakes with clients, by protocol version and outcome (a failed one has no version).');
  x.sample('gatehouse_tls_handshakes_total', { version: 'TLSv1.3', outcome: 'success' }, reader.fixed('tls13'));
  x.sample('gatehouse_tls_handshakes_total', { version: 'TLSv1.2', outcome: 'success' }, reader.fixed('tls12'));
  x.sample('gatehouse_tls_handshakes_total', { version: 'other', outcome: 'success' }, reader.fixed('tlsOther'));
  x.sample('gatehouse_tls_handshakes_total', { version: '', outcome: 'failure' }, reader.fixed('tlsFailed'));
  x.family('gatehouse_tls_sessions_resumed_total', 'counter', 'TLS handshakes that resumed a session (tickets).');
  x.sample('gatehouse_tls_sessions_resumed_total', {}, reader.fixed('tlsResumed'));
  x.family('gatehouse_access_log_lines_total', 'counter', 'Access-log lines written (after --access-log-sample and enable-access-log).');
  x.sample('gatehouse_access_log_lines_total', {}, reader.fixed('accessLogLines'));
  x.family('gatehouse_access_log_lines_dropped_total', 'counter', 'Access-log lines dropped because writes could not keep up (more than 8 MiB waiting in a worker).');
  x.sample('gatehouse_access_log_lines_dropped_total', {}, reader.fixed('accessLogDropped'));
  x.family('gatehouse_otlp_spans_exported_total', 'counter', 'Spans the OTLP endpoint accepted.');
  x.sample('gatehouse_otlp_spans_exported_total', {}, reader.fixed('otlpExported'));
  x.family('gatehouse_otlp_spans_dropped_total', 'counter', 'Spans dropped: the queue was full, or the endpoint refused or did not answer their batch.');
  x.sample('gatehouse_otlp_spans_dropped_total', {}, reader.fixed('otlpDropped'));
}

function controlMetrics(x: Exposition, c: ControlPlaneSample, nowMs: number): void {
  x.family('gatehouse_workers', 'gauge', 'Data-plane worker threads.');
  x.sample('gatehouse_workers', {}, c.workers);
  x.family('gatehouse_config_generation', 'gauge', 'Generation of the route table published last.');
  x.sample('gatehouse_config_generation', {}, c.generation);
  x.family('gatehouse_config_compile_duration_seconds', 'histogram', 'Time to compile the snapshot into a route table.');
  x.histogram('gatehouse_config_compile_duration_seconds', {}, COMPILE_BUCKETS, c.compile);
  x.family('gatehouse_config_applies_total', 'counter', 'Route tables every worker came to serve.');
  x.sample('gatehouse_config_applies_total', {}, c.applies);
  x.family('gatehouse_config_last_apply_timestamp_seconds', 'gauge', 'When every worker last came to serve a new route table (Unix time; 0: not yet).');
  x.sample('gatehouse_config_last_apply_timestamp_seconds', {}, c.lastApply);
  x.family('gatehouse_conditions', 'gauge', 'Conditions (objects or fields left out, Secrets that cannot serve …) by code.');
  const byCode = new Map<string, number>();
  for (const cond of c.conditions) byCode.set(cond.code, (byCode.get(cond.code) ?? 0) + 1);
  for (const [code, n] of [...byCode].sort()) x.sample('gatehouse_conditions', { code }, n);
  if (c.leader !== null) {
    x.family('gatehouse_leader', 'gauge', 'Whether this replica holds the leader-election Lease (1) or not (0).');
    x.sample('gatehouse_leader', {}, c.leader ? 1 : 0);
  }
  x.family('gatehouse_certificate_expiry_seconds', 'gauge', 'Seconds until the served certificate of a kubernetes.io/tls Secret expires.');
  for (const [ref, notAfter] of Object.entries(c.certificates).sort()) {
    const [namespace = '', secret = ''] = ref.split('/');
    x.sample('gatehouse_certificate_expiry_seconds', { namespace, secret }, Math.round((notAfter - nowMs) / 1000));
  }
  x.family('gatehouse_backend_endpoints', 'gauge', 'Ready endpoints of each backend (its upstream pool).');
  for (const [backend, n] of Object.entries(c.endpoints).sort()) x.sample('gatehouse_backend_endpoints', { backend }, n);
  x.family('gatehouse_endpoint_healthy', 'gauge', 'Endpoints of backends with health checks: 1 when the active checks pass and passive health has not ejected it, else 0.');
  for (const e of c.endpointHealth) x.sample('gatehouse_endpoint_healthy', { backend: e.backend, endpoint: e.endpoint }, e.healthy ? 1 : 0);
  x.family('gatehouse_endpoint_ejections_total', 'counter', 'Times passive health ejected an endpoint.');
  for (const e of c.endpointHealth) x.sample('gatehouse_endpoint_ejections_total', { backend: e.backend, endpoint: e.endpoint }, e.ejections);
}

/** The /metrics text. `reader` null: --enable-metrics=false (the control plane's metrics only). */
export function renderMetrics(reader: MetricsReader | null, series: readonly SeriesLabels[], control: ControlPlaneSample, nowMs = Date.now()): string {
  const x = new Exposition();
  if (reader !== null) {
    requestMetrics(x, reader, series);
    workerMetrics(x, reader);
  }
  controlMetrics(x, control, nowMs);
  return `${x.lines.join('\n')}\n`;
}
