// `explain`: what Gatehouse does with one URL, and why (issue 11 item 4; docs/debugging.md). The
// same code answers `/debug/explain?url=…` on the admin server (from the table the workers serve,
// with live health) and `gatehouse explain --manifests DIR URL` (from one compile, health unknown).
//
// It cannot drift from the workers: the answer comes from the real router (dataplane/router) on
// the served table after the real normaliser (core/normalise-uri-path.ts), the ssl-redirect from
// the worker's own rule and Location builder, and the redirect and rewrite steps are the
// pipeline's own, run on a request context that records what they would answer or send upstream.
// The rest is description: why each other candidate (host, path, a route that lost a conflict)
// does not serve the URL, the policies in pipeline order, and the endpoints with their health.
//
// Never shows Secret material: the table holds only `namespace/name` references to Secrets, and
// nothing here reads a Secret.

import type { CanaryPolicy, Condition, EndpointTable, Route, RoutePolicies, RouteTable, VirtualHost } from '../core/model.ts';
import { normaliseUriPath } from '../core/normalise-uri-path.ts';
import { compilePathRegex } from '../core/path-regex.ts';
import type { KubeObject } from '../core/snapshot.ts';
import { RequestContext } from '../dataplane/policies/pipeline.ts';
import { redirectStep } from '../dataplane/policies/redirect.ts';
import { rewriteStep, sslRedirectTarget } from '../dataplane/policies/rewrite.ts';
import type { ProxyRequest, ProxyResponse } from '../dataplane/proxy/proxy.ts';
import { httpsLocation, isAcmeChallenge } from '../dataplane/proxy/redirect.ts';
import { normaliseHost, Router, type Match } from '../dataplane/router/router.ts';
import { backendReport, type BackendReport } from './backend-report.ts';

/** What explain reads: the served state (admin server) or one compile's (CLI). */
export interface ExplainState {
  readonly table: RouteTable;
  readonly endpoints: EndpointTable | null;
  readonly conditions: readonly Condition[];
  /** The Ingress objects as read (to relate conditions to the URL's host). */
  readonly ingresses: readonly KubeObject[];
  /** --https-redirect-port: the port an ssl-redirect Location names. */
  readonly httpsRedirectPort: number;
  /** Active checks per backend (HealthChecker.status()); null: not known here (the CLI runs none). */
  readonly active: Readonly<Record<string, readonly { endpoint: string; healthy: boolean; streak: number }[]>> | null;
  /** Passive health per backend (the workers' ejection table); null: not known here. */
  readonly passive: Readonly<Record<string, readonly { endpoint: string; failures: number; ejections: number; ejectedForMs: number }[]>> | null;
}

export interface Candidate {
  readonly path: string;
  readonly match: Route['match'];
  readonly ingress: string;
  /** Why it serves the URL, or why not. */
  readonly why: string;
}

export interface PolicyReport {
  /** The pipeline step (redirect, access-list, rate-limit, cors, external-auth, basic-auth, satisfy, body-size, canary, rewrite, headers, balance, upstream). */
  readonly step: string;
  readonly summary: string;
  /** What it does to this URL, when that is known without the client (a redirect's answer, the rewritten target). */
  readonly effect?: string;
}

export interface Explanation {
  readonly url: string;
  readonly scheme: 'http' | 'https';
  readonly host: string;
  /** The request-target as the client would send it, and the path routing sees. */
  readonly target: string;
  readonly path: string | null;
  /** The answer in one line: `400 …`, `308 to …`, `forwarded to …`, `404 …`. */
  readonly answer: string;
  readonly generation: number;
  readonly hostMatch: { readonly host: string | null; readonly kind: 'exact' | 'wildcard' | 'catch-all' | 'none'; readonly why: string; readonly others: readonly string[] };
  /** The route that matched; null when a default backend or the 404 answers. */
  readonly route: Candidate | null;
  /** The other routes of the host near the path, and why each does not serve it. */
  readonly candidates: readonly Candidate[];
  /** Problems of the Ingresses that name this host (routes that lost a conflict, Ingresses left out). */
  readonly conditions: readonly { readonly ingress: string; readonly code: string; readonly field: string; readonly message: string }[];
  readonly sslRedirect: { readonly applies: boolean; readonly why: string };
  readonly policies: readonly PolicyReport[];
  readonly backend: BackendReport | null;
  readonly canaryBackend: BackendReport | null;
}

const routers = new WeakMap<RouteTable, Router>();

/** The router the workers build for `table` (without steps: explain runs the ones it shows itself). */
function routerFor(table: RouteTable): Router {
  let r = routers.get(table);
  if (r === undefined) routers.set(table, (r = new Router(table)));
  return r;
}

/** Splits `https://host[:port]/target`; a URL without a scheme is taken as http. Null: no host. */
function splitUrl(url: string): { scheme: 'http' | 'https'; host: string; target: string } | null {
  const m = /^(?:(https?):\/\/)?([^/?#\s]+)([^\s#]*)/i.exec(url.trim());
  if (m === null) return null;
  const target = m[3] === '' ? '/' : m[3]!.startsWith('/') ? m[3]! : `/${m[3]}`;
  return { scheme: (m[1]?.toLowerCase() ?? 'http') as 'http' | 'https', host: m[2]!, target };
}

export function explain(state: ExplainState, url: string): Explanation | { error: string } {
  const parts = splitUrl(url);
  if (parts === null) return { error: `not a URL: ${JSON.stringify(url)} (expected https://host/path)` };
  const { scheme, host, target } = parts;
  const table = state.table;
  const name = normaliseHost(host);
  const path = normaliseUriPath(target);
  const base = { url, scheme, host, target, path, generation: table.generation };
  const hostMatch = describeHost(table, name);
  const conditions = conditionsFor(state, name);
  if (path === null) {
    return { ...base, answer: '400 Bad Request: the path has a malformed %-escape or climbs above the root (core/normalise-uri-path.ts)', hostMatch, route: null, candidates: [], conditions, sslRedirect: { applies: false, why: 'answered 400 before routing' }, policies: [], backend: null, canaryBackend: null };
  }
  const match = routerFor(table).lookup(host, path);
  const vh = match.host;
  const route = match.route === null ? null : { ...candidateOf(match.route), why: whyMatches(match.route, path, vh) };
  const candidates = vh === null ? [] : nearRoutes(vh, path, match.route);

  const wantsHttps = match.route?.sslRedirect ?? vh?.sslRedirect ?? false;
  const redirectApplies = scheme === 'http' && wantsHttps && !isAcmeChallenge(target);
  const sslRedirect = {
    applies: redirectApplies,
    why: !wantsHttps ? 'off for this route (no TLS for the host, or ssl-redirect: "false")'
      : scheme === 'https' ? 'on, and the request is already https'
      : isAcmeChallenge(target) ? 'on, but ACME HTTP-01 challenges are never redirected'
      : 'on: plain HTTP answers 308 to https (ssl-redirect / force-ssl-redirect)',
  };
  const policies = policyReports(match.route?.policies ?? vh?.defaultPolicies, match, scheme, host, target, path, table);
  const backend = match.backend === null ? null : backendReport(state, match.backend);
  const canary = (match.route?.policies ?? vh?.defaultPolicies)?.canary;
  const canaryBackend = canary === undefined ? null : backendReport(state, canary.backend);

  let answer: string;
  const answered = policies.find((p) => p.effect?.startsWith('answers'));
  if (redirectApplies) {
    const location = httpsLocation(host, sslRedirectTarget(match, target), state.httpsRedirectPort);
    answer = location === null ? '400 Bad Request: the host is not fit for a Location' : `308 Permanent Redirect to ${location}`;
  } else if (answered !== undefined) answer = `${answered.effect!.slice('answers '.length)} (${answered.step})`;
  else if (match.backend === null) answer = '404 Not Found: no route, no default backend (the built-in 404)';
  else {
    const via = match.route === null ? (vh?.defaultBackend === match.backend ? "the host's default backend" : 'the default backend') : `${match.route.match} ${match.route.path}`;
    answer = `forwarded to ${match.backend} (${via})${canary ? `, or to the canary ${canary.backend} as its rules say` : ''}`;
  }
  return { ...base, answer, hostMatch, route, candidates, conditions, sslRedirect, policies, backend, canaryBackend };
}

// ---- hosts --------------------------------------------------------------------------------

function describeHost(table: RouteTable, name: string): Explanation['hostMatch'] {
  const hosts = new Set(table.hosts.map((h) => h.host));
  const dot = name.indexOf('.');
  const wildcard = dot > 0 && dot < name.length - 1 ? `*.${name.slice(dot + 1)}` : null;
  const others: string[] = [];
  // Wildcards one label too short or too long: `*.foo.com` never matches `a.b.foo.com`.
  for (const h of hosts) {
    if (h.startsWith('*.') && h !== wildcard && name.endsWith(h.slice(1))) others.push(`${h}: a wildcard matches exactly one label, and ${name} has more before .${h.slice(2)}`);
  }
  if (hosts.has(name)) {
    if (wildcard !== null && hosts.has(wildcard)) others.unshift(`${wildcard}: matches too, but an exact host beats a wildcard`);
    if (hosts.has('')) others.push('the catch-all (rules with no host): only for hosts nothing else matches');
    return { host: name, kind: 'exact', why: `the exact host ${name}`, others };
  }
  if (wildcard !== null && hosts.has(wildcard)) {
    if (hosts.has('')) others.push('the catch-all (rules with no host): only for hosts nothing else matches');
    return { host: wildcard, kind: 'wildcard', why: `no Ingress names ${name}; the wildcard ${wildcard} matches its one extra label`, others };
  }
  if (hosts.has('')) return { host: '', kind: 'catch-all', why: `no Ingress names ${name}${wildcard ? ` or ${wildcard}` : ''}; the rules with no host match any other host`, others };
  return { host: null, kind: 'none', why: `no Ingress names ${name}${wildcard ? ` or ${wildcard}` : ''}, and none has rules without a host: ${table.defaultBackend ? `the default backend ${table.defaultBackend} answers` : 'the built-in 404 answers'}`, others };
}

/** The conditions of the Ingresses whose rules name this host (or a wildcard of it), or no host. */
function conditionsFor(state: ExplainState, name: string): Explanation['conditions'] {
  const ingresses = new Set<string>();
  for (const ing of state.ingresses) {
    const rules = (ing.spec as { rules?: { host?: unknown }[] } | undefined)?.rules;
    if (!Array.isArray(rules)) continue;
    if (rules.some((r) => hostNamesUrl(typeof r?.host === 'string' ? r.host.toLowerCase() : '', name))) ingresses.add(`${ing.metadata.namespace}/${ing.metadata.name}`);
  }
  return state.conditions
    .filter((c) => c.ref.kind === 'Ingress' && ingresses.has(`${c.ref.namespace}/${c.ref.name}`))
    .map((c) => ({ ingress: `${c.ref.namespace}/${c.ref.name}`, code: c.code, field: c.field, message: c.message }));
}

function hostNamesUrl(ruleHost: string, name: string): boolean {
  if (ruleHost === '' || ruleHost === name) return true;
  if (!ruleHost.startsWith('*.')) return false;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === ruleHost.slice(2);
}

// ---- paths --------------------------------------------------------------------------------

function candidateOf(r: Route): Omit<Candidate, 'why'> {
  return { path: r.path, match: r.match, ingress: r.ingress };
}

/** Whether `r` matches `path` by its own rule (the router decides among those that do). */
function routeMatches(r: Route, path: string): boolean {
  if (r.match === 'Exact') return path === r.path;
  if (r.match === 'Prefix') return r.path === '/' || path === r.path || path.startsWith(`${r.path}/`);
  return regexMatches(r, path);
}

function regexMatches(r: Route, path: string): boolean {
  // The router's own test (core/path-regex.ts: RE2, anchored at the start, ignoring case).
  const re = compilePathRegex(r.path);
  return typeof re !== 'string' && re.test(path);
}

function whyMatches(r: Route, path: string, vh: VirtualHost | null): string {
  const regexHost = vh?.routes.some((x) => x.match === 'Regex') ?? false;
  const rule = r.match === 'Exact' ? `Exact ${r.path}: the whole path is ${path}`
    : r.match === 'Prefix' ? (r.path === '/' ? 'Prefix /: matches every path' : `Prefix ${r.path}: ${path} starts with it, element-wise on /`)
    : `Regex ${r.path}: matches the start of ${path}, ignoring case`;
  return regexHost ? `${rule}; the host is in regex mode (use-regex or rewrite-target), so its routes are tried by descending path length and this is the first that matches` : `${rule}; the longest matching path wins, Exact before Prefix at equal length`;
}

/** Routes of the host that match too (and lose), or share more than `/` with the path, with why not. */
function nearRoutes(vh: VirtualHost, path: string, chosen: Route | null): Candidate[] {
  const regexHost = vh.routes.some((x) => x.match === 'Regex');
  const out: Candidate[] = [];
  for (const r of vh.routes) {
    if (r === chosen) continue;
    const matches = routeMatches(r, path);
    if (!matches && !sharesPrefix(r.path, path)) continue;
    let why: string;
    if (matches) {
      why = chosen === null ? 'matches, yet the router chose no route (report this)'
        : regexHost ? `matches too, but ${chosen.match} ${chosen.path} comes first in regex order (longer path first; at equal length Exact, Prefix, then Regex)`
        : r.path === chosen.path ? `matches too, but at equal path ${chosen.match} beats ${r.match}`
        : `matches too, but ${chosen.path} is longer (the longest path wins)`;
    } else if (r.match === 'Exact') why = `Exact: the path must be exactly ${r.path}${path.startsWith(r.path) ? ' (a longer path needs Prefix)' : ''}`;
    else if (r.match === 'Prefix') why = path.startsWith(r.path) ? `Prefix matches whole segments: ${path} continues ${r.path} inside a segment` : `Prefix: ${path} does not start with ${r.path}`;
    else why = `Regex: does not match the start of ${path}`;
    out.push({ ...candidateOf(r), why });
    if (out.length === 20) break;
  }
  return out;
}

function sharesPrefix(routePath: string, path: string): boolean {
  const a = routePath.replace(/^\^/, '').toLowerCase();
  const b = path.toLowerCase();
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i > 1;
}

// ---- policies -----------------------------------------------------------------------------

/** A request context the redirect and rewrite steps can run on: what they answer is recorded. */
function probeContext(scheme: 'http' | 'https', host: string, target: string, path: string): { ctx: RequestContext; answer: () => string | null } {
  const req = { headers: { host } } as unknown as ProxyRequest;
  const ctx = new RequestContext(req, null as unknown as ProxyResponse, false, scheme, host, target, path, '');
  let answered: string | null = null;
  ctx.respond = (status, headers) => {
    answered = `${status}${headers?.location ? ` to ${headers.location}` : ''}`;
  };
  return { ctx, answer: () => answered };
}

function policyReports(p: RoutePolicies | undefined, match: Match, scheme: 'http' | 'https', host: string, target: string, path: string, table: RouteTable): PolicyReport[] {
  const out: PolicyReport[] = [];
  const upstream = match.route?.upstream ?? match.host?.defaultUpstream;
  const satisfy = p?.satisfy === 'any' ? ' (satisfy any: access lists OR authentication admit)' : '';
  if (p?.clientCert !== undefined) {
    // First: nginx verifies the client certificate as the request arrives, before any phase.
    const c = p.clientCert;
    const failure = c.errorPage ? `302 to ${c.errorPage}` : '400';
    out.push({
      step: 'client-cert',
      summary: `auth-tls-verify-client ${c.verify} against the CA bundle of Secret ${c.secret.ref} (depth ${c.depth}): ${c.verify === 'on' ? `no valid certificate → ${failure}` : `a certificate that fails → ${failure}`}${c.matchCn ? `; subject must match ${c.matchCn}, else 403` : ''}${c.passCertificate ? '; the certificate goes upstream (ssl-client-cert)' : ''}`,
      // Plain HTTP presents no certificate: `on` refuses it (dataplane/policies/client-cert.ts).
      ...(scheme === 'http' && c.verify === 'on' ? { effect: `answers ${failure}: plain HTTP presents no certificate` } : {}),
    });
  }
  if (p?.redirect !== undefined) {
    const { ctx, answer } = probeContext(scheme, host, target, path);
    redirectStep(p.redirect)(ctx);
    const r = p.redirect;
    const summary = r.to ? `${r.to.code} to ${r.to.url} (permanent/temporal-redirect)` : r.host ? `${r.host.code} to the host ${r.host.host} (from-to-www-redirect)` : `app-root: / answers 302 to ${r.appRoot}`;
    const a = answer();
    out.push({ step: 'redirect', summary, effect: a === null ? 'does not apply to this path' : `answers ${a}` });
  }
  if (p?.accessList !== undefined) {
    const { allow, deny } = p.accessList;
    out.push({ step: 'access-list', summary: `${deny ? `deny ${deny.join(', ')}; ` : ''}${allow ? `allow only ${allow.join(', ')}` : ''} (403 otherwise)${satisfy}` });
  }
  if (p?.rateLimit !== undefined) {
    const r = p.rateLimit;
    const limits = [r.rps ? `${r.rps} req/s` : '', r.rpm ? `${r.rpm} req/min` : '', r.connections ? `${r.connections} connections` : '', r.rate ? `${r.rate} B/s per response after ${r.rateAfter} B` : ''].filter(Boolean);
    out.push({ step: 'rate-limit', summary: `per client IP, zone ${r.zone}: ${limits.join(', ')}${r.rps || r.rpm ? ` (burst ×${r.burstMultiplier}, over it: ${r.reqStatus})` : ''}${r.whitelist.length ? `; exempt ${r.whitelist.join(', ')}` : ''}` });
  }
  if (p?.cors !== undefined) {
    const c = p.cors;
    out.push({ step: 'cors', summary: `origins ${c.origins === '*' ? '*' : c.origins.join(', ')}; methods ${c.methods}; credentials ${c.credentials}; preflights (OPTIONS) answer 204` });
  }
  if (p?.externalAuth !== undefined) {
    const a = p.externalAuth;
    const text = (parts: typeof a.url.path) => parts.map((x) => ('text' in x ? x.text : `$${x.kind}${'name' in x ? `_${x.name}` : ''}`)).join('');
    out.push({ step: 'external-auth', summary: `${a.method ?? 'GET'} ${a.url.scheme}://${text(a.url.authority)}${text(a.url.path)} first: 2xx goes on, 401/403 answered${a.signin ? ' (401 redirects to auth-signin)' : ''}${satisfy}` });
  }
  if (p?.basicAuth !== undefined) {
    const b = p.basicAuth;
    out.push({ step: 'basic-auth', summary: `users from Secret ${b.secret.ref} (${b.secretType}), realm "${b.realm}": no valid credentials → 401${satisfy}` });
  }
  if (match.backend === null) return out;
  const bodySize = p?.bodySize ?? table.proxyBodySize;
  out.push({ step: 'body-size', summary: bodySize === 0 ? 'no limit (proxy-body-size: 0)' : `bodies over ${bodySize ?? 1048576} bytes answer 413${p?.bodySize === undefined ? ' (the default)' : ''}` });
  if (p?.canary !== undefined) out.push({ step: 'canary', summary: canarySummary(p.canary) });
  if (p?.rewrite !== undefined) {
    const { ctx } = probeContext(scheme, host, target, path);
    rewriteStep(p.rewrite)(ctx);
    const r = p.rewrite;
    const effect = [ctx.upstreamTarget !== null ? `upstream target ${ctx.upstreamTarget}` : '', ctx.upstreamHost !== null ? `Host ${ctx.upstreamHost}` : '', ctx.upstreamHeaders ? `X-Forwarded-Prefix ${ctx.upstreamHeaders[1]}` : ''].filter(Boolean).join('; ');
    out.push({ step: 'rewrite', summary: [r.target ? `rewrite-target ${r.target}` : '', r.pattern ? `groups of ${r.pattern}` : '', r.upstreamVhost ? `upstream-vhost ${r.upstreamVhost}` : '', r.xForwardedPrefix ? `x-forwarded-prefix ${r.xForwardedPrefix}` : ''].filter(Boolean).join(', '), effect: effect || 'nothing changes for this URL' });
  }
  if (p?.headers !== undefined) {
    const names = (l: readonly (readonly [string, string])[] | undefined) => (l ?? []).map(([n, v]) => `${n}: ${v}`).join(', ');
    out.push({ step: 'headers', summary: [p.headers.request ? `request ${names(p.headers.request)}` : '', p.headers.response ? `response ${names(p.headers.response)}` : ''].filter(Boolean).join('; ') });
  }
  if (p?.errorPages !== undefined && (p.errorPages.codes.length > 0 || p.errorPages.backend !== null)) {
    const e = p.errorPages;
    out.push({ step: 'error-pages', summary: `${e.codes.length ? `answers ${e.codes.join(', ')} are replaced by ${e.backend ?? 'the default backend'}'s` : ''}${e.backend ? `${e.codes.length ? '; ' : ''}${e.backend} serves while the backend has no ready endpoint` : ''}` });
  }
  if (p?.balance !== undefined) out.push({ step: 'balance', summary: p.balance.algorithm === 'cookie' ? `cookie affinity (${p.balance.cookie.name}, ${p.balance.mode})` : p.balance.algorithm === 'hash' ? `consistent hash${p.balance.subset ? ` over subsets of ${p.balance.subset}` : ''}` : p.balance.algorithm });
  else out.push({ step: 'balance', summary: 'round robin (the default)' });
  if (upstream !== undefined) {
    const tls = upstream.tls;
    out.push({ step: 'upstream', summary: `${upstream.protocol}${tls ? `; TLS verify ${tls.verify}, name ${tls.name}${tls.secret ? `, Secret ${tls.secret.ref}` : ''}` : ''}${upstream.forward ? `; connect ${upstream.forward.connectTimeoutMs} ms, read ${upstream.forward.readTimeoutMs} ms, tries ${upstream.forward.tries || 'one per endpoint'} on ${upstream.forward.nextUpstream.join(' ') || 'nothing'}` : ''}` });
  }
  return out;
}

function canarySummary(c: CanaryPolicy): string {
  const rules: string[] = [];
  if (c.header) rules.push(`header ${c.header.name} ${c.header.value !== undefined ? `= "${c.header.value}"` : c.header.pattern !== undefined ? `~ /${c.header.pattern}/` : 'always|never'} → canary`);
  if (c.cookie) rules.push(`cookie ${c.cookie} always|never`);
  rules.push(`else ${c.weight} of ${c.weightTotal} of the rest at random`);
  return `Ingress ${c.ingress} sends to ${c.backend}: ${rules.join('; then ')}`;
}

// ---- text ---------------------------------------------------------------------------------

export function renderExplanation(e: Explanation | { error: string }): string {
  if ('error' in e) return `explain: ${e.error}\n`;
  const lines: string[] = [];
  lines.push(`${e.url}`, `  answer: ${e.answer}`, `  generation ${e.generation}; request-target ${e.target}; path as routed ${e.path ?? '(refused)'}`, '');
  lines.push(`host: ${e.hostMatch.why}`);
  for (const o of e.hostMatch.others) lines.push(`  not ${o}`);
  lines.push('', 'path:');
  lines.push(e.route ? `  ✔ ${e.route.match} ${e.route.path} (Ingress ${e.route.ingress}): ${e.route.why}` : '  no route matches');
  for (const c of e.candidates) lines.push(`  ✘ ${c.match} ${c.path} (Ingress ${c.ingress}): ${c.why}`);
  if (e.conditions.length) {
    lines.push('', 'problems of the Ingresses naming this host:');
    for (const c of e.conditions) lines.push(`  ${c.code} ${c.ingress} ${c.field}: ${c.message}`);
  }
  lines.push('', `ssl-redirect: ${e.sslRedirect.why}`);
  if (e.policies.length) {
    lines.push('', 'policies, in pipeline order:');
    for (const p of e.policies) lines.push(`  ${p.step}: ${p.summary}${p.effect ? `\n    → ${p.effect}` : ''}`);
  }
  const backend = (title: string, b: BackendReport | null) => {
    if (b === null) return;
    lines.push('', `${title}: ${b.id} (${b.target}); ${b.health}`);
    if (b.endpoints.length === 0) lines.push('  no ready endpoint: 503');
    for (const ep of b.endpoints) lines.push(`  ${ep.address}:${ep.port} ${ep.state}: ${ep.why}`);
  };
  backend('backend', e.backend);
  backend('canary backend', e.canaryBackend);
  return `${lines.join('\n')}\n`;
}
