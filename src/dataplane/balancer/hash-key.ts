// The key of upstream-hash-by for one request, from the parts compile parsed
// (core/annotations/load-balance.ts), with nginx's meaning for each variable:
//   $request_uri   the request-target as sent, query included
//   $remote_addr   the client's address (after real-ip, as nginx's realip module sets it)
//   $host          the Host (or `:authority`), lower case, without its port
//   $http_<name>   the request header, '' when absent
//   $cookie_<name> the cookie's value in the Cookie header, name matched ignoring case, '' when absent
//   $arg_<name>    the query parameter's raw value (not decoded), name matched ignoring case, '' when absent
// and, for the external-auth URLs and cache key (core/annotations/external-auth.ts):
//   $scheme        http or https
//   $http_host     the Host (or `:authority`) as sent, port kept (also $best_http_host)
//   $escaped_request_uri  $request_uri escaped as a URI component (set-misc's set_escape_uri)

import type { HashKeyPart, RequestVariablePart } from '../../core/model.ts';
import type { PickContext } from './balancer.ts';

/** The value of cookie `name` in a Cookie header (`a=1; b=2`), or undefined; `lowerName` compares names lower-cased. */
export function cookieValue(header: string | string[] | undefined, name: string, lowerName = false): string | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join('; ');
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end === -1) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq !== -1 && eq < end) {
      const n = text.slice(start, eq).trim();
      if ((lowerName ? n.toLowerCase() : n) === name) return text.slice(eq + 1, end).trim();
    }
    start = end + 1;
  }
  return undefined;
}

/** The raw value of query parameter `name` (lower case; compared ignoring case) in a request-target. */
export function argValue(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const n = eq === -1 ? pair : pair.slice(0, eq);
    if (n.toLowerCase() === name) return eq === -1 ? '' : pair.slice(eq + 1);
  }
  return undefined;
}

/** nginx's $host: lower case, the port dropped (an IPv6 literal keeps its brackets). */
export function hostOf(host: string): string {
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  return (end > 0 ? host.slice(0, end) : host).toLowerCase();
}

function headerText(v: string | string[] | undefined): string {
  return v === undefined ? '' : typeof v === 'string' ? v : v.join(', ');
}

/** What a variable's value is taken from: the request as the balancer sees it. */
export type VariableContext = Pick<PickContext, 'url' | 'host' | 'clientIp' | 'https' | 'headers'>;

const UNRESERVED = /^[A-Za-z0-9._~-]*$/;
const HEX = '0123456789ABCDEF';

/**
 * `text` escaped as a URI component: every byte but letters, digits and `-._~` as %XX. Request
 * lines reach us as latin1 strings (one char per byte), and are escaped byte for byte, as nginx does.
 */
export function escapeUriComponent(text: string): string {
  if (UNRESERVED.test(text)) return text;
  let out = '';
  for (const b of Buffer.from(text, 'latin1')) {
    const c = String.fromCharCode(b);
    out += UNRESERVED.test(c) ? c : `%${HEX[b >> 4]!}${HEX[b & 15]!}`;
  }
  return out;
}

/** The value of one part for a request. */
export function variableValue(part: RequestVariablePart, ctx: VariableContext): string {
  switch (part.kind) {
    case 'scheme':
      return ctx.https ? 'https' : 'http';
    case 'http_host':
      return ctx.host;
    case 'escaped_request_uri':
      return escapeUriComponent(ctx.url);
    default:
      return partValue(part, ctx);
  }
}

function partValue(part: HashKeyPart, ctx: VariableContext): string {
  switch (part.kind) {
    case 'text':
      return part.text;
    case 'request_uri':
      return ctx.url;
    case 'remote_addr':
      return ctx.clientIp;
    case 'host':
      return hostOf(ctx.host);
    case 'header':
      return headerText(ctx.headers[part.name]);
    case 'cookie':
      return cookieValue(ctx.headers.cookie, part.name, true) ?? '';
    case 'arg':
      return argValue(ctx.url, part.name) ?? '';
  }
}

/** The key function of a parsed upstream-hash-by. */
export function hashKey(parts: readonly HashKeyPart[]): (ctx: PickContext) => string {
  if (parts.length === 1) {
    const only = parts[0]!;
    return (ctx) => partValue(only, ctx);
  }
  return (ctx) => {
    let key = '';
    for (const part of parts) key += partValue(part, ctx);
    return key;
  };
}
