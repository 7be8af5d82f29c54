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
//   sessions close after upstream-keepalive-timeout. Sessions are per connect timeout too (as
//   undici pools: upstream-pools.ts), which is the session's.
// - Bodies stream both ways: a slow reader pauses the writer, and HTTP/2 flow control
//   (WINDOW_UPDATE) does the rest on each hop. The request body is kept only as far as a retry
//   needs it (request-body.ts); proxy-read-timeout is the stream's inactivity timeout (nginx's
//   grpc_read_timeout), proxy-send-timeout as for HTTP/1.1.
// - Retries as proxy-next-upstream says (next-upstream.ts), before anything is answered: a
//   refused connection, a connect timeout and a REFUSED_STREAM reset (RFC 9113 §8.7: not
//   processed) count as not sent; gRPC calls are POSTs, so only those go again unless the route
//   has non_idempotent.
// - Trailers (grpc-status, grpc-message, custom trailing metadata) are forwarded as trailers; a
//   Trailers-Only response (HEADERS with END_STREAM) is forwarded as one.
// - The client goes away (RST_STREAM, or its connection closes) → the backend stream is reset
//   with CANCEL. The backend resets the stream → the client's stream is reset with the same code
//   (an HTTP/1.1 client's connection is closed), or, before any answer to a request that is not
//   gRPC, 502.
// - Failures before an answer: 502 (refused, reset, TLS), 504 (connect or read timeout), 503 (no
//   endpoint), or, for gRPC calls, grpc-status 14 UNAVAILABLE (grpc-status.ts).

import { EventEmitter, once } from 'node:events';
import { connect as h2connect, constants, Http2ServerResponse, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { DEFAULT_UPSTREAM_KEEPALIVE } from '../../core/annotations/forward-policy.ts';
import type { Endpoint, ForwardPolicy, UpstreamKeepalivePolicy } from '../../core/model.ts';
import type { ProxyRequest, ProxyResponse } from './proxy.ts';
import { sendTooLarge } from './body-limit.ts';
import { dropHandlerHeaders } from './headers.ts';
import { expectTrailers } from './h2-response.ts';
import { CONNECT_FAILURES, failureStatus, type Failure, type Tries } from './next-upstream.ts';
import type { RequestBody } from './request-body.ts';
import { authority } from './authority.ts';
import { inUse, type ConnectionUses } from './upstream-pools.ts';
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

interface SessionEntry {
  readonly session: ClientHttp2Session;
  readonly authority: string;
  readonly tls: string | null;
  readonly connectTimeoutMs: number;
}

/** One exchange to forward. */
export interface H2Exchange {
  readonly req: ProxyRequest;
  readonly res: ProxyResponse;
  /** Built by upstreamH2RequestHeaders (pseudo-headers included). */
  readonly headers: OutgoingHttpHeaders;
  /** The request body (proxy-body-size counted, kept for retries); null: none. */
  readonly body: RequestBody | null;
  /** TLS for GRPCS; null: cleartext. */
  readonly tls: UpstreamTls | null;
  /** The route's timeouts and retries, and the tries so far. */
  readonly forward: ForwardPolicy;
  readonly tries: Tries;
  /** Answer the proxy's own failures as gRPC (grpc-status.ts). */
  readonly grpc: boolean;
  /** custom-http-errors (error-pages.ts): true when the error backend answers instead of an answer or failure with this status; null: none. */
  readonly divert: ((status: number) => boolean) | null;
  /** The endpoint for the next try (the balancer: past those tried while others remain); undefined: none ready. */
  pick(): Endpoint | undefined;
  /** How many endpoints the backend had (proxy-next-upstream-tries 0: one try each). */
  readonly endpoints: number;
  /** The answer's head (`status`) from the endpoint last picked, `out` its headers for the client (the balancer's report; an affinity cookie is added). */
  answered(out: Record<string, string | string[]>, status: number): void;
  /** The try failed without an answer (the balancer's and passive health's report). */
  failed(how: 'error' | 'timeout'): void;
  /** The try's answer has a status that sends the request to another try. */
  rejected(status: number): void;
}

/** The session could not connect within the connect timeout. */
const CONNECT_TIMEOUT = 'GH_UPSTREAM_CONNECT_TIMEOUT';

function connectTimeoutError(ms: number): Error {
  return Object.assign(new Error(`connect timed out after ${ms} ms`), { code: CONNECT_TIMEOUT });
}

/** Resolves on the stream's 'drain' or 'close'. */
function drained(stream: ClientHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
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

/** The head of an answer whose trailers (addTrailers, on the backend's 'trailers') follow the body. */
function writeHead(res: ProxyResponse, status: number, headers: Record<string, string | string[]>): void {
  expectTrailers(res);
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

export class H2Upstream {
  private readonly sessions = new Map<string, SessionEntry>();
  /** upstream-keepalive-timeout: a session this long without activity closes. */
  private idleMs = DEFAULT_UPSTREAM_KEEPALIVE.timeoutMs;
  /** What the last retain() kept; null before the first. */
  private kept: { readonly authorities: ReadonlySet<string>; readonly uses: ConnectionUses | undefined } | null = null;
  /** Sessions whose connection closed or failed: their streams ended for that, not by a reset. */
  private readonly dropped = new WeakSet<ClientHttp2Session>();
  private readonly fail: (x: H2Exchange, status: 502 | 503 | 504, reason: string) => void;

  constructor(fail: (x: H2Exchange, status: 502 | 503 | 504, reason: string) => void) {
    this.fail = fail;
  }

  /** New upstream-keepalive-* settings: new sessions follow them (timeoutMs alone applies to HTTP/2); the open ones close once their streams end. */
  configure(keepalive: UpstreamKeepalivePolicy): void {
    if (keepalive.timeoutMs === this.idleMs) return;
    this.idleMs = keepalive.timeoutMs;
    for (const entry of this.sessions.values()) entry.session.close();
    this.sessions.clear();
  }

  /** A session to `e` (connect timeout in ms, 0: none) that takes new streams: the current one, or a new one. */
  session(e: Endpoint, tls: UpstreamTls | null, connectTimeoutMs: number): ClientHttp2Session {
    const auth = authority(e);
    const key = `${auth} ${tls?.id ?? ''} ${connectTimeoutMs}`;
    const have = this.sessions.get(key);
    if (have !== undefined && !have.session.closed && !have.session.destroyed) return have.session;
    const session = this.open(e, auth, tls, connectTimeoutMs);
    if (this.kept !== null && !inUse(this.kept.authorities, this.kept.uses, auth, tls?.id ?? null, connectTimeoutMs)) {
      // An endpoint the endpoint table no longer has, retried by a request from before the change:
      // a session for this one stream, closed (GOAWAY) once it is done.
      queueMicrotask(() => session.close());
      return session;
    }
    this.sessions.set(key, { session, authority: auth, tls: tls?.id ?? null, connectTimeoutMs });
    const forget = () => {
      if (this.sessions.get(key)?.session === session) this.sessions.delete(key);
    };
    // After GOAWAY the streams in flight finish; new ones go to a new session.
    session.once('goaway', forget);
    session.once('close', forget);
    session.once('error', forget);
    return session;
  }

  private open(e: Endpoint, auth: string, tls: UpstreamTls | null, connectTimeoutMs: number): ClientHttp2Session {
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
    if (connectTimeoutMs > 0) {
      const timer = setTimeout(() => session.destroy(connectTimeoutError(connectTimeoutMs)), connectTimeoutMs);
      const clear = () => clearTimeout(timer);
      session.once('connect', clear);
      session.once('close', clear);
    }
    session.setTimeout(this.idleMs, () => session.close());
    return session;
  }

  /** Close the sessions of endpoints (`host:port`), TLS configurations or connect timeouts no longer in use; their streams finish first. */
  retain(authorities: ReadonlySet<string>, uses?: ConnectionUses): void {
    this.kept = { authorities, uses };
    for (const [key, entry] of this.sessions) {
      if (inUse(authorities, uses, entry.authority, entry.tls, entry.connectTimeoutMs)) continue;
      this.sessions.delete(key);
      entry.session.close();
    }
  }

  close(): void {
    for (const entry of this.sessions.values()) entry.session.destroy();
    this.sessions.clear();
  }

  /** One try: to the next endpoint; on a failure nothing was answered for, another try as proxy-next-upstream says. */
  forward(x: H2Exchange): void {
    const { res, forward, tries } = x;
    const endpoint = x.pick();
    if (endpoint === undefined) return this.fail(x, 503, 'no ready endpoint');
    tries.made++;
    let session: ClientHttp2Session;
    let stream: ClientHttp2Stream;
    // Aborting resets the backend stream with CANCEL, without END_STREAM first (see ABORT_ERROR).
    const abort = new AbortController();
    try {
      session = this.session(endpoint, x.tls, forward.connectTimeoutMs);
      stream = session.request(x.headers, { endStream: x.body === null, signal: abort.signal });
    } catch (err) {
      // A session that went away between the check and the request, or headers h2 refuses.
      return this.fail(x, 502, `could not open a stream: ${codeOf(err) || (err as Error).message}`);
    }

    let cancelled = false;
    let timedOut = false;
    /** The answer's status goes to another try. */
    let again = false;
    /** The error backend answers instead (custom-http-errors). */
    let diverted = false;
    let failure: unknown = null;
    const onClientClose = () => {
      // The client reset its stream or dropped its connection before the exchange ended.
      if (stream.closed || stream.destroyed) return;
      cancelled = true;
      abort.abort();
    };
    res.once('close', onClientClose);
    const timeout = () => {
      timedOut = true;
      abort.abort();
    };
    if (forward.readTimeoutMs > 0) stream.setTimeout(forward.readTimeoutMs, timeout);

    stream.on('response', (headers, flags) => {
      if (res.destroyed) return;
      const status = Number(headers[':status']);
      if (tries.againForStatus(status, x.endpoints)) {
        again = true;
        x.rejected(status);
        return abort.abort();
      }
      if (x.divert !== null && x.divert(status)) {
        diverted = true;
        x.answered({}, status);
        return abort.abort();
      }
      x.body?.settle();
      const out = responseHeaders(headers, res);
      x.answered(out, status);
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
      if (cancelled || diverted) return; // the client is gone (its reset went upstream), or the error backend answers
      if (again) return this.forward(x);
      if (x.body?.exceeded) return sendTooLarge(res);
      const code = stream.rstCode ?? NGHTTP2_NO_ERROR;
      const dropped = this.dropped.has(session);
      const peerReset = !dropped && !timedOut && code !== NGHTTP2_NO_ERROR && (failure === null || codeOf(failure) === 'ERR_HTTP2_STREAM_ERROR');
      if (!res.headersSent) {
        const errCode = codeOf(failure);
        const f: Failure = timedOut ? { case: 'timeout', sent: true }
          // REFUSED_STREAM: the backend did not process it (RFC 9113 §8.7).
          : peerReset ? { case: 'error', sent: code !== NGHTTP2_REFUSED_STREAM }
          : CONNECT_FAILURES.has(errCode) ? { case: 'error', sent: false }
          : errCode === CONNECT_TIMEOUT ? { case: 'timeout', sent: false }
          : { case: 'error', sent: true };
        x.failed(f.case === 'timeout' ? 'timeout' : 'error');
        if (tries.again(f.case, f.sent, x.endpoints)) return this.forward(x);
        if (timedOut) return this.fail(x, 504, 'no answer within the read or send timeout');
        if (peerReset) {
          // UNAVAILABLE to gRPC for REFUSED_STREAM. Other resets reach a gRPC client as resets,
          // which it reads itself (CANCEL → CANCELLED).
          if (x.grpc && code !== NGHTTP2_REFUSED_STREAM) return resetClient(res, code);
          return this.fail(x, 502, `the backend reset the stream (HTTP/2 error code ${code})`);
        }
        const reason = failure !== null ? `connection failed: ${errCode || (failure as Error).message}` : 'the backend closed the stream without an answer';
        return this.fail(x, failureStatus(f), reason);
      }
      if (res.writableEnded) return; // a Trailers-Only answer
      if (code === NGHTTP2_NO_ERROR && failure === null && !dropped) return void res.end();
      // Cut mid-answer: the client must not take a truncated answer for a whole one.
      resetClient(res, peerReset ? code : NGHTTP2_INTERNAL_ERROR);
    });
    if (x.body !== null) void this.sendBody(x.body.attempt(forward.sendTimeoutMs, timeout), stream, () => {
      // The client did not finish its request (a reset): its reset goes upstream, nothing is answered.
      if (!x.body!.exceeded) cancelled = true;
      abort.abort();
    });
  }

  /**
   * Writes the request body to the backend stream, waiting for it to drain, and ends the stream
   * when the body ended. A body that fails (passed proxy-body-size, or the client reset its
   * request) calls `failed`, which resets the backend stream with CANCEL instead, so the backend
   * never takes a cut body for a whole one (a gRPC client-streaming call for a half-close). The
   * chunk that passes proxy-body-size is never written.
   */
  private async sendBody(chunks: AsyncIterable<Buffer>, stream: ClientHttp2Stream, failed: () => void): Promise<void> {
    try {
      for await (const chunk of chunks) {
        if (stream.destroyed) return;
        if (!stream.write(chunk)) await drained(stream);
      }
      if (!stream.destroyed) stream.end();
    } catch {
      if (!stream.destroyed) failed();
    }
  }
}
