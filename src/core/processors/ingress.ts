// Ingress rules and paths → candidate routes and default backends, with conditions for
// what is malformed. Semantics: Kubernetes docs "Ingress" (path types, hostname wildcards)
// and DESIGN.md "Kubernetes semantics".

import type { Condition, MatchType } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import type { ErrorCode } from '../../errors.ts';
import { normaliseUriPath } from '../normalise-uri-path.ts';
import { arr, isRecord, rec, str } from './fields.ts';
import { parseIp } from '../ip-address.ts';
import { isRegexPathText } from '../path-regex.ts';

export interface BackendRef {
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
}

export interface RouteCandidate {
  readonly host: string;
  readonly path: string;
  /** Regex here: an ImplementationSpecific path that only a host in regex mode can serve. */
  readonly match: MatchType;
  /** The path as written ('/' for an ImplementationSpecific path that has none). */
  readonly written: string;
  /** pathType ImplementationSpecific: a Regex route on a host in regex mode (compile decides). */
  readonly implementationSpecific: boolean;
  readonly backend: BackendRef;
  readonly ingress: KubeObject;
  readonly field: string;
}

export interface DefaultCandidate {
  readonly host: string;
  readonly backend: BackendRef;
  readonly ingress: KubeObject;
  readonly field: string;
}

export interface IngressOutput {
  routes: RouteCandidate[];
  defaults: DefaultCandidate[];
  /** Hosts named by rules, even rules with no paths: a named host owns its requests. */
  hosts: Set<string>;
}

const LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const DNS_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
// RFC 3986 path characters (pchar and '/'); '*' is refused because it has no meaning in
// Exact or Prefix paths and users write `/api/*` expecting a glob.
const PATH = /^\/[A-Za-z0-9\-._~!$&'()+,;=:@%/]*$/;
const PCT = /%(?![0-9A-Fa-f]{2})/;

export function ingressRef(ing: KubeObject) {
  return { kind: 'Ingress' as const, namespace: ing.metadata.namespace, name: ing.metadata.name };
}

export function condition(ing: KubeObject, code: ErrorCode, field: string, message: string): Condition {
  return { ref: ingressRef(ing), code, field, message };
}

/** A lower-case RFC 1123 subdomain, as Kubernetes' IsDNS1123Subdomain reads it. */
export function isDnsName(name: string): boolean {
  return name.length <= 253 && DNS_NAME.test(name);
}

/** Lower-cases and validates a host (never ''), `*.` and one label allowed in front; null when invalid. */
export function normaliseHost(host: string): string | null {
  const h = host.toLowerCase();
  return h.length <= 253 && isDnsName(h.startsWith('*.') ? h.slice(2) : h) ? h : null;
}

export type RuleHost = { readonly ok: true; readonly host: string } | { readonly ok: false; readonly message: string };

/**
 * A rule's host: lower case, '' when it has none; or why it is refused. As the API server
 * (networking/v1 validateIngressRules), an IP address is refused before the DNS grammar is
 * checked: a rule applies to names, and the IP of the Ingress is its load balancer's.
 */
export function readRuleHost(raw: unknown): RuleHost {
  if (raw === undefined || raw === null || raw === '') return { ok: true, host: '' };
  if (typeof raw === 'string' && parseIp(raw) !== null) {
    return { ok: false, message: `host ${JSON.stringify(raw)} is an IP address; a rule host must be a DNS name, as the Kubernetes API requires` };
  }
  const host = typeof raw === 'string' ? normaliseHost(raw) : null;
  return host === null ? { ok: false, message: `host ${JSON.stringify(raw)} is not a DNS name or a one-label wildcard like *.example.com` } : { ok: true, host };
}

export interface PathRead {
  readonly path: string;
  readonly match: MatchType;
  readonly written: string;
  readonly implementationSpecific: boolean;
}

/**
 * Validates and normalises one path; a string is the reason it is invalid. An
 * ImplementationSpecific path holding regex syntax reads as Regex (the pattern as written), for
 * compile to serve on a host in regex mode or refuse.
 */
export function normalisePath(pathType: unknown, path: unknown): PathRead | string {
  if (pathType !== 'Exact' && pathType !== 'Prefix' && pathType !== 'ImplementationSpecific') {
    return pathType === undefined ? 'pathType is required' : `pathType ${JSON.stringify(pathType)} is not Exact, Prefix or ImplementationSpecific`;
  }
  // ImplementationSpecific with no path means "/" (ingress-nginx); Exact and Prefix require one.
  const p = path === undefined && pathType === 'ImplementationSpecific' ? '/' : path;
  if (typeof p !== 'string' || p === '') return `path is required for pathType ${pathType}`;
  const implementationSpecific = pathType === 'ImplementationSpecific';
  if (!PATH.test(p)) {
    if (implementationSpecific && isRegexPathText(p)) return { path: p, match: 'Regex', written: p, implementationSpecific };
    return `path ${JSON.stringify(p)} must start with "/" and hold only RFC 3986 path characters (no "*", "?", "#" or spaces)${implementationSpecific ? ', or be a regular expression of letters, digits, "-._~/:@!\',;" and "^$[](){}*+?|&=\\"' : ''}`;
  }
  if (PCT.test(p)) return `path ${JSON.stringify(p)} has a "%" that does not start a percent-escape`;
  // The route keeps the normal form requests are matched in (normalise-uri-path.ts), so
  // `/a/%7Eb`, `/a//~b` and `/a/./~b` are one path (and one conflict).
  const normal = normaliseUriPath(p);
  if (normal === null) {
    // `/../x` is no path, but it is a regex (slash, two characters, `/x`).
    if (implementationSpecific && isRegexPathText(p)) return { path: p, match: 'Regex', written: p, implementationSpecific };
    return `path ${JSON.stringify(p)} climbs above the root with ".."`;
  }
  if (pathType === 'Exact') return { path: normal, match: 'Exact', written: p, implementationSpecific };
  // Prefix matching is element-wise and ignores a trailing slash (Kubernetes docs, "Examples").
  return { path: normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal, match: 'Prefix', written: p, implementationSpecific };
}

/** Parses an IngressBackend; a string is the reason it is invalid. */
export function parseBackend(namespace: string, backend: unknown): BackendRef | string {
  if (!isRecord(backend)) return 'backend is missing';
  if (backend.resource !== undefined) return 'resource backends are not supported; name a Service';
  const service = rec(backend.service);
  const name = str(service.name);
  if (name === undefined || name === '') return 'backend.service.name is required';
  const port = rec(service.port);
  if (port.number !== undefined) {
    const n = port.number;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return `backend.service.port.number ${JSON.stringify(n)} is not a port (1-65535)`;
    return { namespace, service: name, port: n };
  }
  const portName = str(port.name);
  if (portName === undefined || portName === '') return 'backend.service.port needs a number or a name';
  return { namespace, service: name, port: portName };
}

function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

/**
 * The first structural field of the wrong type, or null. Such an Ingress is left out whole
 * (GH_OBJECT_INVALID): reading `rules: "..."` as "no rules" would turn its defaultBackend
 * into the cluster's catch-all, and `paths: {...}` as "no paths" would claim the host with
 * no routes. null counts as absent, as in the Kubernetes API.
 */
function shapeProblem(ing: KubeObject): { field: string; message: string } | null {
  if (!absent(ing.spec) && !isRecord(ing.spec)) return { field: 'spec', message: 'spec is not a mapping' };
  const rules = rec(ing.spec).rules;
  if (!absent(rules) && !Array.isArray(rules)) return { field: 'spec.rules', message: 'spec.rules is not a list' };
  for (const [i, rule] of arr(rules).entries()) {
    const field = `spec.rules[${i}]`;
    if (!isRecord(rule)) return { field, message: `${field} is not a mapping` };
    if (absent(rule.http)) continue;
    if (!isRecord(rule.http)) return { field: `${field}.http`, message: `${field}.http is not a mapping` };
    const paths = rule.http.paths;
    if (!absent(paths) && !Array.isArray(paths)) return { field: `${field}.http.paths`, message: `${field}.http.paths is not a list` };
    for (const [j, path] of arr(paths).entries()) {
      if (!isRecord(path)) return { field: `${field}.http.paths[${j}]`, message: `${field}.http.paths[${j}] is not a mapping` };
    }
  }
  return null;
}

/** Everything one owned Ingress asks for. */
export function readIngress(ing: KubeObject, out: IngressOutput, conditions: Condition[]): void {
  const problem = shapeProblem(ing);
  if (problem !== null) {
    conditions.push(condition(ing, 'GH_OBJECT_INVALID', problem.field, `${problem.message}; the Ingress is left out`));
    return;
  }
  const ns = ing.metadata.namespace;
  const spec = rec(ing.spec);
  const rules = arr(spec.rules);
  const ownHosts: string[] = [];

  rules.forEach((rawRule, i) => {
    const rule = rec(rawRule);
    const field = `spec.rules[${i}]`;
    const read = readRuleHost(rule.host);
    if (!read.ok) {
      conditions.push(condition(ing, 'GH_INGRESS_HOST_INVALID', `${field}.host`, read.message));
      return;
    }
    const host = read.host;
    ownHosts.push(host);
    out.hosts.add(host);
    arr(rec(rule.http).paths).forEach((rawPath, j) => {
      const p = rec(rawPath);
      const pfield = `${field}.http.paths[${j}]`;
      const norm = normalisePath(p.pathType, p.path);
      if (typeof norm === 'string') {
        const code = norm.startsWith('pathType') ? 'GH_INGRESS_PATH_TYPE_INVALID' : 'GH_INGRESS_PATH_INVALID';
        conditions.push(condition(ing, code, code === 'GH_INGRESS_PATH_TYPE_INVALID' ? `${pfield}.pathType` : `${pfield}.path`, norm));
        return;
      }
      const backend = parseBackend(ns, p.backend);
      if (typeof backend === 'string') {
        conditions.push(condition(ing, 'GH_INGRESS_BACKEND_INVALID', `${pfield}.backend`, backend));
        return;
      }
      out.routes.push({ host, ...norm, backend, ingress: ing, field: pfield });
    });
  });

  if (spec.defaultBackend !== undefined && spec.defaultBackend !== null) {
    const backend = parseBackend(ns, spec.defaultBackend);
    if (typeof backend === 'string') {
      conditions.push(condition(ing, 'GH_INGRESS_BACKEND_INVALID', 'spec.defaultBackend', backend));
    } else {
      // With no rules, the default backend is the catch-all for requests no host matches.
      const hosts = rules.length === 0 ? [''] : [...new Set(ownHosts)];
      if (rules.length === 0) out.hosts.add('');
      for (const host of hosts) out.defaults.push({ host, backend, ingress: ing, field: 'spec.defaultBackend' });
    }
  }
}
