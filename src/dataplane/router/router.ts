// The per-request router: host → VirtualHost → Route, built once per RouteTable generation
// (DESIGN.md, "Data flow" step 5) and then only read. Semantics follow DESIGN.md
// "Kubernetes semantics" (Paths, Hosts, Default backend) and the Ingress spec
// (https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types):
//
// 1. Host: the request host is normalised (lower case, port dropped, one trailing dot dropped).
//    An exact VirtualHost wins; else `*.` + (host without its first label), which matches
//    exactly one extra label; else the catch-all VirtualHost (host ''); else no host, and the
//    table's defaultBackend answers.
// 2. Path, inside the chosen VirtualHost only: Exact matches the whole path, case-sensitively;
//    Prefix `/a/b` matches `/a/b`, `/a/b/` and `/a/b/…`, never `/a/bc`; Prefix `/` matches
//    every path. The longest route path wins; at equal path, Exact beats Prefix.
// 3. No route matches: the VirtualHost's defaultBackend, else the table's (null: built-in 404).
// 4. A request-target that does not start with `/` (`*`, absolute-form) matches no route.
//
// Paths are compared in one normal form (core/normalise-uri-path.ts): the worker normalises
// the request path once per request and passes it here; route paths are normalised the same way
// when the router is built. So `/a/%7Eb`, `/a//~b` and `/a/./~b` are all `/a/~b`, `%2F` stays
// encoded (it never splits a segment), and the comparison is of plain strings, element-wise on
// `/`, case-sensitive.
//
// A host's matcher is built on the first request for it, not with the table: most hosts of a large
// table see no request for a while, and a worker built 5,000 of them in about a second and held
// them all. A router made from a new table with the previous one keeps the matchers of the hosts
// whose VirtualHost is the same object (the worker's table diff keeps unchanged hosts' objects),
// so a change to one host rebuilds that host only (table-diff.ts). Given the table diff as well,
// it takes the previous router's host maps over and changes the diff's hosts only: a change costs
// the same at 10 and at 10,000 hosts.
//
// Paths are matched by find-my-way, one instance per VirtualHost (it matches hosts with
// the port and case-sensitively, and allows at most 31 constrained handlers per node, so host
// selection is ours and no constraints are used). find-my-way would percent-decode a path
// again and cut it at `?`, `#`: a normal path has no `?` or `#`, and its `%` signs are replaced
// with PERCENT (a character no normal path holds) on both sides, so find-my-way compares the
// strings exactly as they are (test/support/reference-matcher.ts restates this with plain loops).
//
// A host in regex mode (compile gave it Regex routes: its ImplementationSpecific paths under
// use-regex or rewrite-target) is matched as ingress-nginx writes its locations
// (docs/user-guide/ingress-path-matching.md, "Path Priority"): every route of the host in one
// list, by descending path length, first match wins. A Regex route matches case-insensitively at
// the start of the path (core/path-regex.ts, RE2: linear time whatever the pattern); Exact and
// Prefix routes keep their rule-2 meaning. At equal length Exact comes first, then Prefix, then
// Regex, then paths in descending order (ingress-nginx's sort). Other hosts never touch this list.

import FindMyWay from 'find-my-way';
import type { Route, RoutePolicies, RouteTable, VirtualHost } from '../../core/model.ts';
import type { Step } from '../policies/pipeline.ts';
import { normaliseUriPath } from '../../core/normalise-uri-path.ts';
import { compilePathRegex } from '../../core/path-regex.ts';

/** What a request is routed to. */
export interface Match {
  /** Backend id (key into RouteTable.backends), or null: answer with the built-in 404. */
  readonly backend: string | null;
  /** The route that matched, or null when a default backend (or the 404) answers. */
  readonly route: Route | null;
  /** The VirtualHost chosen by the request host, or null when none applies. */
  readonly host: VirtualHost | null;
  /** The request-pipeline steps of the route (or of the host's unmatched paths); usually none. */
  readonly steps: readonly Step[];
  /** The request metrics' series of its labels (dataplane/observe/series.ts); 0 without RouterOptions.series. */
  readonly series: number;
}

export interface RouterOptions {
  /**
   * Run find-my-way's `compile()` (generated straight-line matchers; about twice as fast as
   * the tree walk, measured here). Default true. False keeps the interpreted tree walk; the
   * shared suite runs both against the reference matcher.
   */
  readonly compile?: boolean;
  /** Builds the steps of a route's (or a host's default) policies; default: none. */
  readonly steps?: (policies: RoutePolicies | undefined) => readonly Step[];
  /** The metrics series of a Match's backend and route (observe/series.ts); default: 0. A series never changes meaning, so a kept host keeps its Matches' series. */
  readonly series?: (backend: string | null, route: Route | null) => number;
  /** A host's matcher could not be built (a hand-made table): the host answers as if it had no route. Default: ignored. */
  readonly onError?: (err: unknown, host: string) => void;
}

const NO_STEPS: readonly Step[] = Object.freeze([]);
const noSteps = (): readonly Step[] => NO_STEPS;
const noSeries = (): number => 0;

/** Makes the frozen Match of a backend and route (null: a default backend) of a host. */
type MakeMatch = (backend: string | null, route: Route | null, host: VirtualHost | null, policies: RoutePolicies | undefined) => Match;

type FindMyWayInstance = ReturnType<typeof FindMyWay>;

/** One route of a host in regex mode. */
interface OrderedRoute {
  readonly test: (path: string) => boolean;
  readonly match: Match;
}

/** One VirtualHost, and its HostEntry once a request asked for it. Shared with the next router while the VirtualHost stays. */
interface HostSlot {
  readonly vh: VirtualHost;
  entry: HostEntry | null;
}

/** One VirtualHost, ready to serve: its path router (null when it has no routes) and its miss. */
interface HostEntry {
  readonly paths: FindMyWayInstance | null;
  /** A host in regex mode: its routes in the order they are tried (paths is null); else null. */
  readonly ordered: readonly OrderedRoute[] | null;
  /** Answer when no route of this host matches (host defaultBackend, else table default). */
  readonly miss: Match;
}

// Every route is registered under this one method and looked up with it: the HTTP method
// plays no part in Ingress routing, and find-my-way keeps one tree per method.
const METHOD = 'GET';
// find-my-way wants a handler per route; we only ever read the route's `store`.
const NO_HANDLER = (): void => {};
// find-my-way parses the query string of every match with querystring.parse by default; we do
// not need it (the proxy forwards the raw request-target), so skip that work on the hot path.
const NO_SEARCH_PARAMS = Object.freeze({});
const noSearchParams = (): object => NO_SEARCH_PARAMS;
// Stands for `%` inside find-my-way. A normal path is ASCII with `|` always encoded (%7C).
const PERCENT = '|';

/** The hosts a table diff (table-diff.ts) added or changed, and the names it removed. */
export interface HostChanges {
  readonly hosts: readonly VirtualHost[];
  readonly removedHosts: readonly string[];
}

export class Router {
  readonly #exact: Map<string, HostSlot>;
  /** Keyed by the suffix after `*.`: `*.foo.com` is under `foo.com`. */
  readonly #wildcard: Map<string, HostSlot>;
  #catchAll: HostSlot | null = null;
  readonly #noHost: Match;
  readonly #tableDefault: string | null;
  readonly #compile: boolean;
  readonly #make: MakeMatch;
  readonly #onError: ((err: unknown, host: string) => void) | undefined;

  /**
   * `previous`: the router of the table this one replaces, built with the same options; the hosts
   * whose VirtualHost object it shares keep their built matchers. `changes`: how `table` differs
   * from `previous`'s table; this router then takes over `previous`'s host maps (`previous` must
   * not be used any more) and changes the hosts in `changes` only.
   */
  constructor(table: RouteTable, options: RouterOptions = {}, previous?: Router, changes?: HostChanges) {
    this.#compile = options.compile ?? true;
    const steps = options.steps ?? noSteps;
    const series = options.series ?? noSeries;
    this.#make = (backend, route, host, policies) => Object.freeze({ backend, route, host, steps: host === null ? NO_STEPS : steps(policies), series: series(backend, route) });
    this.#onError = options.onError;
    this.#tableDefault = table.defaultBackend;
    this.#noHost = this.#make(table.defaultBackend, null, null, undefined);
    // A host's miss falls back to the table's default backend: another one rebuilds every host.
    const reuse = previous !== undefined && previous.#tableDefault === table.defaultBackend ? previous : null;
    if (reuse !== null && changes !== undefined && [...changes.removedHosts, ...changes.hosts.map((vh) => vh.host)].every(isLowerCase)) {
      this.#exact = reuse.#exact;
      this.#wildcard = reuse.#wildcard;
      this.#catchAll = reuse.#catchAll;
      for (const host of changes.removedHosts) this.#place(host, null);
      for (const vh of changes.hosts) this.#place(vh.host, { vh, entry: null });
      return;
    }
    this.#exact = new Map();
    this.#wildcard = new Map();
    const slot = (vh: VirtualHost, old: HostSlot | null | undefined): HostSlot => (old?.vh === vh ? old : { vh, entry: null });
    for (const vh of table.hosts) {
      // The model promises lower-case hosts; lower-casing again costs nothing at build time
      // and keeps a stray upper-case host from silently matching nothing.
      const name = vh.host.toLowerCase();
      // Hosts are unique after compile; should one repeat, the first (in table order) wins.
      if (name === '') {
        if (this.#catchAll === null) this.#catchAll = slot(vh, reuse && reuse.#catchAll);
      } else if (name.startsWith('*.')) {
        const suffix = name.slice(2);
        if (!this.#wildcard.has(suffix)) this.#wildcard.set(suffix, slot(vh, reuse && reuse.#wildcard.get(suffix)));
      } else if (!this.#exact.has(name)) {
        this.#exact.set(name, slot(vh, reuse && reuse.#exact.get(name)));
      }
    }
  }

  /** Puts `slot` in the place of host `name` (lower case), or takes the host out (null). */
  #place(name: string, slot: HostSlot | null): void {
    if (name === '') this.#catchAll = slot;
    else {
      const [map, key] = name.startsWith('*.') ? [this.#wildcard, name.slice(2)] : [this.#exact, name];
      if (slot === null) map.delete(key);
      else map.set(key, slot);
    }
  }

  /** The host's entry, built now if no request asked for it yet. */
  #entry(slot: HostSlot): HostEntry {
    if (slot.entry !== null) return slot.entry;
    try {
      slot.entry = buildHost(slot.vh, this.#tableDefault, this.#compile, this.#make);
    } catch (err) {
      this.#onError?.(err, slot.vh.host);
      slot.entry = { paths: null, ordered: null, miss: this.#make(slot.vh.defaultBackend ?? this.#tableDefault, null, slot.vh, undefined) };
    }
    return slot.entry;
  }

  /**
   * Routes one request. `host` is the raw Host header or `:authority` (any case, maybe a port,
   * a trailing dot, an IPv6 literal in brackets); `path` is the request path in normal form
   * (normaliseUriPath: no query). Returns one of the Match objects precomputed when the host was
   * built (its first request): nothing is allocated here beyond find-my-way's own result object, plus the normalised host
   * string when the raw one was not already normal, the suffix when a wildcard host is looked
   * for, and the path with PERCENT when it holds a `%`.
   */
  lookup(host: string, path: string): Match {
    const name = normaliseHost(host);
    let slot = this.#exact.get(name);
    if (slot === undefined) {
      if (this.#wildcard.size !== 0) {
        // One extra label only: `a.foo.com` looks for `*.foo.com`, `a.b.foo.com` for
        // `*.b.foo.com` (never `*.foo.com`), `foo.com` for `*.com`; `com` and `.foo.com` (empty
        // first label) for no wildcard at all.
        const dot = name.indexOf('.');
        if (dot > 0 && dot < name.length - 1) slot = this.#wildcard.get(name.slice(dot + 1));
      }
      if (slot === undefined) {
        if (this.#catchAll === null) return this.#noHost;
        slot = this.#catchAll;
      }
    }
    const entry = slot.entry ?? this.#entry(slot);
    // 47 is '/'. A normal path starts with it; anything else (never passed by the worker) misses.
    if (path.charCodeAt(0) !== 47) return entry.miss;
    const paths = entry.paths;
    if (paths === null) return entry.ordered === null ? entry.miss : firstMatch(entry.ordered, path, entry.miss);
    const found = paths.find(METHOD, path.includes('%') ? path.replaceAll('%', PERCENT) : path);
    return found === null ? entry.miss : (found.store as Match);
  }
}

/** Whether `host` is in lower case already (compile's hosts are). */
function isLowerCase(host: string): boolean {
  return host === host.toLowerCase();
}

function buildHost(vh: VirtualHost, tableDefault: string | null, compile: boolean, make: MakeMatch): HostEntry {
  const miss = make(vh.defaultBackend ?? tableDefault, null, vh, vh.defaultPolicies);
  if (vh.routes.some((r) => r.match === 'Regex')) return { paths: null, ordered: orderedRoutes(vh, make), miss };

  // find-my-way throws on a duplicate registration, and an Exact and a Prefix on the same path
  // both need the static node for that path: merge them per path first.
  const byPath = new Map<string, { exact: Route | null; prefix: Route | null }>();
  for (const route of vh.routes) {
    const path = routePath(route);
    if (path === null) continue;
    let slot = byPath.get(path);
    if (slot === undefined) {
      slot = { exact: null, prefix: null };
      byPath.set(path, slot);
    }
    // One route per (path, match) after compile; should one repeat, the first wins.
    if (route.match === 'Exact') slot.exact ??= route;
    else slot.prefix ??= route;
  }
  if (byPath.size === 0) return { paths: null, ordered: null, miss };

  const paths = FindMyWay({
    caseSensitive: true, // Exact is case-sensitive (Ingress spec); so is Prefix, element-wise
    ignoreTrailingSlash: false, // `/a/b/` is not Exact `/a/b`
    ignoreDuplicateSlashes: false, // normal paths hold no `//`
    querystringParser: noSearchParams,
    // maxParamLength does not matter: no parametric nodes are ever registered (`:` is escaped).
  });
  for (const [path, slot] of byPath) {
    // A `:` starts a parameter in find-my-way; `::` is a literal colon.
    const pattern = path.replaceAll('%', PERCENT).replaceAll(':', '::');
    // The path itself: Exact beats Prefix at equal path.
    const whole = slot.exact ?? slot.prefix;
    const wholeMatch = whole === null ? null : make(whole.backend, whole, vh, whole.policies);
    if (wholeMatch !== null) paths.on(METHOD, pattern, NO_HANDLER, wholeMatch);
    if (slot.prefix !== null) {
      // Prefix `/a/b` is the pair `/a/b` + `/a/b/*`. `/a/b/*` also matches `/a/b/` (the wildcard
      // may be empty) and never `/a/bc`. find-my-way tries a static child before the wildcard
      // and backtracks to the deepest wildcard passed on the way down, which is the longest
      // matching prefix: `/a/b/*` and `/a/*` with request `/a/bx` gives `/a/*` (pinned in
      // router.test.ts). Prefix `/` is `/*` (and `/`), which matches every path.
      const tail = pattern === '/' ? '/*' : pattern + '/*';
      // One Match (and one set of steps) per route, whichever of its two patterns matched.
      const prefixMatch = slot.prefix === whole ? wholeMatch! : make(slot.prefix.backend, slot.prefix, vh, slot.prefix.policies);
      paths.on(METHOD, tail, NO_HANDLER, prefixMatch);
    }
  }
  if (compile) paths.compile();
  return { paths, ordered: null, miss };
}

const RANK: Readonly<Record<Route['match'], number>> = { Exact: 0, Prefix: 1, Regex: 2 };

/** The routes of a host in regex mode, in ingress-nginx's order (see the header). */
function orderedRoutes(vh: VirtualHost, make: MakeMatch): OrderedRoute[] {
  const entries: { test: (path: string) => boolean; length: number; rank: number; path: string; match: Match }[] = [];
  for (const route of vh.routes) {
    let test: (path: string) => boolean;
    let length: number;
    if (route.match === 'Regex') {
      const re = compilePathRegex(route.path);
      if (typeof re === 'string') continue; // compile refuses it; a hand-made table might not
      test = re.test;
      length = route.path.length;
    } else {
      const p = routePath(route);
      if (p === null) continue;
      length = p.length;
      if (route.match === 'Exact') test = (path) => path === p;
      else if (p === '/') test = () => true;
      else test = (path) => path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47);
    }
    entries.push({ test, length, rank: RANK[route.match], path: route.path, match: make(route.backend, route, vh, route.policies) });
  }
  entries.sort((a, b) => b.length - a.length || a.rank - b.rank || (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
  return entries.map(({ test, match }) => ({ test, match }));
}

function firstMatch(ordered: readonly OrderedRoute[], path: string, miss: Match): Match {
  for (let i = 0; i < ordered.length; i++) if (ordered[i]!.test(path)) return ordered[i]!.match;
  return miss;
}

/**
 * The path a route is registered under, in normal form, or null for a route no request can
 * reach here. Compile already gives normal paths that start with `/`, hold no `*`, and Prefix
 * paths without a trailing slash; this stays safe if one slips through (a hand-made table): a
 * path that does not normalise can equal no request path, and a `*` cannot be expressed to
 * find-my-way (it would be a wildcard), so both are skipped rather than failing the whole table.
 */
function routePath(route: Route): string | null {
  let path = normaliseUriPath(route.path);
  if (path === null || path.includes('*')) return null;
  if (route.match === 'Prefix' && path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path;
}

/**
 * Lower case, port dropped (`[::1]:8080` keeps its brackets), one trailing dot dropped
 * (`example.com.` is the same name as `example.com`). Returns `raw` itself, allocating
 * nothing, when it is already normal, which is the common case.
 */
export function normaliseHost(raw: string): string {
  let end = raw.length;
  let lower = false;
  if (raw.charCodeAt(0) === 91) {
    // '[': an IPv6 literal; the port, if any, follows the ']'.
    const close = raw.indexOf(']');
    if (close !== -1) end = close + 1;
    for (let i = 1; i < end; i++) {
      const c = raw.charCodeAt(i);
      if ((c >= 65 && c <= 90) || c > 127) lower = true;
    }
  } else {
    for (let i = 0; i < end; i++) {
      const c = raw.charCodeAt(i);
      if (c === 58) end = i; // ':' starts the port (and ends the loop)
      else if ((c >= 65 && c <= 90) || c > 127) lower = true;
    }
  }
  if (end > 0 && raw.charCodeAt(end - 1) === 46) end--; // '.'
  const host = end === raw.length ? raw : raw.slice(0, end);
  return lower ? host.toLowerCase() : host;
}
