// The acme family (Gatehouse's own; issue 4, item 6): `gatehouse.io/acme: "true"` asks the
// control plane to keep, in each Secret that the Ingress's spec.tls names, a certificate for that
// entry's hosts from the ACME CA (--acme-directory), validated by HTTP-01 (RFC 8555 §8.3).
//
// Read under our prefix only: ingress-nginx has no such annotation, and the similar
// `kubernetes.io/tls-acme` belongs to cert-manager's ingress-shim; reading it would make two
// controllers order for the same Secret. The value is a boolean as Go's strconv.ParseBool reads it.
//
// Also here: which certificates the annotated Ingresses ask for (`acmeRequests`), from the TLS
// bindings compile has settled. HTTP-01 cannot validate a wildcard name (RFC 8555 §7.1.3, "the
// CA MUST NOT" accept http-01 for wildcard identifiers), and a certificate needs a Secret to go
// into: such spec.tls entries get a condition and nothing is ordered for them.

import type { AcmeRequest, Condition, TlsBinding } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { parseBool, type AnnotationResult } from './read-annotation.ts';

export const ACME_ANNOTATION = 'gatehouse.io/acme';

/** The field conditions about ACME name. */
export const ACME_FIELD = `metadata.annotations[${JSON.stringify(ACME_ANNOTATION)}]`;

export interface AcmePolicy {
  readonly acme: boolean;
}

export function readAcme(ing: KubeObject): AnnotationResult<AcmePolicy> {
  const raw = ing.metadata.annotations?.[ACME_ANNOTATION];
  if (raw === undefined || raw === null) return { ok: true, value: { acme: false } };
  const parsed = parseBool({ key: ACME_ANNOTATION, value: typeof raw === 'string' ? raw : JSON.stringify(raw) });
  if (typeof parsed === 'string') return { ok: false, problems: [{ key: ACME_ANNOTATION, message: parsed }] };
  return { ok: true, value: { acme: parsed } };
}

/** One spec.tls host of an annotated Ingress, as compile read it (processors/tls.ts TlsCandidate). */
export interface AcmeCandidate {
  readonly host: string;
  readonly secret: string | null;
  /** `namespace/name` of the Ingress. */
  readonly ingress: string;
  readonly field: string;
}

function ref(ingress: string): Condition['ref'] {
  const [namespace = '', name = ''] = ingress.split('/');
  return { kind: 'Ingress', namespace, name };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The certificates the annotated Ingresses ask for, one per Secret: the hosts bound to that
 * Secret (the bindings that won; a host another Ingress holds already has its GH_TLS_CONFLICT).
 * `annotated` lists every annotated Ingress (so one without spec.tls is told); `enabled` is
 * whether ACME is configured at all (--acme-directory).
 */
export function acmeRequests(
  annotated: readonly string[],
  candidates: readonly AcmeCandidate[],
  bindings: ReadonlyMap<string, TlsBinding>,
  enabled: boolean,
  conditions: Condition[],
): AcmeRequest[] {
  if (!enabled) {
    for (const ingress of annotated) {
      conditions.push({ ref: ref(ingress), code: 'GH_ACME_NOT_CONFIGURED', field: ACME_FIELD, message: `${ACME_ANNOTATION} is set, but ACME is not configured (--acme-directory); the Secrets named in spec.tls are served as they are` });
    }
    return [];
  }
  const bySecret = new Map<string, { hosts: Set<string>; ingresses: Set<string> }>();
  const reported = new Set<string>();
  const report = (c: AcmeCandidate, message: string) => {
    const key = `${c.ingress} ${c.field} ${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    conditions.push({ ref: ref(c.ingress), code: 'GH_ACME_TLS_INVALID', field: c.field, message });
  };
  const asked = new Set<string>();
  for (const c of candidates) {
    asked.add(c.ingress);
    if (c.secret === null) {
      report(c, 'this spec.tls entry names no secretName, so there is no Secret to keep an ACME certificate in; its hosts get the default certificate');
      continue;
    }
    if (c.host.startsWith('*.')) {
      report(c, `TLS host ${JSON.stringify(c.host)} is a wildcard, which ACME HTTP-01 cannot validate (RFC 8555 §7.1.3); no certificate is ordered for it`);
      continue;
    }
    const won = bindings.get(c.host);
    if (won === undefined || won.secret !== c.secret) continue;
    let entry = bySecret.get(c.secret);
    if (entry === undefined) bySecret.set(c.secret, (entry = { hosts: new Set(), ingresses: new Set() }));
    entry.hosts.add(c.host);
    entry.ingresses.add(c.ingress);
  }
  for (const ingress of annotated) {
    if (!asked.has(ingress)) {
      conditions.push({ ref: ref(ingress), code: 'GH_ACME_TLS_INVALID', field: ACME_FIELD, message: `${ACME_ANNOTATION} is set, but the Ingress has no spec.tls host to order a certificate for` });
    }
  }
  return [...bySecret.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([secret, e]) => ({ secret, hosts: [...e.hosts].sort(cmp), ingresses: [...e.ingresses].sort(cmp) }));
}
