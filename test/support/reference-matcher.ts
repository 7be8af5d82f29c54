// A naive, linear restatement of the router's semantics (src/dataplane/router/router.ts, rules
// 1–4), written from the rules with plain loops and string compares and no find-my-way, so the
// shared suite (test/router-vs-reference.test.ts) can check the real router against it. Slow on
// purpose: every lookup scans every host and every route. Keep it obvious rather than clever.

import type { Route, RouteTable, VirtualHost } from '../../src/core/model.ts';
import type { Match } from '../../src/dataplane/router/router.ts';

// Escapes that stay encoded after decoding: the characters decodeURI leaves alone
// (`# $ & + , / : ; = ? @`) and `%` itself. Compared in upper case.
const KEPT_ENCODED = new Set(['23', '24', '25', '26', '2B', '2C', '2F', '3A', '3B', '3D', '3F', '40']);
const HEX = '0123456789abcdefABCDEF';

export class ReferenceMatcher {
  readonly #table: RouteTable;

  constructor(table: RouteTable) {
    this.#table = table;
  }

  lookup(rawHost: string, rawPath: string): Match {
    const table = this.#table;
    const vh = selectHost(table.hosts, normaliseHost(rawHost));
    if (vh === null) return { backend: table.defaultBackend, route: null, host: null };
    const route = selectRoute(vh.routes, rawPath);
    if (route !== null) return { backend: route.backend, route, host: vh };
    return { backend: vh.defaultBackend !== null ? vh.defaultBackend : table.defaultBackend, route: null, host: vh };
  }
}

function normaliseHost(raw: string): string {
  let host = raw;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close !== -1) host = host.substring(0, close + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.substring(0, colon);
  }
  if (host.endsWith('.')) host = host.substring(0, host.length - 1);
  return host.toLowerCase();
}

/** Rule 1. First in table order wins should a host repeat. */
function selectHost(hosts: readonly VirtualHost[], host: string): VirtualHost | null {
  for (const vh of hosts) {
    if (vh.host.toLowerCase() === host) return vh;
  }
  const dot = host.indexOf('.');
  const firstLabel = dot === -1 ? '' : host.substring(0, dot);
  const rest = dot === -1 ? '' : host.substring(dot + 1);
  if (firstLabel !== '' && rest !== '') {
    for (const vh of hosts) {
      if (vh.host.toLowerCase() === '*.' + rest) return vh;
    }
  }
  for (const vh of hosts) {
    if (vh.host === '') return vh;
  }
  return null;
}

/** Rules 2 and 4: the winning route, or null (rule 3 is the caller's). */
function selectRoute(routes: readonly Route[], rawPath: string): Route | null {
  if (!rawPath.startsWith('/')) return null;
  let end = rawPath.length;
  for (let i = 0; i < rawPath.length; i++) {
    if (rawPath[i] === '?' || rawPath[i] === '#') {
      end = i;
      break;
    }
  }
  const path = decodePath(rawPath.substring(0, end));
  if (path === null) return null;

  let best: Route | null = null;
  let bestLength = -1;
  for (const route of routes) {
    const routePath = comparablePath(route);
    if (routePath === null) continue;
    let matches: boolean;
    if (route.match === 'Exact') {
      matches = path === routePath;
    } else if (routePath === '/') {
      matches = true;
    } else {
      matches = path === routePath || path.startsWith(routePath + '/');
    }
    if (!matches) continue;
    // Longer wins; at equal length (matching routes of equal length have equal paths) Exact
    // beats Prefix; a full tie keeps the first in table order.
    if (routePath.length > bestLength || (routePath.length === bestLength && route.match === 'Exact' && best?.match === 'Prefix')) {
      best = route;
      bestLength = routePath.length;
    }
  }
  return best;
}

/**
 * The route path in the same form as a decoded request path: a `%` written in a route path is a
 * literal percent sign (the route is not decoded), which a decoded request path spells `%25`.
 * Null for paths that can never match (not starting with `/`, or holding `*`, which compile
 * rejects). Prefix paths lose trailing slashes (the model already promises that).
 */
function comparablePath(route: Route): string | null {
  let path = route.path;
  if (!path.startsWith('/') || path.includes('*')) return null;
  if (route.match === 'Prefix') {
    while (path.length > 1 && path.endsWith('/')) path = path.substring(0, path.length - 1);
  }
  return path.split('%').join('%25');
}

/**
 * Percent-decodes a path (query already cut off): escapes of characters other than those in
 * KEPT_ENCODED become the characters, read as UTF-8; the kept ones stay as written. Null for a
 * malformed escape or bytes that are not UTF-8.
 */
function decodePath(path: string): string | null {
  let out = '';
  let bytes: number[] = [];
  const flush = (): boolean => {
    if (bytes.length === 0) return true;
    try {
      out += new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(new Uint8Array(bytes));
    } catch {
      return false;
    }
    bytes = [];
    return true;
  };
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch !== '%') {
      if (!flush()) return null;
      out += ch;
      continue;
    }
    const hi = path[i + 1];
    const lo = path[i + 2];
    if (hi === undefined || lo === undefined || !HEX.includes(hi) || !HEX.includes(lo)) return null;
    const hex = (hi + lo).toUpperCase();
    if (KEPT_ENCODED.has(hex)) {
      if (!flush()) return null;
      out += '%' + hi + lo;
    } else {
      bytes.push(parseInt(hex, 16));
    }
    i += 2;
  }
  if (!flush()) return null;
  return out;
}
