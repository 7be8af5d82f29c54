// HTTP/1.1 forwarding over kept-alive upstream connections (undici Pool.dispatch with our own
// handler; undici measured about twice http-proxy-3's requests/s here) and WebSocket upgrades
// (http-proxy-3 `ws`).
// Bodies stream both ways; a request body is kept only as far as a retry needs it
// (request-body.ts). Each route's timeouts and retries (ForwardPolicy: proxy-*-timeout,
// proxy-next-upstream*, next-upstream.ts) apply, else the table's. Errors answer like
// ingress-nginx: 502 on a refused or reset connection, 503 with no ready endpoint, 504 on a timeout.
// The route's backend-protocol picks the way: HTTP (default) and HTTPS over undici (HTTPS: a
// Pool per origin and TLS configuration, upstream-tls.ts); H2C, GRPC and GRPCS over node:http2
// (h2-upstream.ts).

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex, Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ProxyServer } from 'http-proxy-3';
import type { BalancePolicy, EndpointTable, ErrorPagesPolicy, ForwardPolicy, GlobalPolicy, UpstreamPolicy, VirtualHost } from '../../core/model.ts';
import { errorPageHeaders, errorPageTarget, withErrorPageHeaders, withFallbackHeaders } from './error-pages.ts';
import { DEFAULT_FORWARD_POLICY, DEFAULT_UPSTREAM_KEEPALIVE } from '../../core/annotations/forward-policy.ts';
import type { UpstreamTlsPem } from '../tls/tls-material.ts';
import { Balancers } from '../balancer/balancers.ts';
import { pickContext, Picking } from '../balancer/picking.ts';
import type { EndpointHealth } from '../balancer/endpoint-health.ts';
import { GRPC_UNAVAILABLE, isGrpcRequest, sendGrpcError } from './grpc-status.ts';
import { H2Upstream } from './h2-upstream.ts';
import {
  downstreamResponseHeaders,
  addResponseCookies,
  overrideFlatHeaders,
  overrideH2Headers,
  upstreamH2RequestHeaders,
  upstreamRequestHeaders,
  upstreamRequestHeadersFromH2,
  type Forwarded,
  type UpstreamOverrides,
} from './headers.ts';
import { ResponseThrottle } from './response-throttle.ts';
import { mustCount, sendTooLarge } from './body-limit.ts';
import { failureStatus, Tries, undiciFailure } from './next-upstream.ts';
import { RequestBody } from './request-body.ts';
import { authority } from './authority.ts';
import { origin, POOL_SERVERNAME, UpstreamPools, type ConnectionUses } from './upstream-pools.ts';
import { sniFor, UpstreamTlsConfigs, type UpstreamTls } from './upstream-tls.ts';
import { Agent as HttpsAgent } from 'node:https';
import { upgradeAnswered, upstreamEnded, upstreamTry, type UpstreamObservation } from '../observe/request-observer.ts';

// node:http through getBuiltinModule, not an import: see eslint.config.js (its WebSocket getter).
const { STATUS_CODES } = process.getBuiltinModule('node:http');

/** A request from the HTTP/1.1 server, or from the HTTPS server (HTTP/1.1 or, compat API, HTTP/2). */
export type ProxyRequest = IncomingMessage | Http2ServerRequest;
export type ProxyResponse = ServerResponse | Http2ServerResponse;

/** writeHead on either kind of response (their overloads do not unify; both take these arguments). */
export function writeHead(res: ProxyResponse, status: number, headers: OutgoingHttpHeaders): void {
  (res as ServerResponse).writeHead(status, headers);
}

/** Headers a step adds to an answer of its own (Location, Retry-After, CORS …). */
export type AnswerHeaders = Readonly<Record<string, string>>;

/** `reason`: said instead of the status's name (nginx's "No required SSL certificate was sent"). */
function answerBody(status: number, reason?: string): string {
  return `${status} ${reason ?? STATUS_CODES[status] ?? 'Error'}\n`;
}

/** A small plain-text answer with `headers` added; never a stack trace. */
export function sendAnswer(res: ProxyResponse, status: number, headers: AnswerHeaders = {}, closeConnection = false, reason?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // No content, so no Content-Type or Content-Length either (RFC 9110 §8.6, §15.3.5): a CORS preflight's 204.
  if (status === 204) {
    writeHead(res, status, headers);
    return void res.end();
  }
  const body = answerBody(status, reason);
  const all: Record<string, string | number> = { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  // HTTP/2 has no Connection header (RFC 9113 §8.2.2); Node refuses one.
  if (closeConnection && !(res instanceof Http2ServerResponse)) all.connection = 'close';
  writeHead(res, status, all);
  res.end(body);
}

/** The same answer written straight to a socket (upgrades, unparseable requests), then closed. */
export function sendRawAnswer(socket: Duplex, status: number, headers: AnswerHeaders = {}, reason?: string): void {
  upgradeAnswered(socket, status);
  if (!socket.writable) return void socket.destroy();
  const body = answerBody(status, reason);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export function sendError(res: ProxyResponse, status: number, closeConnection = false): void {
  sendAnswer(res, status, {}, closeConnection);
}

export function sendRawError(socket: Duplex, status: number): void {
  sendRawAnswer(socket, status);
}

/** One request to an HTTP/1.1 endpoint, across its tries. */
interface Exchange {
  readonly req: ProxyRequest;
  readonly res: ProxyResponse;
  /** The route's balancer, picking past the endpoints tried, told how each try went. */
  readonly picking: Picking;
  /** How many endpoints the backend had when the request came (proxy-next-upstream-tries 0: one try each). */
  readonly endpoints: number;
  /** The request-target and headers sent upstream. */
  readonly path: string;
  readonly headers: string[];
  readonly body: RequestBody | null;
  readonly tls: UpstreamTls | null;
  readonly over: UpstreamOverrides | null;
  readonly forward: ForwardPolicy;
  readonly tries: Tries;
  readonly fwd: Forwarded;
  /** custom-http-errors of the route (error-pages.ts); null: none, or this is the error backend's request. */
  readonly pages: ErrorPagesPolicy | null;
}

/** What an answer to the error backend (Proxy.divert) needs of the request. */
interface Diverted {
  readonly req: ProxyRequest;
  readonly res: ProxyResponse;
  readonly fwd: Forwarded;
  readonly body: RequestBody | null;
  readonly pages: ErrorPagesPolicy;
}

/** The observation of each proxied upgrade, for http-proxy-3's events (which give the request). */
const upgradeTries = new WeakMap<IncomingMessage, UpstreamObservation>();

// Why a try is aborted (the reasons are never shown: settle decides by its own flags).
const CLIENT_GONE = new Error('the client went away');
const SEND_TIMED_OUT = new Error('proxy-send-timeout: the request body was not sent in time');
const ANOTHER_TRY = new Error('the answer goes to another try');

export class Proxy {
  private readonly pools = new UpstreamPools();
  private readonly h2: H2Upstream;
  private readonly tls = new UpstreamTlsConfigs();
  private readonly balancers = new Balancers();
  /**
   * https.Agents for upgrades to HTTPS backends, by TLS configuration and host: they carry the
   * route's TLS options (CA, client certificate, name check) and SNI (none to an IP unless
   * proxy-ssl-server-name; https.Agent would send the request's Host). Upgraded sockets leave the
   * agent, so nothing is kept alive in them.
   */
  private readonly upgradeAgents = new Map<string, HttpsAgent>();
  /** http-proxy-3, loaded on the first upgrade: it holds about 15 MB per thread once loaded (measured here), and most workers never see a WebSocket. */
  private ws: Promise<ProxyServer> | null = null;
  private endpoints: EndpointTable = { fingerprint: '', backends: {} };
  /** The table's timeouts and retries, for routes without their own. */
  private forward: ForwardPolicy = DEFAULT_FORWARD_POLICY;
  /** What the table's routes use (TLS configurations, connect timeouts); undefined before the first table. */
  private uses: ConnectionUses | undefined;
  /** The table's default backend (--default-backend-service), the error backend of routes without a default-backend of their own; the worker sets it with each table. */
  defaultBackend: string | null = null;

  /** Health checks and ejections (endpoint-health.ts): the endpoints each request avoids, and where its tries' outcomes go. */
  private readonly health: EndpointHealth;

  constructor(health: EndpointHealth) {
    this.health = health;
    this.h2 = new H2Upstream((x, status, reason) => {
      if (x.grpc) sendGrpcError(x.res, GRPC_UNAVAILABLE, `gatehouse: ${reason}`);
      else if (x.divert === null || !x.divert(status)) sendError(x.res, status);
    });
  }

  private wsProxy(): Promise<ProxyServer> {
    return (this.ws ??= import('http-proxy-3').then(({ createProxyServer }) => {
      const ws = createProxyServer({ ws: true, xfwd: false, changeOrigin: false });
      ws.on('error', (_err, req, res) => {
        upstreamEnded(upgradeTries.get(req as IncomingMessage), 0);
        // `res` is the client socket for upgrades.
        if (res && 'destroy' in res && !('writeHead' in res)) sendRawError(res as Duplex, 502);
      });
      // The upstream's answer: 101 (upgraded), or a refusal passed on as it is.
      ws.on('proxyReqWs', (proxyReq, req, socket) => {
        const answered = (status: number) => {
          upstreamEnded(upgradeTries.get(req), status);
          upgradeAnswered(socket, status);
        };
        proxyReq.once('upgrade', () => answered(101));
        proxyReq.once('response', (r) => answered(r.statusCode ?? 0));
      });
      return ws;
    }));
  }

  setEndpoints(table: EndpointTable): void {
    this.endpoints = table;
    this.health.setEndpoints(table.backends);
    this.retain();
    this.balancers.retain(table);
  }

  /** Whether `backend` has an endpoint (ready, or an ExternalName's). */
  hasEndpoints(backend: string): boolean {
    return (this.endpoints.backends[backend]?.length ?? 0) > 0;
  }

  /** A new table's global policy: its timeouts and retries, and upstream-keepalive-* for the connections. */
  configure(global: GlobalPolicy | undefined): void {
    this.forward = global?.forward ?? DEFAULT_FORWARD_POLICY;
    const keepalive = global?.upstreamKeepalive ?? DEFAULT_UPSTREAM_KEEPALIVE;
    this.pools.configure(keepalive);
    this.h2.configure(keepalive);
  }

  /**
   * The proxy-ssl-secret PEM (with a new table's certificates), or a new table: the TLS
   * configurations of its routes are computed now, and connections no route uses any more (their
   * TLS configuration or connect timeout) close. Call after configure() for a new table.
   */
  setUpstreamTls(pem: Readonly<Record<string, UpstreamTlsPem>> | undefined, hosts: readonly VirtualHost[]): void {
    const connectTimeouts = new Set([this.forward.connectTimeoutMs]);
    for (const vh of hosts) for (const u of [...vh.routes.map((r) => r.upstream), vh.defaultUpstream]) if (u?.forward) connectTimeouts.add(u.forward.connectTimeoutMs);
    this.uses = { tls: this.tls.update(pem, hosts), connectTimeouts };
    this.retain();
  }

  /** Close the connections of endpoints, TLS configurations and connect timeouts no longer in use. */
  private retain(): void {
    const authorities = new Set<string>();
    for (const list of Object.values(this.endpoints.backends)) for (const e of list) authorities.add(authority(e));
    this.pools.retain(authorities, this.uses);
    this.h2.retain(authorities, this.uses);
  }

  /**
   * Forward one request to a ready endpoint of `backend`, the way `upstream` (the route's
   * backend-protocol, proxy-ssl-*, timeouts and retries) says (absent: HTTP/1.1, the table's
   * timeouts and retries), with what the request pipeline changed (`over`: target, Host, headers;
   * null: the request as the client sent it). A body without a declared length is counted
   * against `bodyLimit` (proxy-body-size, 0: none; a declared one was checked before):
   * request-body.ts. The endpoint of each try is the choice of the route's `balance` policy
   * (absent: round robin), told how each try went. `errorPages`: the route's custom-http-errors
   * and default-backend (error-pages.ts).
   */
  web(req: ProxyRequest, res: ProxyResponse, backend: string, fwd: Forwarded, upstream: UpstreamPolicy | undefined, over: UpstreamOverrides | null, bodyLimit: number, balance?: BalancePolicy, errorPages?: ErrorPagesPolicy): void {
    let endpoints = this.endpoints.backends[backend] ?? [];
    // default-backend: a backend without ready endpoints hands its requests to it, with X-Code 503.
    if (errorPages !== undefined && endpoints.length === 0 && errorPages.backend !== null && this.hasEndpoints(errorPages.backend)) {
      backend = errorPages.backend;
      endpoints = this.endpoints.backends[backend]!;
      over = withFallbackHeaders(over, errorPageHeaders(errorPages, req, 503, false, fwd.observed?.requestId));
    }
    const picking = new Picking(this.balancers.get(backend, balance), endpoints, pickContext(req, fwd), this.health, backend);
    let tls: UpstreamTls | null = null;
    if (upstream !== undefined && upstream.tls !== null) {
      tls = this.tls.get(upstream.tls);
      // Its proxy-ssl-secret is missing or invalid (a condition says which): never connect
      // without the verification or client certificate the Ingress asked for.
      if (tls === null) {
        if (upstream.protocol === 'GRPCS' && isGrpcRequest(req)) return sendGrpcError(res, GRPC_UNAVAILABLE, 'gatehouse: the proxy-ssl-secret of this route is missing or invalid');
        return sendError(res, 502);
      }
    }
    const protocol = upstream?.protocol ?? 'HTTP';
    const forward = upstream?.forward ?? this.forward;
    // HTTP/2 requests: a body is whatever DATA frames follow (its length may be unknown: undici
    // sends it chunked); it streams with h2 flow control.
    const hasBody = req instanceof Http2ServerRequest ? !req.stream.endAfterHeaders : req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    // A body of undeclared length is counted against proxy-body-size as it is read.
    const body = hasBody ? new RequestBody(req, mustCount(req, bodyLimit) ? bodyLimit : 0) : null;
    const tries = new Tries(forward, req.method!, body);
    const seen = fwd.observed;
    const pages = errorPages === undefined || errorPages.codes.length === 0 ? null : errorPages;
    if (protocol === 'H2C' || protocol === 'GRPC' || protocol === 'GRPCS') {
      const grpc = protocol !== 'H2C';
      const grpcCall = grpc && isGrpcRequest(req);
      const h2Headers = upstreamH2RequestHeaders(req, req instanceof Http2ServerRequest, req.headers.connection, protocol === 'GRPCS' ? 'https' : 'http', fwd, grpc);
      // A try that got no answer and no retry ends with the response: our 502/504, or the client gone.
      res.once('close', () => picking.end(res.headersSent && res.statusCode >= 502));
      return this.h2.forward({
        req,
        res,
        headers: over === null ? h2Headers : overrideH2Headers(h2Headers, over),
        body,
        tls,
        forward,
        tries,
        grpc: grpcCall,
        // ingress-nginx intercepts no gRPC answers (no grpc_intercept_errors).
        divert: pages === null || grpcCall ? null : (status) => this.divert({ req, res, fwd, body, pages }, status),
        pick: () => {
          const e = picking.next();
          if (e !== undefined) upstreamTry(seen, authority(e));
          return e;
        },
        endpoints: endpoints.length,
        answered: (out, status) => {
          upstreamEnded(seen, status);
          addResponseCookies(out, res, status, over);
          picking.answered(out, res, status);
        },
        failed: (how) => {
          upstreamEnded(seen, 0);
          picking.failed(how);
        },
        rejected: (status) => picking.rejected(status),
      });
    }
    let headers = req instanceof Http2ServerRequest ? upstreamRequestHeadersFromH2(req.rawHeaders, fwd) : upstreamRequestHeaders(req.rawHeaders, req.headers.connection, fwd);
    if (over !== null) headers = overrideFlatHeaders(headers, over);
    this.attempt({ req, res, picking, endpoints: endpoints.length, path: over?.upstreamTarget ?? req.url!, headers, body, tls, over, forward, tries, fwd, pages });
  }

  /**
   * custom-http-errors (error-pages.ts), for answers and failures alike, over HTTP/1.1 and HTTP/2
   * upstreams: when `status` is one of the route's codes, the request goes to the error backend,
   * whose answer the client gets, and this returns true; else false (the answer goes on as it is).
   */
  private divert(d: Diverted, status: number): boolean {
    if (!d.pages.codes.includes(status)) return false;
    const { req, res, fwd } = d;
    const target = d.pages.backend !== null && this.hasEndpoints(d.pages.backend) ? d.pages.backend : this.defaultBackend !== null && this.hasEndpoints(this.defaultBackend) ? this.defaultBackend : null;
    // No error backend: ingress-nginx's own default server answers the error location, with 404.
    if (target === null) {
      sendError(res, 404);
      return true;
    }
    const body = d.body !== null && d.body.replayable ? d.body : null;
    const base = req instanceof Http2ServerRequest ? upstreamRequestHeadersFromH2(req.rawHeaders, fwd) : upstreamRequestHeaders(req.rawHeaders, req.headers.connection, fwd);
    const headers = withErrorPageHeaders(base, errorPageHeaders(d.pages, req, status, true, fwd.observed?.requestId), d.body !== null && body === null);
    const endpoints = this.endpoints.backends[target]!;
    const picking = new Picking(this.balancers.get(target, undefined), endpoints, pickContext(req, fwd), this.health, target);
    // Plain HTTP/1.1 with the table's timeouts, as ingress-nginx's @custom location; its answer is final (pages: null).
    this.attempt({ req, res, picking, endpoints: endpoints.length, path: errorPageTarget(req.url), headers, body, tls: null, over: null, forward: this.forward, tries: new Tries(this.forward, req.method!, body), fwd, pages: null });
    return true;
  }

  /** Our own answer `status` (503, 502, 504) to an exchange, unless the error backend takes it (divert). */
  private answerError(x: Exchange, status: number): void {
    if (x.pages === null || !this.divert({ req: x.req, res: x.res, fwd: x.fwd, body: x.body, pages: x.pages }, status)) sendError(x.res, status);
  }

  /** One try: to the next endpoint; on a failure nothing was answered for, another try as proxy-next-upstream says. */
  private attempt(x: Exchange): void {
    const { req, res, body, picking, tries, forward } = x;
    const endpoint = picking.next();
    if (endpoint === undefined) return this.answerError(x, 503);
    tries.made++;
    upstreamTry(x.fwd.observed, authority(endpoint));
    // undici's dispatch API with a handler of our own (Pool.stream's handler costs an
    // AsyncResource, an AbortSignal listener and stream-lifecycle listeners per request).
    let controller: Dispatcher.DispatchController | null = null;
    /** An abort asked for before undici started the request (it waits for a connection): done at its start. */
    let abortBefore: Error | null = null;
    const abort = (reason: Error) => {
      if (controller !== null) controller.abort(reason);
      else abortBefore ??= reason;
    };
    let clientGone = false;
    let sendTimedOut = false;
    /** The answer's status goes to another try. */
    let again = false;
    /** The answer's status is one of custom-http-errors: the error backend answers instead. */
    let diverted = false;
    /** Where the answer's body goes once its head is written: the response, or a limit-rate throttle in front of it. */
    let sink: Writable | null = null;
    let settled = false;
    const onClose = () => {
      if (res.writableFinished || settled) return;
      clientGone = true;
      abort(CLIENT_GONE);
    };
    res.once('close', onClose);
    const requestBody = body?.attempt(forward.sendTimeoutMs, () => {
      sendTimedOut = true;
      abort(SEND_TIMED_OUT);
    });
    /** The try is over: answered (err null), or failed before or while the answer came. */
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      upstreamEnded(x.fwd.observed, 0);
      if (diverted) return;
      // The client went away (nothing to answer), or sent too large a body: not the endpoint's failure.
      if (clientGone) return picking.end(false);
      if (again) return this.attempt(x);
      if (err === null) return;
      // The answer failed part-way: the client's connection is cut (its head is sent), and, as
      // nginx, that is not counted against the endpoint.
      if (sink !== null) {
        sink.destroy();
        res.destroy();
        return picking.end(false);
      }
      if (body?.exceeded) {
        picking.end(false);
        return sendTooLarge(res);
      }
      const failure = sendTimedOut ? { case: 'timeout' as const, sent: true } : undiciFailure(err);
      picking.failed(failure.case === 'timeout' ? 'timeout' : 'error');
      if (!res.headersSent && tries.again(failure.case, failure.sent, x.endpoints)) return this.attempt(x);
      if (res.headersSent) return sendError(res, failureStatus(failure));
      this.answerError(x, failureStatus(failure));
    };
    this.pools.get(endpoint, x.tls, forward.connectTimeoutMs).dispatch(
      // servername: see POOL_SERVERNAME (not in undici's types; its Request reads it). Plain-HTTP
      // pools ignore it, and given one undici need not work it out of Host for every request.
      // undici takes an async iterable body too; its types leave that out.
      {
        path: x.path,
        method: req.method!,
        headers: x.headers,
        body: (requestBody ?? null) as ProxyRequest | null,
        // proxy-read-timeout: for the response headers, then between body reads.
        headersTimeout: forward.readTimeoutMs,
        bodyTimeout: forward.readTimeoutMs,
        servername: POOL_SERVERNAME,
      } as Dispatcher.DispatchOptions,
      {
        onRequestStart: (c) => {
          controller = c;
          if (abortBefore !== null) c.abort(abortBefore);
        },
        onResponseStart: (c, statusCode, upstreamHeaders) => {
          // 1xx: Node's server sends its own 100 Continue; others are not passed on.
          if (statusCode < 200) return;
          if (tries.againForStatus(statusCode, x.endpoints)) {
            again = true;
            picking.rejected(statusCode);
            return;
          }
          if (x.pages !== null && this.divert(x as Diverted, statusCode)) {
            diverted = true;
            picking.answered({}, res, statusCode);
            return;
          }
          body?.settle();
          upstreamEnded(x.fwd.observed, statusCode);
          // Headers the handler set before proxying (HSTS) win over the upstream's; Vary is merged.
          const out = downstreamResponseHeaders(upstreamHeaders, res);
          addResponseCookies(out, res, statusCode, x.over);
          picking.answered(out, res, statusCode);
          writeHead(res, statusCode, out);
          // Http2ServerResponse streams like a Writable (write/end/drain) without being typed one.
          const rate = x.over?.responseRate ?? 0;
          if (rate === 0) sink = res as Writable;
          else {
            // limit-rate: the body through a throttle, which goes when the client does.
            const throttle = new ResponseThrottle(rate, x.over!.responseRateAfter ?? 0);
            throttle.pipe(res as Writable);
            res.once('close', () => throttle.destroy());
            sink = throttle;
          }
          sink.on('drain', () => c.resume());
        },
        onResponseData: (c, chunk) => {
          // The answer of a try that goes to another one: its first byte ends it (nginx closes that connection too).
          if (sink === null) return c.abort(ANOTHER_TRY);
          if (!sink.write(chunk)) c.pause();
        },
        onResponseEnd: () => {
          sink?.end();
          settle(null);
        },
        onResponseError: (_c, err) => settle(err),
      },
    );
  }

  /** Proxy a WebSocket (or other) upgrade to a ready endpoint of `backend`, chosen by the route's `balance` policy (no affinity cookie is set on a 101). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, backend: string, fwd: Forwarded, upstream: UpstreamPolicy | undefined, over: UpstreamOverrides | null, balance?: BalancePolicy): void {
    // Over TLS to HTTPS backends (wss), with the route's proxy-ssl-*; the h2 protocols have no
    // HTTP/1.1 Upgrade, so their backends get it in cleartext HTTP/1.1 like HTTP ones.
    let tls: UpstreamTls | null = null;
    if (upstream?.protocol === 'HTTPS' && upstream.tls !== null) {
      tls = this.tls.get(upstream.tls);
      if (tls === null) return sendRawError(socket, 502);
    }
    const candidates = this.endpoints.backends[backend] ?? [];
    const endpoint = this.balancers.get(backend, balance).pick(candidates, pickContext(req, fwd), this.health.down(backend, candidates));
    if (endpoint === undefined) return sendRawError(socket, 503);
    let flat = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, fwd, true);
    if (over !== null) {
      flat = overrideFlatHeaders(flat, over);
      // http-proxy-3 sends req.url as the target.
      if (over.upstreamTarget !== null) req.url = over.upstreamTarget;
    }
    const headers: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!.toLowerCase();
      headers[name] = headers[name] === undefined ? flat[i + 1]! : `${headers[name]}, ${flat[i + 1]!}`;
    }
    req.headers = headers;
    upstreamTry(fwd.observed, authority(endpoint));
    if (fwd.observed !== undefined) upgradeTries.set(req, fwd.observed);
    const options = tls === null ? { target: origin(endpoint) } : { target: { protocol: 'https:', host: endpoint.address, port: endpoint.port }, agent: this.upgradeAgent(tls, endpoint.address), secure: tls.options.rejectUnauthorized };
    void this.wsProxy().then((ws) => ws.ws(req, socket, head, options));
  }

  /** An https.Agent for upgrades with this TLS configuration to `host` (see upgradeAgents). */
  private upgradeAgent(tls: UpstreamTls, host: string): HttpsAgent {
    const key = `${tls.id} ${host}`;
    let agent = this.upgradeAgents.get(key);
    if (agent === undefined) {
      if (this.upgradeAgents.size > 1000) this.upgradeAgents.clear();
      agent = new HttpsAgent({ ...tls.options, servername: sniFor(tls, host) ?? '', keepAlive: false });
      this.upgradeAgents.set(key, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    void this.ws?.then((ws) => ws.close());
    this.h2.close();
    await this.pools.close();
  }
}
