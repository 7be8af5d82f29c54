// HTTP/1.1 forwarding over kept-alive upstream connections (undici Pool.stream, measured
// about twice http-proxy-3's requests/s here) and WebSocket upgrades (http-proxy-3 `ws`).
// Bodies stream both ways, never buffered. Errors answer like ingress-nginx: 502 on a
// refused or reset connection, 503 with no ready endpoint, 504 on a timeout.
// The route's backend-protocol picks the way: HTTP (default) and HTTPS over undici (HTTPS: a
// Pool per origin and TLS configuration, upstream-tls.ts); H2C, GRPC and GRPCS over node:http2
// (h2-upstream.ts).

import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex, Writable } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { BalancePolicy, EndpointTable, UpstreamPolicy, VirtualHost } from '../../core/model.ts';
import type { UpstreamTlsPem } from '../tls/tls-material.ts';
import { Balancers } from '../balancer/balancers.ts';
import { pickContext, Picking } from '../balancer/picking.ts';
import { GRPC_UNAVAILABLE, isGrpcRequest, sendGrpcError } from './grpc-status.ts';
import { H2Upstream } from './h2-upstream.ts';
import {
  downstreamResponseHeaders,
  dropHandlerHeaders,
  overrideFlatHeaders,
  overrideH2Headers,
  upstreamH2RequestHeaders,
  upstreamRequestHeaders,
  upstreamRequestHeadersFromH2,
  type Forwarded,
  type UpstreamOverrides,
} from './headers.ts';
import { ResponseThrottle } from './response-throttle.ts';
import { CountedBody, mustCount, sendTooLarge } from './body-limit.ts';
import { authority, origin, POOL_SERVERNAME, UpstreamPools, type PoolOptions } from './upstream-pools.ts';
import { sniFor, UpstreamTlsConfigs, type UpstreamTls } from './upstream-tls.ts';
import { Agent as HttpsAgent } from 'node:https';

/** A request from the HTTP/1.1 server, or from the HTTPS server (HTTP/1.1 or, compat API, HTTP/2). */
export type ProxyRequest = IncomingMessage | Http2ServerRequest;
export type ProxyResponse = ServerResponse | Http2ServerResponse;

/** writeHead on either kind of response (their overloads do not unify; both take these arguments). */
export function writeHead(res: ProxyResponse, status: number, headers: OutgoingHttpHeaders): void {
  (res as ServerResponse).writeHead(status, headers);
}

/** Headers a step adds to an answer of its own (Location, Retry-After, CORS …). */
export type AnswerHeaders = Readonly<Record<string, string>>;

function answerBody(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Error'}\n`;
}

/** A small plain-text answer with `headers` added; never a stack trace. */
export function sendAnswer(res: ProxyResponse, status: number, headers: AnswerHeaders = {}, closeConnection = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // No content, so no Content-Type or Content-Length either (RFC 9110 §8.6, §15.3.5): a CORS preflight's 204.
  if (status === 204) {
    writeHead(res, status, headers);
    return void res.end();
  }
  const body = answerBody(status);
  const all: Record<string, string | number> = { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) };
  // HTTP/2 has no Connection header (RFC 9113 §8.2.2); Node refuses one.
  if (closeConnection && !(res instanceof Http2ServerResponse)) all.connection = 'close';
  writeHead(res, status, all);
  res.end(body);
}

/** The same answer written straight to a socket (upgrades, unparseable requests), then closed. */
export function sendRawAnswer(socket: Duplex, status: number, headers: AnswerHeaders = {}): void {
  if (!socket.writable) return void socket.destroy();
  const body = answerBody(status);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
}

export function sendError(res: ProxyResponse, status: number, closeConnection = false): void {
  sendAnswer(res, status, {}, closeConnection);
}

export function sendRawError(socket: Duplex, status: number): void {
  sendRawAnswer(socket, status);
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : '';
}

/** Which status a failed upstream exchange answers with. */
export function statusForError(err: unknown): 502 | 504 {
  return TIMEOUTS.has(errorCode(err)) ? 504 : 502;
}

/** Tries per request on connection failures, as nginx's proxy_next_upstream "error timeout" (3 tries). */
const MAX_TRIES = 3;

export class Proxy {
  private readonly pools: UpstreamPools;
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
  private readonly ws = createProxyServer({ ws: true, xfwd: false, changeOrigin: false });
  private endpoints: EndpointTable = { fingerprint: '', backends: {} };

  constructor(options: PoolOptions) {
    this.pools = new UpstreamPools(options);
    this.h2 = new H2Upstream(options, (x, status, reason) => {
      if (x.grpc) sendGrpcError(x.res, GRPC_UNAVAILABLE, `gatehouse: ${reason}`);
      else sendError(x.res, status);
    });
    this.ws.on('error', (_err, _req, res) => {
      // `res` is the client socket for upgrades.
      if (res && 'destroy' in res && !('writeHead' in res)) sendRawError(res as Duplex, 502);
    });
  }

  setEndpoints(table: EndpointTable): void {
    this.endpoints = table;
    const authorities = new Set<string>();
    for (const list of Object.values(table.backends)) for (const e of list) authorities.add(authority(e));
    this.pools.retain(authorities);
    this.h2.retain(authorities);
    this.balancers.retain(table);
  }

  /**
   * The proxy-ssl-secret PEM (with a new table's certificates), or a new table: the TLS
   * configurations of its routes are computed now, and connections of ones no longer used close.
   */
  setUpstreamTls(pem: Readonly<Record<string, UpstreamTlsPem>> | undefined, hosts: readonly VirtualHost[]): void {
    const ids = this.tls.update(pem, hosts);
    const authorities = new Set<string>();
    for (const list of Object.values(this.endpoints.backends)) for (const e of list) authorities.add(authority(e));
    this.pools.retain(authorities, ids);
    this.h2.retain(authorities, ids);
  }

  /**
   * Forward one request to a ready endpoint of `backend`, the way `upstream` (the route's
   * backend-protocol and proxy-ssl-*) says (absent: HTTP/1.1), with what the request pipeline
   * changed (`over`: target, Host, headers; null: the request as the client sent it). A body
   * without a declared length is counted against `bodyLimit` (proxy-body-size, 0: none; a
   * declared one was checked before): body-limit.ts. The endpoint is the choice of the route's
   * `balance` policy (absent: round robin), told how each attempt went.
   */
  web(req: ProxyRequest, res: ProxyResponse, backend: string, fwd: Forwarded, upstream: UpstreamPolicy | undefined, over: UpstreamOverrides | null, bodyLimit: number, balance?: BalancePolicy): void {
    const endpoints = this.endpoints.backends[backend] ?? [];
    const picking = new Picking(this.balancers.get(backend, balance), endpoints, pickContext(req, fwd));
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
    if (protocol === 'H2C' || protocol === 'GRPC' || protocol === 'GRPCS') {
      const h2 = req instanceof Http2ServerRequest;
      const grpc = protocol !== 'H2C';
      const h2Headers = upstreamH2RequestHeaders(req, h2, req.headers.connection, protocol === 'GRPCS' ? 'https' : 'http', fwd, grpc);
      // An attempt that got no answer and no retry ends with the response: our 502/504, or the client gone.
      res.once('close', () => picking.end(res.headersSent && res.statusCode >= 502));
      return this.h2.forward({
        req,
        res,
        headers: over === null ? h2Headers : overrideH2Headers(h2Headers, over),
        hasBody: h2 ? !req.stream.endAfterHeaders : req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined,
        tls,
        bodyLimit,
        grpc: grpc && isGrpcRequest(req),
        pick: () => picking.next(),
        endpoints: endpoints.length,
        answered: (out) => picking.answered(out, res),
      });
    }
    let hasBody: boolean;
    let headers: string[];
    if (req instanceof Http2ServerRequest) {
      // HTTP/2 to an HTTP/1.1 upstream: a body is whatever DATA frames follow (its length may be
      // unknown: undici sends it chunked); it streams with h2 flow control, never buffered.
      hasBody = !req.stream.endAfterHeaders;
      headers = upstreamRequestHeadersFromH2(req.rawHeaders, fwd);
    } else {
      hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
      headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, fwd);
    }
    if (over !== null) headers = overrideFlatHeaders(headers, over);
    const path = over?.upstreamTarget ?? req.url!;
    const body = !hasBody ? null : mustCount(req, bodyLimit) ? new CountedBody(req, bodyLimit) : req;
    // Only a request without a body can be sent again: a body may be partly consumed.
    this.attempt(req, res, picking, path, headers, body, hasBody ? 1 : Math.min(MAX_TRIES, endpoints.length), tls, over);
  }

  private attempt(req: ProxyRequest, res: ProxyResponse, picking: Picking, path: string, headers: string[], body: ProxyRequest | CountedBody | null, triesLeft: number, tls: UpstreamTls | null, over: UpstreamOverrides | null): void {
    const endpoint = picking.next();
    if (endpoint === undefined) return sendError(res, 503);
    const ac = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) ac.abort();
    };
    res.once('close', onClose);
    this.pools.get(endpoint, tls).stream(
      // servername: see POOL_SERVERNAME (not in undici's types; its Request reads it).
      // undici takes an async iterable body (CountedBody) too; its types leave that out.
      { path, method: req.method!, headers, body: body as ProxyRequest | null, signal: ac.signal, ...(tls === null ? {} : ({ servername: POOL_SERVERNAME } as object)) },
      ({ statusCode, headers: upstreamHeaders }) => {
        const out = downstreamResponseHeaders(upstreamHeaders);
        // Headers the handler set before proxying (HSTS) win over the upstream's; Vary is merged.
        dropHandlerHeaders(out, res);
        picking.answered(out, res);
        writeHead(res, statusCode, out);
        // Http2ServerResponse streams like a Writable (write/end/drain) without being typed one.
        const rate = over?.responseRate ?? 0;
        if (rate === 0) return res as Writable;
        // limit-rate: the body through a throttle, which goes when the client does.
        const throttle = new ResponseThrottle(rate, over!.responseRateAfter ?? 0);
        throttle.pipe(res as Writable);
        res.once('close', () => throttle.destroy());
        return throttle;
      },
      (err) => {
        res.off('close', onClose);
        if (err === null) return;
        // The client went away (nothing to answer), or sent too large a body: not the endpoint's failure.
        if (ac.signal.aborted) return picking.end(false);
        if (body instanceof CountedBody && body.exceeded) {
          picking.end(false);
          return sendTooLarge(res);
        }
        picking.failed();
        if (!res.headersSent && triesLeft > 1 && CONNECT_FAILURES.has(errorCode(err))) {
          return this.attempt(req, res, picking, path, headers, body, triesLeft - 1, tls, over);
        }
        sendError(res, statusForError(err));
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
    const endpoint = this.balancers.get(backend, balance).pick(this.endpoints.backends[backend] ?? [], pickContext(req, fwd));
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
    if (tls === null) return void this.ws.ws(req, socket, head, { target: origin(endpoint) });
    this.ws.ws(req, socket, head, { target: { protocol: 'https:', host: endpoint.address, port: endpoint.port }, agent: this.upgradeAgent(tls, endpoint.address), secure: tls.options.rejectUnauthorized });
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
    this.ws.close();
    this.h2.close();
    await this.pools.close();
  }
}
