// The ssl-redirect family (ingress-nginx "Server-side HTTPS enforcement through redirect",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#server-side-https-enforcement-through-redirect):
// - `ssl-redirect` (bool, default --default-ssl-redirect, itself default true): plain-HTTP
//   requests to a host that has TLS answer 308 to the https URL; "false" turns it off for the
//   Ingress's paths.
// - `force-ssl-redirect` (bool, default false): redirect even when the host has no TLS (TLS is
//   terminated in front of the controller).
// The redirect itself (status, Location, the ACME challenge exemption) is the data plane's.

import type { KubeObject } from '../snapshot.ts';
import { parseBool, readAnnotation, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';

export interface SslRedirectPolicy {
  readonly sslRedirect: boolean;
  readonly forceSslRedirect: boolean;
}

export interface SslRedirectDefaults {
  /** --default-ssl-redirect. */
  readonly sslRedirect: boolean;
}

export function readSslRedirect(ing: KubeObject, defaults: SslRedirectDefaults): AnnotationResult<SslRedirectPolicy> {
  const problems: AnnotationProblem[] = [];
  const read = (name: string, fallback: boolean): boolean => {
    const v = readAnnotation(ing.metadata, name);
    if (v === undefined) return fallback;
    const parsed = parseBool(v);
    if (typeof parsed === 'string') {
      problems.push({ key: v.key, message: parsed });
      return fallback;
    }
    return parsed;
  };
  const sslRedirect = read('ssl-redirect', defaults.sslRedirect);
  const forceSslRedirect = read('force-ssl-redirect', false);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { sslRedirect, forceSslRedirect } };
}
