// Whether a Secret already holds a certificate good for a set of names, and when it is due for
// renewal. A Secret is kept (nothing is ordered) when it is of type kubernetes.io/tls, its
// tls.crt and tls.key parse and belong together, its certificate's subjectAltName covers every
// name (exactly, or by a one-label wildcard, RFC 6125 §6.4.3), and renewal is not due yet.
//
// Renewal is due 30 days before notAfter (issue 4; Let's Encrypt's own advice for 90-day
// certificates), or, for certificates that live less than 90 days, once a third of their lifetime
// is left (cert-manager's default for short durations), so a CA that issues short-lived
// certificates is not asked again at once, in a loop.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KubeObject } from '../../core/snapshot.ts';

export const RENEW_BEFORE_MS = 30 * 86_400_000;
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

export type CertificateState =
  | { readonly ok: true; readonly notAfter: number; readonly renewAt: number }
  | { readonly ok: false; readonly reason: string };

/** When a certificate valid from notBefore to notAfter is due for renewal. */
export function renewalTime(notBefore: number, notAfter: number): number {
  return notAfter - Math.min(RENEW_BEFORE_MS, Math.max(0, notAfter - notBefore) / 3);
}

/** A key of a Secret: stringData wins, as the API server merges it over data (base64). */
export function secretField(secret: KubeObject, key: string): string | undefined {
  const s = (secret.stringData as Record<string, unknown> | undefined)?.[key];
  if (typeof s === 'string') return s;
  const d = (secret.data as Record<string, unknown> | undefined)?.[key];
  return typeof d === 'string' ? Buffer.from(d, 'base64').toString('utf8') : undefined;
}

/** Checks a certificate and key (PEM) against `names`; `now` for the renewal decision. */
export function pemState(cert: string, key: string, names: readonly string[], now: number): CertificateState {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return { ok: false, reason: 'tls.crt does not parse' };
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) return { ok: false, reason: 'tls.key is not the key of tls.crt' };
  } catch {
    return { ok: false, reason: 'tls.key does not parse' };
  }
  const missing = names.filter((n) => x509.checkHost(n, { subject: 'never' }) === undefined);
  if (missing.length > 0) return { ok: false, reason: `the certificate does not cover ${missing.join(', ')}` };
  const notAfter = x509.validToDate.getTime();
  const renewAt = renewalTime(x509.validFromDate.getTime(), notAfter);
  if (notAfter <= now) return { ok: false, reason: `the certificate expired at ${new Date(notAfter).toISOString()}` };
  if (renewAt <= now) return { ok: false, reason: `the certificate expires at ${new Date(notAfter).toISOString()} and is due for renewal` };
  return { ok: true, notAfter, renewAt };
}

/** Checks the Secret (as the snapshot holds it) against `names`. */
export function certificateState(secret: KubeObject | undefined, names: readonly string[], now: number): CertificateState {
  if (secret === undefined) return { ok: false, reason: 'the Secret does not exist' };
  if (secret.type !== TLS_SECRET_TYPE) return { ok: false, reason: `the Secret is of type ${JSON.stringify(secret.type ?? 'Opaque')}` };
  const cert = secretField(secret, 'tls.crt');
  const key = secretField(secret, 'tls.key');
  if (!cert || !key) return { ok: false, reason: 'the Secret lacks tls.crt or tls.key' };
  return pemState(cert, key, names, now);
}
