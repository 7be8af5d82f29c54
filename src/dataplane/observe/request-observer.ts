// Each request observed once, at its end, in one place (issue 11): its status, bytes, durations,
// upstream, labels, TLS version and request ID feed the metrics (request-metrics.ts), the access
// log (access-log.ts) and the exported span (span-exporter.ts) alike. The worker begins an
// Observation when a request arrives, fills in what it learns (host, route, client), the proxy
// fills in the upstream's part (UpstreamObservation), and the response's 'close' ends it.

import { performance } from 'node:perf_hooks';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Http2ServerRequest } from 'node:http2';
import type { ProxyRequest, ProxyResponse } from '../proxy/proxy.ts';
import { requestId } from '../proxy/request-id.ts';
import type { Match } from '../router/router.ts';
import { AccessLog, redactUrl } from './access-log.ts';
import { FIXED, RequestMetrics, type RequestSample } from './request-metrics.ts';
import { UNROUTED, type SeriesIndex, type SeriesLabels } from './series.ts';
import { SpanExporter } from './span-exporter.ts';
import { traceContext, traceparentOf, type TraceContext } from './trace-context.ts';

/** What the proxy records of the upstream side of a request (the last try's). */
export interface UpstreamObservation {
  /** `address:port` of the endpoint; '' before a try. */
  upstreamAddress: string;
  /** Its status; 0: no answer. */
  upstreamStatus: number;
  upstreamStarted: number;
  /** Seconds from the first try to the last try's end; < 0: none ended. */
  upstreamSeconds: number;
  tries: number;
}

/** What the proxy sends upstream of an observed request instead of the client's headers (headers.ts), and records in it. */
export interface ObservedRequest extends UpstreamObservation {
  readonly requestId: string | undefined;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
}

/** A try begins (proxy.ts). */
export function upstreamTry(o: UpstreamObservation | undefined, address: string): void {
  if (o === undefined) return;
  if (o.tries++ === 0) o.upstreamStarted = performance.now();
  o.upstreamAddress = address;
  o.upstreamStatus = 0;
}

/** The try's answer came (its status), or the try ended (status 0: no answer). */
export function upstreamEnded(o: UpstreamObservation | undefined, status: number): void {
  if (o === undefined) return;
  if (status !== 0) o.upstreamStatus = status;
  o.upstreamSeconds = (performance.now() - o.upstreamStarted) / 1000;
}

/** What an observation reads of the answer when the request ends: a response's, or an upgrade's (UpgradeAnswer). */
interface Answer {
  readonly headersSent: boolean;
  readonly statusCode: number;
}

/** An upgrade's (WebSocket's) answer, written straight to its socket: ours, or the upstream's (101: upgraded). */
class UpgradeAnswer implements Answer {
  headersSent = false;
  statusCode = 0;
}
const upgradeAnswers = new WeakMap<Duplex, UpgradeAnswer>();

/** An observed upgrade on `socket` was answered `status` (the first answer counts). */
export function upgradeAnswered(socket: Duplex, status: number): void {
  const a = upgradeAnswers.get(socket);
  if (a === undefined || a.headersSent) return;
  a.headersSent = true;
  a.statusCode = status;
}

/** Why a policy step refused a request (pipeline.ts RequestContext.refusal). */
export type Refusal = 'rate-limit' | 'access' | null;

export class Observation implements ObservedRequest {
  readonly start = performance.now();
  readonly req: ProxyRequest;
  readonly res: Answer;
  readonly https: boolean;
  /** X-Request-ID (request-id.ts); undefined: generate-request-id is off and the client sent none. */
  readonly requestId: string | undefined;
  readonly trace: TraceContext | null;
  /** The trace context for the upstream (trace-context.ts); undefined: none. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  host = '';
  clientIp = '';
  match: Match | null = null;
  /** The request's policy context (pipeline.ts): its refusal, when a step refused it. */
  ctx: { readonly refusal: Refusal } | null = null;
  upstreamAddress = '';
  upstreamStatus = 0;
  upstreamStarted = 0;
  upstreamSeconds = -1;
  tries = 0;
  /** The connection's socket (TLS over TCP, or TCP); HTTP/2: the session's, which a closed stream no longer reaches. */
  readonly socket: Socket | undefined;

  constructor(req: ProxyRequest, res: Answer, https: boolean, id: string | undefined, trace: TraceContext | null) {
    this.req = req;
    this.res = res;
    this.https = https;
    this.requestId = id;
    this.trace = trace;
    this.traceparent = trace === null ? undefined : traceparentOf(trace);
    this.tracestate = trace?.tracestate ?? undefined;
    this.socket = (req instanceof Http2ServerRequest ? req.stream.session?.socket : req.socket) as Socket | undefined;
  }
}

export interface ObserverConfig {
  /** --enable-metrics: requests counted in the pool's metrics buffer (request-metrics.ts). */
  readonly metrics: boolean;
  /** --access-log-sample: the share of requests logged; 0: none. */
  readonly accessLogSample: number;
  /** --access-log-path; null: standard output. */
  readonly accessLogPath: string | null;
  /** --otlp-endpoint, or null: no spans exported. */
  readonly otlpEndpoint: string | null;
  /** --otlp-sample-ratio: the share of new traces sampled. */
  readonly otlpSampleRatio: number;
}

/** A connection's byte counters when its last request ended: the next request's bytes are the deltas. */
interface Counted {
  read: number;
  written: number;
}
const counted = new WeakMap<Socket, Counted>();

/** The time of the last line and its ISO string: lines logged within one millisecond share it. */
let isoMs = -1;
let isoString = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoString = new Date(ms).toISOString();
  }
  return isoString;
}

// HTTP/2 unbinds the socket from its session when the session is destroyed with streams still
// open (a client that went away): the session's socket proxy then throws ERR_HTTP2_SOCKET_UNBOUND
// on any read, so those streams are observed without their bytes and TLS version.

/** The connection's byte counts; null once unbound. */
function socketBytes(socket: Socket): Counted | null {
  try {
    return { read: socket.bytesRead, written: socket.bytesWritten };
  } catch {
    return null;
  }
}

/** The TLS version of the connection; null once unbound. */
function tlsVersion(socket: Socket | undefined): string | null {
  try {
    return (socket as TLSSocket | undefined)?.getProtocol() ?? null;
  } catch {
    return null;
  }
}

export class RequestObserver {
  readonly #metrics: RequestMetrics | null;
  readonly #log: AccessLog | null;
  readonly #sample: number;
  readonly #exporter: SpanExporter | null;
  readonly #ratio: number | null;
  /** The one sample object metrics are fed with (no allocation per request). */
  readonly #s: RequestSample = { series: 0, method: '', status: 0, seconds: 0, upstreamSeconds: -1, bytesIn: 0, bytesOut: 0, retries: 0, refusal: null };
  #labels: SeriesLabels[] = [{ namespace: '', ingress: '', service: '' }];
  /** generate-request-id (the ConfigMap's; default true). */
  generateRequestId = true;
  readonly #active: boolean;

  constructor(config: ObserverConfig, metrics: SharedArrayBuffer, worker: number) {
    this.#metrics = config.metrics ? new RequestMetrics(metrics, worker) : null;
    this.#sample = config.accessLogSample;
    const m = this.#metrics;
    this.#log = config.accessLogSample > 0 ? new AccessLog(config.accessLogPath, (n) => m?.add(FIXED.accessLogDropped, n)) : null;
    this.#exporter = config.otlpEndpoint === null ? null : new SpanExporter(config.otlpEndpoint, { exported: (n) => m?.add(FIXED.otlpExported, n), dropped: (n) => m?.add(FIXED.otlpDropped, n) });
    this.#ratio = config.otlpEndpoint === null ? null : config.otlpSampleRatio;
    this.#active = this.#metrics !== null || this.#log !== null || this.#exporter !== null;
  }

  /** A worker-level counter (connections, TLS handshakes). */
  add(slot: number, n = 1): void {
    this.#metrics?.add(slot, n);
  }

  /** A new table's series numbers: the labels of each, for the access log and spans. */
  setSeries(index: SeriesIndex): void {
    const labels: SeriesLabels[] = [];
    for (const [key, n] of Object.entries(index)) {
      const [namespace = '', ingress = '', service = ''] = key.split('\0');
      labels[n] ??= { namespace, ingress, service };
    }
    this.#labels = labels;
  }

  /** A request arrives: its ID (answered in X-Request-ID) and trace context; its end is observed. */
  begin(req: ProxyRequest, res: ProxyResponse, https: boolean): Observation {
    const o = this.#observation(req, res, https);
    if (o.requestId !== undefined) res.setHeader('x-request-id', o.requestId);
    if (this.#active) res.once('close', () => this.#finish(o));
    return o;
  }

  /**
   * An upgrade (WebSocket) arrives on `socket`: observed as a request, with its ID and trace
   * context sent upstream, ending when the connection closes (ingress-nginx logs a WebSocket at
   * its end too), its status the first answer written to it (upgradeAnswered).
   */
  beginUpgrade(req: IncomingMessage, socket: Duplex, https: boolean): Observation {
    const answer = new UpgradeAnswer();
    upgradeAnswers.set(socket, answer);
    const o = this.#observation(req, answer, https);
    if (this.#active) socket.once('close', () => this.#finish(o));
    return o;
  }

  #observation(req: ProxyRequest, answer: Answer, https: boolean): Observation {
    const sent = req.headers['x-request-id'];
    const id = this.generateRequestId ? requestId(sent) : typeof sent === 'string' && sent !== '' ? sent : undefined;
    return new Observation(req, answer, https, id, traceContext(req.headers.traceparent, req.headers.tracestate, this.#ratio));
  }

  #finish(o: Observation): void {
    const { req, res } = o;
    const seconds = (performance.now() - o.start) / 1000;
    // nginx's 499: the client closed the connection before an answer was sent.
    const status = res.headersSent ? res.statusCode : 499;
    const series = o.match?.series ?? UNROUTED;
    const h2 = req instanceof Http2ServerRequest;
    // The connection's bytes since its previous request ended: exactly this request's on HTTP/1.1
    // (one at a time); on HTTP/2 the streams that end share out the session's bytes (the totals
    // are exact, one stream's share is not when several overlap). TLS: the bytes inside it.
    let bytesIn = 0;
    let bytesOut = 0;
    const socket = o.socket;
    const bytes = socket === undefined ? null : socketBytes(socket);
    if (socket !== undefined && bytes !== null) {
      const { read, written } = bytes;
      const last = counted.get(socket);
      bytesIn = read - (last?.read ?? 0);
      bytesOut = written - (last?.written ?? 0);
      if (last === undefined) counted.set(socket, bytes);
      else {
        last.read = read;
        last.written = written;
      }
    }
    if (this.#metrics !== null) {
      const s = this.#s;
      s.series = series;
      s.method = req.method;
      s.status = status;
      s.seconds = seconds;
      s.upstreamSeconds = o.upstreamSeconds;
      s.bytesIn = bytesIn;
      s.bytesOut = bytesOut;
      s.retries = o.tries > 1 ? o.tries - 1 : 0;
      s.refusal = o.ctx?.refusal ?? null;
      this.#metrics.observe(s);
    }
    const logIt = this.#log !== null && (this.#sample >= 1 || Math.random() < this.#sample) && (o.match?.route?.policies ?? o.match?.host?.defaultPolicies)?.accessLog !== false;
    const exportIt = this.#exporter !== null && o.trace?.sampled === true;
    if (!logIt && !exportIt) return;
    const labels = this.#labels[series] ?? this.#labels[UNROUTED]!;
    const path = redactUrl(req.url ?? '');
    const protocol = h2 ? 'HTTP/2.0' : `HTTP/${req.httpVersion}`;
    if (logIt) {
      this.#log!.write({
        time: isoNow(),
        requestId: o.requestId ?? null,
        clientIp: o.clientIp,
        method: req.method ?? '',
        host: o.host,
        path,
        protocol,
        status,
        bytesIn,
        bytesOut,
        durationMs: Math.round(seconds * 1e6) / 1000,
        upstreamAddress: o.upstreamAddress === '' ? null : o.upstreamAddress,
        upstreamStatus: o.upstreamStatus === 0 ? null : o.upstreamStatus,
        upstreamDurationMs: o.upstreamSeconds < 0 ? null : Math.round(o.upstreamSeconds * 1e6) / 1000,
        namespace: labels.namespace,
        ingress: labels.ingress,
        service: labels.service,
        userAgent: req.headers['user-agent'] ?? null,
        tls: o.https ? tlsVersion(o.socket) : null,
        traceId: o.trace?.traceId ?? null,
      });
      this.#metrics?.add(FIXED.accessLogLines);
    }
    if (exportIt) {
      const endUs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
      this.#exporter!.add({
        trace: o.trace!,
        start: String((endUs - BigInt(Math.round(seconds * 1e6))) * 1000n),
        end: String(endUs * 1000n),
        method: req.method ?? '',
        path: path.split('?')[0]!,
        host: o.host,
        status,
        protocol,
        namespace: labels.namespace,
        ingress: labels.ingress,
        service: labels.service,
        upstreamAddress: o.upstreamAddress === '' ? null : o.upstreamAddress,
      });
    }
  }

  /** Drain: what is buffered goes out. */
  flush(): void {
    this.#log?.flush();
    this.#exporter?.flush();
  }
}
