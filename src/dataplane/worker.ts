// A data-plane worker thread: builds its own router from each table it is sent, swaps one
// reference, and proxies. Requests in flight finish on the generation they started with.
// It listens (with reusePort, so the kernel spreads connections over the pool) only once it
// has a table, its endpoints and its certificates, so it never answers from an empty one.
//
// Two listeners: plain HTTP/1.1 (--http-port), and HTTPS (--https-port) on node:http2's secure
// server with allowHTTP1, so ALPN picks h2 or http/1.1 per connection; certificates by SNI
// from the cert store; session-ticket keys shared with the other workers. With use-proxy-protocol
// each connection's PROXY header is read first, on both.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, Http2ServerResponse, type Http2SecureServer, type Http2ServerRequest, type SecureServerOptions, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerConfig } from '../control/messages.ts';
import type { BackendChoice, BalancePolicy, ErrorPagesPolicy, GlobalPolicy, RouteTable, UpstreamPolicy, VirtualHost } from '../core/model.ts';
import { createLog } from '../observability/log.ts';
import { compactAfterLoading } from '../heap.ts';
import { challengeAnswer, sendChallengeAnswer } from './acme-challenges.ts';
import { normaliseUriPath } from '../core/normalise-uri-path.ts';
import { framingStatus } from './framing-status.ts';
import { clientIp, requestHeaderSet, type Forwarded, type RequestHeaderSet } from './proxy/headers.ts';
import { RealIp } from './proxy/real-ip.ts';
import { ProxyProtocolIntake } from './proxy-protocol-intake.ts';
import { Http2Response } from './proxy/h2-response.ts';
import { Proxy, sendError, sendRawError, type ProxyRequest, type ProxyResponse } from './proxy/proxy.ts';
import { hstsHeader, httpsLocation, isAcmeChallenge, sendRedirect } from './proxy/redirect.ts';
import { buildSteps, RequestContext, runSteps } from './policies/pipeline.ts';
import { setBasicAuthUsers } from './policies/basic-auth.ts';
import { useLimitTables } from './policies/rate-limit.ts';
import { LimitTables } from './shared/limit-tables.ts';
import { sslRedirectTarget } from './policies/rewrite.ts';
import { declaredTooLarge, sendTooLarge } from './proxy/body-limit.ts';
import { DEFAULT_PROXY_BODY_SIZE } from '../core/annotations/body-size.ts';
import { Router, type Match } from './router/router.ts';
import { applyTableDiff, indexOfHost, type TableDiff } from './table-diff.ts';
import { CertStore } from './tls/cert-store.ts';
import { ClientAuthServers } from './tls/client-auth-servers.ts';
import { useClientAuth } from './policies/client-cert.ts';
import { TicketKeyring } from './tls/ticket-keys.ts';
import { TLS_SETTINGS } from './tls/tls-material.ts';
import { WorkerStats } from './worker-stats.ts';
import { EndpointHealth } from './balancer/endpoint-health.ts';
import { EjectionTable } from './shared/ejection-table.ts';
import { RequestObserver, type Observation } from './observe/request-observer.ts';
import { FIXED } from './observe/request-metrics.ts';
import { OVERFLOW, seriesKey, type SeriesIndex } from './observe/series.ts';

// node:http through getBuiltinModule, not an import: see eslint.config.js (its WebSocket getter).
const { createServer } = process.getBuiltinModule('node:http');

const config = workerData as WorkerConfig;
const log = createLog(config.logLevel, { component: 'worker', worker: config.id });
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const stats = new WorkerStats(config.stats, config.id);
useLimitTables(new LimitTables(config.limits, config.id));
const hsts = config.hsts === null ? null : hstsHeader(config.hsts);

let router: Router | null = null;
/** The table served; table diffs apply to it. */
let table: RouteTable | null = null;
/** The metrics series numbers of the label sets, as the pool numbered them (observe/series.ts). */
let seriesIndex: SeriesIndex = {};
let generation = 0;
let endpointsFingerprint: string | null = null;
/** The proxy-ssl PEM last given to the proxy (JSON of TlsMaterial.upstream). */
let upstreamPem = '';
/** proxy-body-size for routes without the annotation: the table's (the ConfigMap's), else 1m. */
let defaultBodyLimit = DEFAULT_PROXY_BODY_SIZE;
/** ACME HTTP-01 tokens (token → key authorization) and the version the control plane gave them. */
let challenges: ReadonlyMap<string, string> = new Map();
let challengesVersion = 0;
let draining = false;
const health = new EndpointHealth(new EjectionTable(config.ejections, config.id), (backend, panic, endpoints) => {
  // Once per backend and transition (per worker).
  if (panic) log.warn({ backend, endpoints }, 'panic mode: every endpoint of the backend is unhealthy or ejected; sending traffic to all of them');
  else log.info({ backend, endpoints }, 'panic mode over: the backend has healthy endpoints again');
});
const proxy = new Proxy(health);
const observer = new RequestObserver(config.observe, config.metrics, config.id);
const keyring = new TicketKeyring();
const ROUTER_OPTIONS = { steps: buildSteps, onError: (err: unknown, host: string) => log.error({ err, host }, 'could not build the router of a host; it answers as if it had no route') };
const certs = new CertStore({ onError: (err, host) => log.error({ err, host }, 'could not build a TLS context; serving the default certificate') });

type Scheme = 'http' | 'https';

/** The request's host: `:authority` for HTTP/2 (RFC 9113 §8.3.1), else Host. */
function requestHost(req: ProxyRequest): string {
  return (req.httpVersionMajor === 2 ? (req as Http2ServerRequest).authority : undefined) ?? req.headers.host ?? '';
}

// The table's GlobalPolicy (the ConfigMap's): the PROXY protocol, real client IPs, headers.
const intake = new ProxyProtocolIntake((reason, peer) => log.debug({ peer, reason }, 'connection closed: no valid PROXY protocol header'));
let realIp: RealIp | null = null;
/** proxy-set-headers. */
let setHeaders: RequestHeaderSet | undefined;
/** add-headers: flat [name, value, …]. */
let addHeaders: readonly string[] = [];
/** custom-http-errors of requests that match no host (ingress-nginx: the http-level error_page of its default server). */
let globalErrorPages: ErrorPagesPolicy | undefined;

function applyGlobal(global: GlobalPolicy | undefined): void {
  intake.set(global?.proxyProtocol ?? null);
  realIp = global?.realIp === undefined ? null : new RealIp(global.realIp);
  setHeaders = global?.requestHeaders === undefined ? undefined : requestHeaderSet(global.requestHeaders);
  addHeaders = global?.responseHeaders ?? [];
  observer.generateRequestId = global?.generateRequestId ?? true;
  const codes = global?.customHttpErrors;
  globalErrorPages = codes === undefined ? undefined : { codes, backend: null, namespace: '', ingress: '', service: '', servicePort: '' };
  proxy.configure(global);
}

/** The TCP socket, or the TLS socket over it, of a request's connection. */
function connectionOf(req: ProxyRequest): Socket | undefined {
  return (req.httpVersionMajor === 2 ? (req as Http2ServerRequest).stream.session?.socket : req.socket) as Socket | undefined;
}

/** Who the client is and what the upstream is told: the connection, its PROXY header, and real-ip.ts. */
function forwarded(req: ProxyRequest, scheme: Scheme, host: string, observed?: Observation): Forwarded {
  const socket = connectionOf(req);
  const peer = clientIp(socket?.remoteAddress);
  const proxied = intake.addressOf(socket);
  const ip = proxied?.source ?? peer;
  // Under use-proxy-protocol the port the client connected to is the header's, and 443 means
  // https (ingress-nginx: pass_server_port, and lua_ingress.lua's proxy_protocol_server_port check).
  const base: Forwarded = {
    clientIp: ip,
    forwardedFor: ip,
    proto: proxied?.destinationPort === 443 ? 'https' : scheme,
    host,
    port: proxied?.destinationPort ?? socket?.localPort ?? (scheme === 'https' ? config.httpsPort : config.httpPort),
    setHeaders,
    observed,
  };
  return realIp === null ? base : realIp.forwarded(peer, proxied, req.headers, base);
}

/** ssl-redirect / force-ssl-redirect, compiled into the route (or the host, for its unmatched paths). */
function wantsHttps(match: Match): boolean {
  return match.route?.sslRedirect ?? match.host?.sslRedirect ?? false;
}

/**
 * One request. `expectContinue`: it carries `Expect: 100-continue` and Node has not answered 100
 * (the servers listen for 'checkContinue'): the 100 goes out only when the request is forwarded,
 * so a request answered here (403, 413 …) never has its body sent (RFC 9110 §10.1.1).
 */
function onRequest(req: ProxyRequest, res: ProxyResponse, scheme: Scheme, expectContinue = false): void {
  const h2 = req.httpVersionMajor === 2;
  // Observed once, at its end (observe/request-observer.ts); X-Request-ID answered from here on.
  const o = observer.begin(req, res, scheme === 'https');
  // Who asked, and for which host: known to the access log for every answer, our own 400s included.
  const host = requestHost(req);
  const fwd = forwarded(req, scheme, host, o);
  o.host = host;
  o.clientIp = fwd.clientIp;
  // HTTP/2 has no Connection header; a draining session sends GOAWAY instead.
  if (draining && !h2) res.setHeader('connection', 'close');
  if (scheme === 'https' && hsts !== null) res.setHeader('strict-transport-security', hsts);
  // add-headers: on every response, over the upstream's (as more_set_headers).
  for (let i = 0; i < addHeaders.length; i += 2) res.setHeader(addHeaders[i]!, addHeaders[i + 1]!);
  const framing = framingStatus(req.rawHeaders, config.maxRequestHeaders);
  if (framing !== 0) return sendError(res, framing, true);
  const url = req.url ?? '';
  // The one normal path of this request (core/normalise-uri-path.ts): routing and every policy
  // see it; the upstream gets `url` as sent. Null: not origin-form (absolute-form and `*` have
  // no route, RFC 9112 §3.2), a malformed escape, or above the root.
  const path = normaliseUriPath(url);
  if (path === null) return sendError(res, 400);
  // ACME HTTP-01 tokens we published: answered before routing, on any host, never redirected.
  const keyAuthorization = challengeAnswer(req.method, url, challenges);
  if (keyAuthorization !== undefined) return sendChallengeAnswer(res, keyAuthorization);
  const match = router!.lookup(host, path);
  o.match = match;
  // The scheme the client used: the connection's, or a trusted X-Forwarded-Proto (use-forwarded-headers).
  if (fwd.proto === 'http' && wantsHttps(match) && !isAcmeChallenge(url)) {
    const location = httpsLocation(host, sslRedirectTarget(match, url), config.httpsRedirectPort);
    return location === null ? sendError(res, 400) : sendRedirect(res, location);
  }
  // The route's policy steps (dataplane/policies/pipeline.ts); most routes have none.
  if (match.steps.length === 0) return forwardRequest(req, res, match, fwd, null, expectContinue);
  const ctx = new RequestContext(req, res, false, scheme, host, url, path, fwd.clientIp);
  o.ctx = ctx;
  const answered = runSteps(match.steps, ctx);
  if (answered === false) return forwardRequest(req, res, match, fwd, ctx, expectContinue);
  if (answered !== true) {
    // A step waits (external auth, a password check): the request goes on when it settles, if
    // the client is still there.
    answered.then(
      (a) => a || responseGone(res) || forwardRequest(req, res, match, fwd, ctx, expectContinue),
      (err: unknown) => {
        log.error({ err }, 'a policy step failed');
        if (!responseGone(res)) sendError(res, 500);
      },
    );
  }
}

/** The client went away (or the response was begun) while a step waited. */
function responseGone(res: ProxyResponse): boolean {
  return res.headersSent || res.destroyed || (res instanceof Http2ServerResponse ? res.stream.destroyed : (res.socket?.destroyed ?? true));
}

/** A request past its steps: to the backend the route chose, or 404 when it has none. */
function forwardRequest(req: ProxyRequest, res: ProxyResponse, match: Match, fwd: Forwarded, ctx: RequestContext | null, expectContinue: boolean): void {
  if (match.backend === null) return sendError(res, 404);
  // proxy-body-size: the route's (its step answered a declared excess), else the default.
  const bodyLimit = ctx?.bodyLimit ?? defaultBodyLimit;
  if (declaredTooLarge(req, bodyLimit)) return sendTooLarge(res);
  if (expectContinue) res.writeContinue();
  const chosen = choice(ctx);
  if (chosen !== null) proxy.web(req, res, chosen.backend, fwd, chosen.upstream, ctx, bodyLimit, chosen.balance, errorPagesOf(match));
  else proxy.web(req, res, match.backend, fwd, upstreamOf(match), ctx, bodyLimit, balanceOf(match), errorPagesOf(match));
}

/** The backend a step chose instead of the route's (canary), if it has endpoints: else the route's serves (ingress-nginx balancer.lua). */
function choice(ctx: RequestContext | null): BackendChoice | null {
  const chosen = ctx?.backend ?? null;
  return chosen !== null && proxy.hasEndpoints(chosen.backend) ? chosen : null;
}

/**
 * How a routed request reaches its backend (backend-protocol, proxy-ssl-*: HTTP/1.1 by default,
 * HTTPS, H2C, GRPC, GRPCS; proxy.ts branches on it). A host's default backend goes the way of
 * the Ingress that set it; the table's default backend over HTTP/1.1.
 */
function upstreamOf(match: Match): UpstreamPolicy | undefined {
  if (match.route !== null) return match.route.upstream;
  return match.host !== null && match.backend === match.host.defaultBackend ? match.host.defaultUpstream : undefined;
}

/** How a routed request chooses its endpoint (load-balance, upstream-hash-by, affinity): as upstreamOf. Absent: round robin. */
function balanceOf(match: Match): BalancePolicy | undefined {
  if (match.route !== null) return match.route.policies?.balance;
  return match.host !== null && match.backend === match.host.defaultBackend ? match.host.defaultPolicies?.balance : undefined;
}

/** custom-http-errors and default-backend (proxy/error-pages.ts): the route's, for a host's unmatched paths the host's, else the ConfigMap's. Absent: none. */
function errorPagesOf(match: Match): ErrorPagesPolicy | undefined {
  return match.route !== null ? match.route.policies?.errorPages : match.host !== null ? match.host.defaultPolicies?.errorPages : globalErrorPages;
}

/** Upgraded connections (WebSockets) leave the HTTP server's books; the drain deadline cuts them. */
const upgraded = new Set<Duplex>();

function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: Scheme): void {
  socket.on('error', () => socket.destroy());
  // Observed as a request, from here to the connection's end (observe/request-observer.ts).
  const o = observer.beginUpgrade(req, socket, scheme === 'https');
  const host = req.headers.host ?? '';
  const fwd = forwarded(req, scheme, host, o);
  o.host = host;
  o.clientIp = fwd.clientIp;
  const framing = framingStatus(req.rawHeaders, config.maxRequestHeaders);
  if (framing !== 0) return sendRawError(socket, framing);
  const path = normaliseUriPath(req.url ?? '');
  if (path === null) return sendRawError(socket, 400);
  const match = router!.lookup(host, path);
  o.match = match;
  // The same policy steps as for requests: an upgrade steps around none of them.
  if (match.steps.length === 0) return forwardUpgrade(req, socket, head, match, fwd, null);
  const ctx = new RequestContext(req, socket, true, scheme, host, req.url!, path, fwd.clientIp);
  o.ctx = ctx;
  const answered = runSteps(match.steps, ctx);
  if (answered === false) return forwardUpgrade(req, socket, head, match, fwd, ctx);
  if (answered !== true) {
    answered.then(
      (a) => a || socket.destroyed || forwardUpgrade(req, socket, head, match, fwd, ctx),
      (err: unknown) => {
        log.error({ err }, 'a policy step failed');
        sendRawError(socket, 500);
      },
    );
  }
}

function forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, match: Match, fwd: Forwarded, ctx: RequestContext | null): void {
  if (match.backend === null) return sendRawError(socket, 404);
  upgraded.add(socket);
  socket.once('close', () => {
    upgraded.delete(socket);
    checkDrained();
  });
  const chosen = choice(ctx);
  if (chosen !== null) proxy.upgrade(req, socket, head, chosen.backend, fwd, chosen.upstream, ctx, chosen.balance);
  else proxy.upgrade(req, socket, head, match.backend, fwd, upstreamOf(match), ctx, balanceOf(match));
}

// Node's own answers to requests it cannot parse, as ingress-nginx gives them.
const CLIENT_ERRORS: Record<string, number> = { HPE_HEADER_OVERFLOW: 431, ERR_HTTP_REQUEST_TIMEOUT: 408 };

function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A request that does not parse gets a small error answer, never a crash.
  if (err.code === 'ECONNRESET') return void socket.destroy();
  sendRawError(socket, CLIENT_ERRORS[err.code ?? ''] ?? 400);
}

/** Open client connections of a listener, for gatehouse_client_connections. */
function countConnections(s: { on(event: 'connection', listener: (socket: Socket) => void): unknown }, slot: number): void {
  s.on('connection', (socket: Socket) => {
    observer.add(slot);
    socket.once('close', () => observer.add(slot, -1));
  });
}

// ---- plain HTTP ------------------------------------------------------------------------

/**
 * Node's HTTP/1 parser settings, for both servers. It keeps at most maxHeadersCount header lines
 * and drops the rest silently: one more than the limit lets framingStatus see the excess and
 * answer 431. A request line and headers longer than maxHeaderSize fail to parse: 431 too.
 */
const HTTP1 = { keepAliveTimeout: 75_000, headersTimeout: 60_000, requestTimeout: 0, maxHeaderSize: config.maxRequestHeaderBytes };
const MAX_HEADERS_COUNT = config.maxRequestHeaders + 1;

const server = createServer(HTTP1, (req, res) => onRequest(req, res, 'http'));
server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, 'http', true));
server.maxHeadersCount = MAX_HEADERS_COUNT;
server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head, 'http'));
server.on('clientError', onClientError);
intake.install(server, true);
countConnections(server, FIXED.connectionsHttp);

// ---- HTTPS: HTTP/2 and HTTP/1.1 --------------------------------------------------------

/** Idle HTTP/2 sessions are closed gracefully (GOAWAY) after this, as nginx's keepalive_timeout. */
const H2_IDLE_MS = 75_000;

/**
 * An HTTPS server (HTTP/2 and HTTP/1.1 by ALPN) wired to this worker's request handling, with
 * `tls` for its handshakes: the listening one (certificates by SNI), and those that ask for
 * client certificates (tls/client-auth-servers.ts), which never listen.
 */
function makeSecureServer(tls: SecureServerOptions): Http2SecureServer {
  const s = createSecureServer(
    {
      // Node sets ALPN to exactly ['h2', 'http/1.1'] from allowHTTP1; clients without ALPN get HTTP/1.1.
      allowHTTP1: true,
      ...TLS_SETTINGS,
      ...tls,
      // nginx's http2_max_concurrent_streams; more streams wait in the client. Header limits as
      // HTTP/1's: a larger header block is refused by nghttp2; one header more than the limit
      // (beside the 4 pseudo-headers) still reaches framingStatus, which answers 431.
      settings: { maxConcurrentStreams: 128, maxHeaderListSize: config.maxRequestHeaderBytes },
      maxHeaderListPairs: config.maxRequestHeaders + 5,
      // Memory a session may hold for queued frames before it is refused (ENHANCE_YOUR_CALM): many
      // concurrent streams with bodies in flight need more than the 10 MB default.
      maxSessionMemory: 64,
      // Answers end with their last DATA frame (proxy/h2-response.ts).
      Http2ServerResponse: Http2Response,
    },
    (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) => onHttpsRequest(req, res),
  );
  s.on('checkContinue', (req: Http2ServerRequest | IncomingMessage, res: Http2ServerResponse | ServerResponse) => onHttpsRequest(req, res, true));
  // HTTP/1.1 over TLS goes through Node's HTTP/1 server code, which reads these from the server.
  Object.assign(s, HTTP1, { maxHeadersCount: MAX_HEADERS_COUNT });
  s.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => onUpgrade(req, socket, head, 'https'));
  s.on('clientError', onClientError);
  s.on('tlsClientError', (err: Error) => {
    observer.add(FIXED.tlsFailed);
    log.debug({ err: err.message }, 'TLS handshake failed');
  });
  s.on('secureConnection', onSecureConnection);
  s.on('session', onSession);
  return s;
}

// No SNI: the server's own context, which holds the default certificate (setDefault below).
const secure = makeSecureServer({ SNICallback: (servername, cb) => cb(null, certs.contextFor(servername)) });
// auth-tls-*: connections to hosts that ask for client certificates are handed, by their SNI, to
// servers of their own; the PROXY protocol header (when on) is read before, so installed after.
const clientAuth = new ClientAuthServers(certs, makeSecureServer, (err, host) => log.error({ err, host }, 'could not build a TLS server asking for client certificates'));
useClientAuth(clientAuth);
clientAuth.install(secure);
intake.install(secure, false);
// After the intercepts: every accepted connection counts, whichever server it is handed to.
countConnections(secure, FIXED.connectionsHttps);

const sessions = new Set<ServerHttp2Session>();
/** HTTP/1.1-over-TLS connections and how many requests each has in flight (for the drain). */
const http1Tls = new Map<TLSSocket, number>();

function onSecureConnection(socket: TLSSocket): void {
  stats.add('tlsHandshakes');
  const version = socket.getProtocol();
  observer.add(version === 'TLSv1.3' ? FIXED.tls13 : version === 'TLSv1.2' ? FIXED.tls12 : FIXED.tlsOther);
  if (socket.isSessionReused()) {
    stats.add('tlsResumed');
    observer.add(FIXED.tlsResumed);
  }
  if (socket.alpnProtocol === 'h2') return;
  http1Tls.set(socket, 0);
  socket.once('close', () => http1Tls.delete(socket));
  if (draining) socket.end();
}

function onSession(session: ServerHttp2Session): void {
  sessions.add(session);
  session.once('close', () => sessions.delete(session));
  session.setTimeout(H2_IDLE_MS, () => session.close());
  session.on('error', () => undefined);
  if (draining) session.close();
}

function onHttpsRequest(req: ProxyRequest, res: ProxyResponse, expectContinue = false): void {
  const socket = req.httpVersionMajor === 2 ? undefined : (req.socket as TLSSocket);
  if (socket !== undefined && http1Tls.has(socket)) {
    http1Tls.set(socket, http1Tls.get(socket)! + 1);
    res.once('close', () => {
      const left = (http1Tls.get(socket) ?? 1) - 1;
      if (http1Tls.has(socket)) http1Tls.set(socket, left);
      if (draining && left === 0) socket.end();
    });
  }
  onRequest(req, res, 'https', expectContinue);
}

/** The certificate for clients that send no SNI, on the server's own context. */
let defaultCertId: string | null = null;
function applyDefaultCertificate(): void {
  const id = certs.idFor('');
  const pem = certs.defaultPem();
  if (pem === null || id === defaultCertId) return;
  // A new server context: it needs the ticket keys again.
  secure.setSecureContext({ ...TLS_SETTINGS, cert: pem.cert, key: pem.key });
  defaultCertId = id;
  ticketCallback = false;
  applyTicketKeys();
}

/** The server's context decrypts tickets with the current and previous keys (ticket-keys.ts). */
let ticketCallback = false;
function applyTicketKeys(): void {
  if (keyring.current === undefined || defaultCertId === null) return;
  if (ticketCallback) return; // the callback reads the keyring, which already holds the new keys
  // Node keeps the listening context in `_sharedCreds`, not a public API: without it, or without
  // the callback, setTicketKeys shares the newest key alone.
  const native = (secure as unknown as { _sharedCreds?: { context?: unknown } })._sharedCreds?.context;
  ticketCallback = keyring.install(native);
  if (!ticketCallback) secure.setTicketKeys(keyring.current);
}

// ---- listening and draining ------------------------------------------------------------

let listening = false;
function listen(): void {
  listening = true;
  let pending = 2;
  const listened = () => {
    if (--pending === 0) send({ type: 'ack', generation, endpoints: endpointsFingerprint ?? '', challenges: challengesVersion });
  };
  for (const [s, p] of [[server, config.httpPort], [secure, config.httpsPort]] as const) {
    s.once('error', (err: Error) => {
      log.error({ err }, 'listen failed');
      send({ type: 'listen-failed', message: `cannot listen on ${config.bindAddress}:${p}: ${err.message}` });
    });
    s.listen({ port: p, host: config.bindAddress, reusePort: true, backlog: 1024 }, () => {
      log.debug({ port: p }, 'listening');
      listened();
    });
  }
}

let httpClosed = false;
let httpsClosed = false;
let drainDone: (() => void) | null = null;

/** Drained once both servers closed and every upgraded connection ended. */
function checkDrained(): void {
  if (drainDone !== null && httpClosed && httpsClosed && upgraded.size === 0) drainDone();
}

function drain(graceMs: number): void {
  if (draining) return;
  draining = true;
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => {
    server.closeAllConnections();
    for (const s of sessions) s.destroy();
    for (const s of http1Tls.keys()) s.destroy();
    for (const s of upgraded) s.destroy();
  }, graceMs);
  drainDone = () => {
    drainDone = null;
    clearInterval(idle);
    clearTimeout(deadline);
    observer.flush();
    send({ type: 'drained' });
  };
  // Stop accepting; idle keep-alive connections close now, busy ones after their response
  // (which carries `Connection: close`; HTTP/2 sessions get GOAWAY and finish their streams);
  // what is still open at the deadline is cut.
  intake.close();
  clientAuth.close();
  if (listening) {
    server.close(() => {
      httpClosed = true;
      checkDrained();
    });
    secure.close(() => {
      httpsClosed = true;
      checkDrained();
    });
    for (const s of sessions) s.close();
    for (const [s, inFlight] of http1Tls) if (inFlight === 0) s.end();
  } else {
    httpClosed = true;
    httpsClosed = true;
  }
  checkDrained();
}

/** Whether a host sends requests other than plain HTTP with the table's timeouts (backend-protocol, proxy-ssl-*, its own forward policy), a canary's included. */
function hasUpstreamSettings(vh: VirtualHost | undefined): boolean {
  if (vh === undefined) return false;
  if (vh.defaultUpstream !== undefined || vh.defaultPolicies?.canary?.upstream !== undefined) return true;
  return vh.routes.some((r) => r.upstream !== undefined || r.policies?.canary?.upstream !== undefined);
}

/**
 * Whether what Proxy.setUpstreamTls reads moves with `diff`: the global policy, or a host with
 * upstream settings added, removed or changed (its old or new version; `before`'s hosts sorted by
 * host, as compile gives them).
 */
function upstreamSettingsMoved(before: RouteTable, diff: TableDiff): boolean {
  if (JSON.stringify(before.global) !== JSON.stringify(diff.table.global)) return true;
  const old = (host: string) => before.hosts[indexOfHost(before.hosts, host)];
  return diff.hosts.some((vh) => hasUpstreamSettings(vh) || hasUpstreamSettings(old(vh.host))) || diff.removedHosts.some((host) => hasUpstreamSettings(old(host)));
}

port.on('message', (m: ToWorker) => {
  try {
    if (m.type === 'drain') return drain(m.graceMs);
    // Metrics series: a whole table comes with the whole index, a diff with the series it adds (a number never changes meaning).
    if (m.series) {
      seriesIndex = m.tableDiff === undefined ? m.series : { ...seriesIndex, ...m.series };
      observer.setSeries(seriesIndex);
    }
    const nextTable = m.table ?? (m.tableDiff === undefined ? undefined : applyTableDiff(table!, m.tableDiff));
    if (m.ticketKeys) {
      keyring.set(m.ticketKeys);
      applyTicketKeys();
    }
    if (m.tls) {
      certs.update(m.tls);
      clientAuth.update(m.tls);
      applyDefaultCertificate();
      setBasicAuthUsers(m.tls.basicAuth);
    }
    if (m.challenges) {
      challenges = new Map(Object.entries(m.challenges.tokens));
      challengesVersion = m.challenges.version;
    }
    if (nextTable) health.setBackends(nextTable.backends);
    if (m.health) health.setActive(m.health.down);
    if (m.endpoints) {
      proxy.setEndpoints(m.endpoints);
      endpointsFingerprint = m.endpoints.fingerprint;
    }
    // Upstream TLS configurations and connect timeouts are read off every host: only again for a
    // whole table, other proxy-ssl PEM (the TLS material comes with every table), or a diff that
    // changes a host with upstream settings or the global policy.
    const pem = m.tls === undefined ? null : JSON.stringify(m.tls.upstream ?? {});
    const pemMoved = pem !== null && pem !== upstreamPem;
    const upstreamsMoved = pemMoved || m.table !== undefined || (m.tableDiff !== undefined && upstreamSettingsMoved(table!, m.tableDiff));
    if (nextTable) {
      // It keeps the matchers of the hosts the diff left alone, and takes the previous router's host maps over: built last.
      router = new Router(nextTable, { ...ROUTER_OPTIONS, series: (b, r) => seriesIndex[seriesKey(nextTable, b, r)] ?? OVERFLOW }, router ?? undefined, m.tableDiff);
      table = nextTable;
      generation = nextTable.generation;
      defaultBodyLimit = nextTable.proxyBodySize ?? DEFAULT_PROXY_BODY_SIZE;
      applyGlobal(nextTable.global);
      proxy.defaultBackend = nextTable.defaultBackend;
    }
    // The TLS configurations of the table's HTTPS and GRPCS routes.
    if (upstreamsMoved) proxy.setUpstreamTls(pemMoved ? (m.tls!.upstream ?? {}) : undefined, table?.hosts ?? []);
    if (pem !== null) upstreamPem = pem;
  } catch (err) {
    // An update this worker cannot apply must not take it down; it keeps the last good state.
    log.error({ err }, 'could not apply update; keeping the previous one');
    // Later diffs would not apply to the table kept: ask for the whole one.
    if (m.type === 'update' && (m.table ?? m.tableDiff) !== undefined) send({ type: 'need-table' });
    return;
  }
  if (router === null || endpointsFingerprint === null || !certs.ready || keyring.current === undefined) return;
  if (!listening) {
    // Loaded: the memory of loading goes back before the first connection (src/heap.ts).
    compactAfterLoading(log);
    listen();
  } else send({ type: 'ack', generation, endpoints: endpointsFingerprint, challenges: challengesVersion });
});
