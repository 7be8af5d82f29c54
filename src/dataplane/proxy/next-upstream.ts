// When a request goes to another endpoint: nginx's proxy_next_upstream, as ingress-nginx
// configures it (https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_next_upstream,
// ngx_http_upstream_next and ngx_http_upstream_test_next):
// - the failure is one of the route's cases: `error` (the connection failed, was reset or closed
//   before a whole response header came), `timeout` (connect, send or read timeout before the
//   response header), `invalid_header` (a response that does not parse), or `http_<status>`;
// - a non-idempotent request (POST, LOCK, PATCH: nginx's list) goes again only if it never reached
//   the endpoint (the connection was not made), or with `non_idempotent`;
// - tries in all stay within proxy-next-upstream-tries (0: one per endpoint), and none starts
//   once proxy-next-upstream-timeout has passed since the first;
// - its body can be sent again (request-body.ts), and nothing of an answer has gone to the client
//   (the callers check that: a retry only ever happens before the response headers are written).
// A response whose status is a case but that may not go again is passed to the client as it is;
// other failures answer 504 (timeout) or 502.

import type { ForwardPolicy, NextUpstreamCase } from '../../core/model.ts';
import type { RequestBody } from './request-body.ts';

/** ngx_http_upstream_next: requests with these methods are not resent once sent. */
const NON_IDEMPOTENT = new Set(['POST', 'LOCK', 'PATCH']);

const STATUS_CASES: Readonly<Record<number, NextUpstreamCase>> = { 500: 'http_500', 502: 'http_502', 503: 'http_503', 504: 'http_504', 403: 'http_403', 404: 'http_404', 429: 'http_429' };

/** Connection failures: nothing reached the endpoint. */
export const CONNECT_FAILURES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

/** What went wrong with one try, as proxy_next_upstream names it, and whether the request may have reached the endpoint. */
export interface Failure {
  readonly case: 'error' | 'timeout' | 'invalid_header';
  readonly sent: boolean;
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : '';
}

/** An undici error as a failure. */
export function undiciFailure(err: unknown): Failure {
  const code = errorCode(err);
  if (CONNECT_FAILURES.has(code)) return { case: 'error', sent: false };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { case: 'timeout', sent: false };
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT') return { case: 'timeout', sent: true };
  // llhttp's errors: a status line or header that does not parse.
  if (code.startsWith('HPE_')) return { case: 'invalid_header', sent: true };
  return { case: 'error', sent: true };
}

/** The answer to a failure no try follows. */
export function failureStatus(f: Failure): 502 | 504 {
  return f.case === 'timeout' ? 504 : 502;
}

/** The tries of one request. */
export class Tries {
  /** Tries begun (the proxy counts them). */
  made = 0;
  readonly #policy: ForwardPolicy;
  readonly #nonIdempotent: boolean;
  readonly #body: RequestBody | null;
  readonly #started = performance.now();

  constructor(policy: ForwardPolicy, method: string, body: RequestBody | null) {
    this.#policy = policy;
    this.#nonIdempotent = NON_IDEMPOTENT.has(method);
    this.#body = body;
  }

  /** Whether a response with `status` goes to another try instead of the client. */
  againForStatus(status: number, endpoints: number): boolean {
    const c = STATUS_CASES[status];
    return c !== undefined && this.again(c, true, endpoints);
  }

  /** Whether the request goes to another try after a failure of `kind`; `sent`: it may have reached the endpoint. */
  again(kind: NextUpstreamCase, sent: boolean, endpoints: number): boolean {
    const p = this.#policy;
    if (!p.nextUpstream.includes(kind)) return false;
    if (sent && this.#nonIdempotent && !p.nextUpstream.includes('non_idempotent')) return false;
    if (this.made >= (p.tries === 0 ? endpoints : p.tries)) return false;
    if (p.triesTimeoutMs !== 0 && performance.now() - this.#started >= p.triesTimeoutMs) return false;
    return this.#body === null || this.#body.replayable;
  }
}
