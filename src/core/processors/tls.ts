// spec.tls → TLS binding candidates (Kubernetes docs "Ingress", TLS; DESIGN.md "TLS"): each
// host of an entry is bound, by SNI, to the entry's Secret in the Ingress's namespace. An entry
// with no hosts binds the Ingress's rule hosts (the API says hosts default to "the wildcard host
// setting for the loadbalancer controller"; the rule hosts are what this Ingress serves). An
// entry with no secretName binds its hosts to the default certificate, as in ingress-nginx (the
// hosts still count as having TLS, so ssl-redirect applies). The Secret's contents are checked
// by the control plane, outside compile (it needs node:crypto).

import type { Condition } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { arr, isRecord, rec, str } from './fields.ts';
import { condition, normaliseHost, readRuleHost } from './ingress.ts';

export interface TlsCandidate {
  readonly host: string;
  /** `namespace/name`, or null: the default certificate. */
  readonly secret: string | null;
  readonly ingress: KubeObject;
  readonly field: string;
}

function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

/** The first field of spec.tls with the wrong type, or null (see ingress.ts shapeProblem). */
export function tlsShapeProblem(ing: KubeObject): { field: string; message: string } | null {
  const tls = rec(ing.spec).tls;
  if (absent(tls)) return null;
  if (!Array.isArray(tls)) return { field: 'spec.tls', message: 'spec.tls is not a list' };
  for (const [i, entry] of tls.entries()) {
    const field = `spec.tls[${i}]`;
    if (!isRecord(entry)) return { field, message: `${field} is not a mapping` };
    if (!absent(entry.hosts) && !Array.isArray(entry.hosts)) return { field: `${field}.hosts`, message: `${field}.hosts is not a list` };
    if (!absent(entry.secretName) && typeof entry.secretName !== 'string') return { field: `${field}.secretName`, message: `${field}.secretName is not a string` };
  }
  return null;
}

/** The TLS bindings one owned Ingress asks for (call after tlsShapeProblem said null). */
export function readTls(ing: KubeObject, out: TlsCandidate[], conditions: Condition[]): void {
  const ns = ing.metadata.namespace;
  const spec = rec(ing.spec);
  const named = ruleHosts(ing).filter((h) => h !== '');
  arr(spec.tls).forEach((raw, i) => {
    const entry = rec(raw);
    const field = `spec.tls[${i}]`;
    const name = str(entry.secretName);
    const secret = name === undefined || name === '' ? null : `${ns}/${name}`;
    const hosts = arr(entry.hosts);
    if (hosts.length === 0) {
      for (const host of named) out.push({ host, secret, ingress: ing, field: `${field}.secretName` });
      return;
    }
    hosts.forEach((rawHost, j) => {
      const host = typeof rawHost === 'string' ? normaliseHost(rawHost) : null;
      if (host === null) {
        conditions.push(condition(ing, 'GH_INGRESS_HOST_INVALID', `${field}.hosts[${j}]`, `TLS host ${JSON.stringify(rawHost)} is not a DNS name or a one-label wildcard like *.example.com`));
        return;
      }
      out.push({ host, secret, ingress: ing, field: `${field}.secretName` });
    });
  });
}

/** Whether a binding for `binding` covers the rule host `host` by SNI rules (exact, or one label under a wildcard). */
export function tlsCovers(binding: string, host: string): boolean {
  if (binding === host) return true;
  if (!binding.startsWith('*.') || host === '' || host.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === binding.slice(2);
}

/** The valid hosts the Ingress's rules name, in rule order, once each; '' for a rule with no host. */
export function ruleHosts(ing: KubeObject): string[] {
  const out: string[] = [];
  for (const rule of arr(rec(ing.spec).rules)) {
    const read = readRuleHost(rec(rule).host);
    if (read.ok && !out.includes(read.host)) out.push(read.host);
  }
  return out;
}
