// Forwarding to HTTP/2 backends: backend-protocol H2C and GRPC (cleartext, prior knowledge: RFC
// 9113 §3.3) and GRPCS (TLS, ALPN h2). node:http2 rather than undici: undici's H2CClient speaks
// h2c, but gRPC needs what its request API does not give: response trailers written as trailers
// (and Trailers-Only answers as one HEADERS frame), `te: trailers` sent, and RST_STREAM codes
// carried both ways (a cancelled call must reach the backend as CANCEL, and a backend's reset must
// reach the client as one).
//
// - One session per backend endpoint and TLS configuration, shared by every request to it (HTTP/2
//   multiplexes; nginx's grpc_pass keeps such connections too), opened on first use. A session
//   that got GOAWAY, closed, or failed takes no new streams; the next request opens another. Idle
//   sessions close after IDLE_MS.
// - Bodies stream both ways with pipe(): a slow reader pauses the writer, and HTTP/2 flow control
//   (WINDOW_UPDATE) does the rest on each hop. Nothing is buffered beyond the stream windows.
// - Trailers (grpc-status, grpc-message, custom trailing metadata) are forwarded as trailers; a
//   Trailers-Only response (HEADERS with END_STREAM) is forwarded as one.
// - The client goes away (RST_STREAM, or its connection closes) → the backend stream is reset
//   with CANCEL. The backend resets the stream → the client's stream is reset with the same code
//   (an HTTP/1.1 client's connection is closed), or, before any answer to a request that is not
//   gRPC, 502.
// - Failures before an answer: 502 (refused, reset, TLS), 504 (connect or read timeout), 503 (no
//   endpoint), or, for gRPC calls, grpc-status 14 UNAVAILABLE (grpc-status.ts).

import { EventEmitter, once } from 'node:events';
import { connect as h2connect, constants, Http2ServerRequest, Http2ServerResponse, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Endpoint } from '../../core/model.ts';
import type { ProxyRequest, ProxyResponse } from './proxy.ts';
import { mustCount, sendTooLarge } from './body-limit.ts';
import { dropHandlerHeaders } from './headers.ts';
import { authority } from './upstream-pools.ts';
import { sniFor, type UpstreamTls } from './upstream-tls.ts';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = constants;

/**
 * node:http2's Http2Stream.close(code) ends the stream's sending side (END_STREAM) before it
 * sends RST_STREAM: a cancelled upload would look complete to the backend for a moment, and a
 * reset answer would look like an answer without trailers to the client. A stream destroyed with
 * Node's own AbortError is reset with CANCEL and nothing else (what an aborted `signal` does to
 * a client stream); an aborted `once` hands us one. Any other error resets with INTERNAL_ERROR.
 */
const ABORT_ERROR: Error = await once(new EventEmitter(), 'never', { signal: AbortSignal.abort() }).then(() => new Error('unreachable'), (err: Error) => err);
const RESET_ERROR = new Error('the backend stream failed');

/** An upstream session with no activity this long is closed (GOAWAY); nginx keeps upstream connections 60 s. */
const IDLE_MS = 60_000;

export interface H2UpstreamOptions {
  readonly connectTimeoutMs: number;
  /** Inactivity on a stream (nothing read or written) this long ends it: nginx's grpc_read_timeout. */
  readonly readTimeoutMs: number;
}

interface SessionEntry {
  readonly session: ClientHttp2Session;
  readonly authority: string;
  readonly tls: string | null;
}

/** One exchange to forward. */
export interface H2Exchange {
  readonly req: ProxyRequest;
  readonly res: ProxyResponse;
  /** Built by upstreamH2RequestHeaders (pseudo-headers included). */
  readonly headers: OutgoingHttpHeaders;
  readonly hasBody: boolean;
  /** proxy-body-size, bytes (0: none): a body of undeclared length is counted (body-limit.ts). */
  readonly bodyLimit: number;
  /** TLS for GRPCS; null: cleartext. */
  readonly tls: UpstreamTls | null;
  /** Answer the proxy's own failures as gRPC (grpc-status.ts). */
  readonly grpc: boolean;
  /** The next endpoint to try (the balancer: another than those tried); undefined: none left. */
  pick(): Endpoint | undefined;
  /** How many endpoints the backend has: the most tries a request can make. */
  readonly endpoints: number;
  /** The answer's head from the endpoint last picked, `out` its headers for the client (the balancer's report; an affinity cookie is added). */
  answered(out: Record<string, string | string[]>): void;
}

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'GH_UPSTREAM_TIMEOUT']);
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
/** Tries per request without a body on connection failures, as in proxy.ts (nginx's proxy_next_upstream). */
const MAX_TRIES = 3;

function timeoutError(what: string, ms: number): Error {
  return Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'GH_UPSTREAM_TIMEOUT' });
}

/** The error's code; for a stream cancelled by its session's failure, the failure's (ECONNREFUSED…). */
function codeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const c = e?.code === 'ERR_HTTP2_STREAM_CANCEL' && typeof e.cause?.code === 'string' ? e.cause.code : e?.code;
  return typeof c === 'string' ? c : '';
}

/** Response headers for the client: pseudo-headers and connection-specific ones dropped. */
function responseHeaders(headers: IncomingHttpHeaders, res: ProxyResponse): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(headers)) {
    if (name.charCodeAt(0) === 58 /* : */ || name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding' || name === 'upgrade' || name === 'proxy-connection') continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  // Headers the handler set before proxying (HSTS) win over the upstream's, as in proxy.ts; Vary is merged.
  dropHandlerHeaders(out, res);
  return out;
}

function trailerHeaders(trailers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(trailers)) {
    const v = trailers[name];
    if (name.charCodeAt(0) !== 58 && v !== undefined) out[name] = v;
  }
  return out;
}

function writeHead(res: ProxyResponse, status: number, headers: Record<string, string | string[]>): void {
  (res as unknown as { writeHead(s: number, h: Record<string, string | string[]>): void }).writeHead(status, headers);
}

/** Answer with headers alone; over HTTP/2 one HEADERS frame with END_STREAM (a gRPC Trailers-Only answer). */
function endWithHeaders(res: ProxyResponse, status: number, headers: Record<string, string | string[]>): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end();
}

/**
 * Reset the client's stream: with CANCEL when `code` is CANCEL, else INTERNAL_ERROR (the only two
 * node:http2 sends without ending the stream first; gRPC clients read them as CANCELLED and
 * INTERNAL). An HTTP/1.1 client's connection is closed.
 */
function resetClient(res: ProxyResponse, code: number): void {
  if (res instanceof Http2ServerResponse) {
    if (!res.stream.destroyed) res.stream.destroy(code === NGHTTP2_CANCEL ? ABORT_ERROR : RESET_ERROR);
  } else {
    res.destroy();
  }
}

/** Whether an HTTP/2 client reset its stream (as opposed to ending its request). */
function clientReset(req: ProxyRequest): boolean {
  if (!(req instanceof Http2ServerRequest)) return req.destroyed && !req.complete;
  return req.stream.closed && (req.stream.rstCode ?? NGHTTP2_NO_ERROR) !== NGHTTP2_NO_ERROR;
}

export class H2Upstream {
  private readonly options: H2UpstreamOptions;
  private readonly sessions = new Map<string, SessionEntry>();
  /** Sessions whose connection closed or failed: their streams ended for that, not by a reset. */
  private readonly dropped = new WeakSet<ClientHttp2Session>();
  private readonly fail: (x: H2Exchange, status: 502 | 503 | 504, reason: string) => void;

  constructor(options: H2UpstreamOptions, fail: (x: H2Exchange, status: 502 | 503 | 504, reason: string) => void) {
    this.options = options;
    this.fail = fail;
  }

  /** A session to `e` that takes new streams: the current one, or a new one. */
  session(e: Endpoint, tls: UpstreamTls | null): ClientHttp2Session {
    const auth = authority(e);
    const key = tls === null ? auth : `${auth} ${tls.id}`;
    const have = this.sessions.get(key);
    if (have !== undefined && !have.session.closed && !have.session.destroyed) return have.session;
    const session = this.open(e, auth, tls);
    this.sessions.set(key, { session, authority: auth, tls: tls?.id ?? null });
    const forget = () => {
      if (this.sessions.get(key)?.session === session) this.sessions.delete(key);
    };
    // After GOAWAY the streams in flight finish; new ones go to a new session.
    session.once('goaway', forget);
    session.once('close', forget);
    session.once('error', forget);
    return session;
  }

  private open(e: Endpoint, auth: string, tls: UpstreamTls | null): ClientHttp2Session {
    let socket: Socket | undefined;
    const session = h2connect(`${tls === null ? 'http' : 'https'}://${auth}`, {
      // Our own socket: the TLS options (CA, client certificate, SNI, name check) are the route's.
      createConnection: () => (socket = tls === null ? netConnect({ host: e.address, port: e.port }) : tlsConnect({ ...tls.options, host: e.address, port: e.port, servername: sniFor(tls, e.address), ALPNProtocols: ['h2'] })),
      settings: { enablePush: false },
      // Streams of many clients share this one session: room for their queued frames.
      maxSessionMemory: 64,
    });
    // Registered after node:http2's own 'close' listener, which closes the streams (with CANCEL),
    // and before their 'close' events (next tick): those streams were dropped, not reset.
    socket?.once('close', () => this.dropped.add(session));
    session.on('error', () => this.dropped.add(session));
    const timer = setTimeout(() => session.destroy(timeoutError('connect', this.options.connectTimeoutMs)), this.options.connectTimeoutMs);
    const clear = () => clearTimeout(timer);
    session.once('connect', clear);
    session.once('close', clear);
    session.setTimeout(IDLE_MS, () => session.close());
    return session;
  }

  /** Close the sessions of endpoints (`host:port`) or TLS configurations no longer in use; their streams finish first. */
  retain(authorities: ReadonlySet<string>, tlsIds?: ReadonlySet<string>): void {
    for (const [key, entry] of this.sessions) {
      if (authorities.has(entry.authority) && (entry.tls === null || tlsIds === undefined || tlsIds.has(entry.tls))) continue;
      this.sessions.delete(key);
      entry.session.close();
    }
  }

  close(): void {
    for (const entry of this.sessions.values()) entry.session.destroy();
    this.sessions.clear();
  }

  forward(x: H2Exchange): void {
    this.attempt(x, x.hasBody ? 1 : Math.min(MAX_TRIES, x.endpoints));
  }

  private attempt(x: H2Exchange, triesLeft: number): void {
    const { req, res } = x;
    const endpoint = x.pick();
    if (endpoint === undefined) return this.fail(x, 503, 'no ready endpoint');
    let session: ClientHttp2Session;
    let stream: ClientHttp2Stream;
    // Aborting resets the backend stream with CANCEL, without END_STREAM first (see ABORT_ERROR).
    const abort = new AbortController();
    try {
      session = this.session(endpoint, x.tls);
      stream = session.request(x.headers, { endStream: !x.hasBody, signal: abort.signal });
    } catch (err) {
      // A session that went away between the check and the request, or headers h2 refuses.
      return this.fail(x, 502, `could not open a stream: ${codeOf(err) || (err as Error).message}`);
    }

    let cancelled = false;
    let tooLarge = false;
    let timedOut = false;
    let failure: unknown = null;
    const onClientClose = () => {
      // The client reset its stream or dropped its connection before the exchange ended.
      if (stream.closed || stream.destroyed) return;
      cancelled = true;
      abort.abort();
    };
    res.once('close', onClientClose);
    stream.setTimeout(this.options.readTimeoutMs, () => {
      timedOut = true;
      abort.abort();
    });

    stream.on('response', (headers, flags) => {
      if (res.destroyed) return;
      const status = Number(headers[':status']);
      const out = responseHeaders(headers, res);
      x.answered(out);
      // Trailers-Only (HEADERS with END_STREAM): forwarded as one HEADERS frame that ends the
      // stream (end() without writeHead() first: Http2ServerResponse then responds with endStream).
      // (A client stream's endAfterHeaders stays false; the frame's flags say it.)
      if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) return endWithHeaders(res, status, out);
      writeHead(res, status, out);
      // Not ended by the pipe: node:http2 emits 'end' on a stream reset with CANCEL too. The
      // answer ends on 'close', when the stream closed cleanly.
      // Http2ServerResponse streams like a Writable (write/end/drain) without being typed one.
      stream.pipe(res as Writable, { end: false });
    });
    // Added to the answer now, sent by res.end(): Http2ServerResponse as a trailing HEADERS
    // frame, HTTP/1.1 in the last chunk.
    stream.on('trailers', (trailers) => {
      if (!res.destroyed) res.addTrailers(trailerHeaders(trailers));
    });
    stream.on('error', (err) => (failure ??= err));
    stream.on('close', () => {
      res.off('close', onClientClose);
      if (cancelled) return; // the client is gone; its reset went upstream
      if (tooLarge) return sendTooLarge(res);
      const code = stream.rstCode ?? NGHTTP2_NO_ERROR;
      const dropped = this.dropped.has(session);
      const peerReset = !dropped && !timedOut && code !== NGHTTP2_NO_ERROR && (failure === null || codeOf(failure) === 'ERR_HTTP2_STREAM_ERROR');
      if (!res.headersSent) {
        if (timedOut) return this.fail(x, 504, `no answer within ${this.options.readTimeoutMs} ms`);
        if (peerReset) {
          // REFUSED_STREAM: the backend did not process it (RFC 9113 §8.7), UNAVAILABLE to gRPC.
          // Other resets reach a gRPC client as resets, which it reads itself (CANCEL → CANCELLED).
          if (x.grpc && code !== NGHTTP2_REFUSED_STREAM) return resetClient(res, code);
          return this.fail(x, 502, `the backend reset the stream (HTTP/2 error code ${code})`);
        }
        const errCode = codeOf(failure);
        if (triesLeft > 1 && CONNECT_FAILURES.has(errCode)) return this.attempt(x, triesLeft - 1);
        const reason = failure !== null ? `connection failed: ${errCode || (failure as Error).message}` : 'the backend closed the stream without an answer';
        return this.fail(x, TIMEOUT_CODES.has(errCode) ? 504 : 502, reason);
      }
      if (res.writableEnded) return; // a Trailers-Only answer
      if (code === NGHTTP2_NO_ERROR && failure === null && !dropped) return void res.end();
      // Cut mid-answer: the client must not take a truncated answer for a whole one.
      resetClient(res, peerReset ? code : NGHTTP2_INTERNAL_ERROR);
    });
    if (x.hasBody) {
      // Not ended by the pipe: a request stream the client reset also emits 'end' (after
      // 'aborted'), and ending the backend's stream then would tell it the requests are complete
      // (a gRPC client-streaming call would be handled as if the client had half-closed). The
      // client's reset reaches the backend as a reset instead (onClientClose).
      let aborted = false;
      req.once('aborted', () => (aborted = true));
      if (mustCount(req, x.bodyLimit)) {
        // Before the pipe, so the chunk that passes the limit is never written: the backend stream
        // is reset (CANCEL) first, and the client answered 413 when it closes.
        let seen = 0;
        const count = (chunk: Buffer) => {
          seen += chunk.length;
          if (seen <= x.bodyLimit) return;
          req.off('data', count);
          req.unpipe(stream);
          tooLarge = true;
          abort.abort();
        };
        req.on('data', count);
      }
      req.pipe(stream, { end: false });
      req.once('end', () => {
        if (aborted || tooLarge || clientReset(req)) return;
        stream.end();
      });
    }
  }
}
