// The proxy-ssl family (ingress-nginx "Backend Certificate Authentication",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#backend-certificate-authentication):
// TLS to HTTPS and GRPCS backends. Values as ingress-nginx's parser takes them:
// - `proxy-ssl-verify`: "on" | "off" (default off: the backend's certificate is not checked).
// - `proxy-ssl-secret`: "namespace/name" of a Secret holding ca.crt (the CAs to verify with)
//   and optionally tls.crt + tls.key (the client certificate presented to the backend, mTLS).
//   Only the Ingress's own namespace, as ingress-nginx ("cross namespace secrets are not
//   supported"). The Secret itself is read and checked by the control plane, outside compile.
// - `proxy-ssl-name`: the name the certificate is checked against (and sent as SNI when
//   proxy-ssl-server-name is on); default: see defaultServerName in backend-protocol.ts.
// - `proxy-ssl-server-name`: "on" | "off" (default off): send that name as SNI.
// ingress-nginx falls back to the default on a value its grammar refuses; Gatehouse refuses the
// Ingress with a condition instead (DESIGN.md "Annotations"), so "true" for "on" is not taken
// silently as "off". proxy-ssl-ciphers, -protocols and -verify-depth are not read (Node's TLS
// defaults: TLS 1.2+, OpenSSL's default ciphers, any chain depth).

import type { UpstreamSecretRef } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';
import { readSecretRef } from './secret-ref.ts';

export interface ProxySslPolicy {
  readonly verify: boolean;
  /** The Secret, and the Ingress and annotation that named it; null: none. */
  readonly secret: UpstreamSecretRef | null;
  /** Lower case; null: the default name. */
  readonly name: string | null;
  readonly serverName: boolean;
}

const DNS_LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const DNS_NAME = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function readProxySsl(ing: KubeObject): AnnotationResult<ProxySslPolicy> {
  const problems: AnnotationProblem[] = [];
  const onOff = (name: string): boolean => {
    const v = readAnnotation(ing.metadata, name);
    if (v === undefined || v.value === 'off') return false;
    if (v.value === 'on') return true;
    problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not "on" or "off"` });
    return false;
  };
  const verify = onOff('proxy-ssl-verify');
  const serverName = onOff('proxy-ssl-server-name');

  const secret = readSecretRef(ing, 'proxy-ssl-secret', problems) ?? null;

  let name: string | null = null;
  const n = readAnnotation(ing.metadata, 'proxy-ssl-name');
  if (n !== undefined) {
    const lower = n.value.toLowerCase();
    if (lower.length <= 253 && (DNS_NAME.test(lower) || IPV4.test(lower))) name = lower;
    else problems.push({ key: n.key, message: `${n.key}: ${JSON.stringify(n.value)} is not a DNS name or IPv4 address` });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { verify, secret, name, serverName } };
}
