// Request and response header rewriting for the proxy. RFC 9110 §7.6.1: hop-by-hop headers
// and every header named in Connection are not forwarded. X-Forwarded-* and X-Real-IP are
// set from the connection, never trusted from the client (ingress-nginx's default,
// use-forwarded-headers: false).

import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
  // Node answers `Expect: 100-continue` itself before the body flows; undici refuses it.
  'expect',
]);

const REPLACED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);

function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  const tokens = new Set<string>();
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const t of part.split(',')) {
      const token = t.trim().toLowerCase();
      if (token !== '') tokens.add(token);
    }
  }
  return tokens;
}

export interface Forwarded {
  clientIp: string;
  proto: 'http' | 'https';
  host: string;
  port: number;
}

/** The client's IP without the IPv4-mapped IPv6 prefix. */
export function clientIp(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}

/**
 * The upstream request headers as a flat [name, value, …] list, in the client's order and
 * case, Host kept, hop-by-hop dropped, forwarding headers set.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], connection: string | string[] | undefined, fwd: Forwarded, keepUpgrade = false): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (REPLACED.has(lower)) continue;
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) {
      if (!(keepUpgrade && (lower === 'connection' || lower === 'upgrade'))) continue;
    }
    out.push(name, rawHeaders[i + 1]!);
  }
  out.push(
    'x-forwarded-for', fwd.clientIp,
    'x-real-ip', fwd.clientIp,
    'x-forwarded-proto', fwd.proto,
    'x-forwarded-host', fwd.host,
    'x-forwarded-port', String(fwd.port),
  );
  return out;
}

/** The response headers to send to the client: hop-by-hop removed. Mutates and returns `headers`. */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const named = connectionTokens(headers.connection);
  for (const name of HOP_BY_HOP) delete headers[name];
  if (named) for (const name of named) delete headers[name];
  return headers;
}
