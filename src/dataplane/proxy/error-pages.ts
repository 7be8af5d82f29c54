// custom-http-errors and default-backend in the proxy (core/annotations/error-pages.ts), as
// ingress-nginx's template sets them up (nginx.tmpl: `proxy_intercept_errors on`, `error_page
// <code> = @custom_<upstream>_<code>`, `location @custom_…`; the custom-default-backend upstream of
// controller.go):
// - An answer whose status the route lists, from the upstream or Gatehouse's own 502 (refused,
//   reset), 503 (no ready endpoint) or 504 (timeout), never reaches the client: the request goes to
//   the error backend instead, whose answer (status, headers, body) the client gets (`error_page
//   code = @named`: the named location's status). There: the same method, the target `/` with the
//   client's query string (`rewrite (.*) / break`), the client's headers with X-Code, X-Format (the
//   client's Accept), X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port
//   and X-Request-ID set (an empty one not sent, as nginx's proxy_set_header), and the body when it
//   is still held for a retry (request-body.ts, up to 64 KiB; a larger one is not: an empty body).
//   That answer is final: whatever it is, and a failure of the error backend answers 502 or 504
//   (no recursive_error_pages).
// - The error backend: the default-backend Service while it has ready endpoints, else the table's
//   (--default-backend-service) while it has, else none: ingress-nginx then asks its own default
//   server, which answers 404, and so does Gatehouse.
// - default-backend also takes the requests of a route whose backend has no ready endpoint (while
//   it has some): forwarded as the route's, with X-Code 503 and the same headers but X-Original-URI
//   (ingress-nginx's `custom-default-backend-` location headers).
// gRPC calls are left alone (ingress-nginx sets no grpc_intercept_errors).

import type { ErrorPagesPolicy } from '../../core/model.ts';
import type { ProxyRequest } from './proxy.ts';
import { requestId } from './request-id.ts';
import type { UpstreamOverrides } from './headers.ts';

const NAMES = new Set(['x-code', 'x-format', 'x-original-uri', 'x-namespace', 'x-ingress-name', 'x-service-name', 'x-service-port', 'x-request-id']);

/**
 * The X-* headers for the error backend (`uri`: with X-Original-URI) as flat [name, value, …], the
 * empty ones left out. `id`: the request's X-Request-ID as answered (observe/request-observer.ts).
 */
export function errorPageHeaders(p: ErrorPagesPolicy, req: ProxyRequest, status: number, uri: boolean, id?: string): string[] {
  const values = [
    'x-code', String(status),
    'x-format', req.headers.accept ?? '',
    ...(uri ? ['x-original-uri', req.url ?? ''] : []),
    'x-namespace', p.namespace,
    'x-ingress-name', p.ingress,
    'x-service-name', p.service,
    'x-service-port', p.servicePort,
    'x-request-id', id ?? requestId(req.headers['x-request-id']),
  ];
  const out: string[] = [];
  for (let i = 0; i < values.length; i += 2) if (values[i + 1] !== '') out.push(values[i]!, values[i + 1]!);
  return out;
}

/**
 * `flat` (the upstream request headers) with the client's own X-Code … X-Request-ID dropped, and
 * `set` added; with `bodyless`, Content-Length dropped too (the body is not sent again).
 */
export function withErrorPageHeaders(flat: readonly string[], set: readonly string[], bodyless: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const lower = flat[i]!.toLowerCase();
    if (NAMES.has(lower) || (bodyless && lower === 'content-length')) continue;
    out.push(flat[i]!, flat[i + 1]!);
  }
  out.push(...set);
  return out;
}

/** The error backend's request-target: `/` and the client's query string. */
export function errorPageTarget(url: string | undefined): string {
  const q = url === undefined ? -1 : url.indexOf('?');
  return q === -1 ? '/' : `/${url!.slice(q)}`;
}

/** The request pipeline's overrides with `headers` (flat [name, value, …]) set too: default-backend's X-Code 503 and the rest. */
export function withFallbackHeaders(over: UpstreamOverrides | null, headers: readonly string[]): UpstreamOverrides {
  return {
    upstreamTarget: over?.upstreamTarget ?? null,
    upstreamHost: over?.upstreamHost ?? null,
    upstreamHeaders: [...(over?.upstreamHeaders ?? []), ...headers],
    responseRate: over?.responseRate ?? 0,
    responseRateAfter: over?.responseRateAfter ?? 0,
  };
}
