// A naive, linear restatement of the router's semantics (src/dataplane/router/router.ts, rules
// 1–4), written from the rules with plain loops and string compares and no find-my-way, so the
// shared suite (test/router-vs-reference.test.ts) can check the real router against it. Slow on
// purpose: every lookup scans every host and every route. Keep it obvious rather than clever.
// Regex routes use JavaScript's own RegExp (case-insensitive, `^` in front), not the router's RE2:
// the test patterns are ones both read alike.

import type { Route, RouteTable, VirtualHost } from '../../src/core/model.ts';
import type { Match } from '../../src/dataplane/router/router.ts';
import { normaliseUriPath } from '../../src/core/normalise-uri-path.ts';

export class ReferenceMatcher {
  readonly #table: RouteTable;

  constructor(table: RouteTable) {
    this.#table = table;
  }

  /** `path` is a request path in normal form (normaliseUriPath), as the router takes it. */
  lookup(rawHost: string, path: string): Match {
    const table = this.#table;
    const vh = selectHost(table.hosts, normaliseHost(rawHost));
    if (vh === null) return { backend: table.defaultBackend, route: null, host: null, steps: [], series: 0 };
    const route = selectRoute(vh.routes, path);
    if (route !== null) return { backend: route.backend, route, host: vh, steps: [], series: 0 };
    return { backend: vh.defaultBackend !== null ? vh.defaultBackend : table.defaultBackend, route: null, host: vh, steps: [], series: 0 };
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
function selectRoute(routes: readonly Route[], path: string): Route | null {
  if (!path.startsWith('/')) return null;
  if (routes.some((r) => r.match === 'Regex')) return firstInRegexOrder(routes, path);
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
 * A host in regex mode: the routes sorted longest path first (at equal length Exact, Prefix,
 * Regex, then the path in descending order), and the first that matches wins.
 */
function firstInRegexOrder(routes: readonly Route[], path: string): Route | null {
  const rank = { Exact: 0, Prefix: 1, Regex: 2 };
  const sorted = [...routes].sort((a, b) => {
    const la = a.match === 'Regex' ? a.path.length : (comparablePath(a) ?? '').length;
    const lb = b.match === 'Regex' ? b.path.length : (comparablePath(b) ?? '').length;
    if (la !== lb) return lb - la;
    if (a.match !== b.match) return rank[a.match] - rank[b.match];
    return a.path < b.path ? 1 : a.path > b.path ? -1 : 0;
  });
  for (const route of sorted) {
    if (route.match === 'Regex') {
      if (new RegExp('^(?:' + route.path + ')', 'i').test(path)) return route;
      continue;
    }
    const routePath = comparablePath(route);
    if (routePath === null) continue;
    if (route.match === 'Exact' ? path === routePath : routePath === '/' || path === routePath || path.startsWith(routePath + '/')) return route;
  }
  return null;
}

/**
 * The route path in normal form, as request paths are. Null for paths that can never match (not
 * normalising, or holding `*`, which compile rejects). Prefix paths lose a trailing slash.
 */
function comparablePath(route: Route): string | null {
  let path = normaliseUriPath(route.path);
  if (path === null || path.includes('*')) return null;
  if (route.match === 'Prefix' && path.length > 1 && path.endsWith('/')) path = path.substring(0, path.length - 1);
  return path;
}
