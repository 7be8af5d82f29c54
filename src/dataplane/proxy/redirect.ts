// Plain-HTTP → HTTPS redirects and HSTS, as ingress-nginx gives them
// (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#server-side-https-enforcement-through-redirect):
// 308 Permanent Redirect (its default http-redirect-code; the method and body are kept), to
// https:// + the request's host without its port + the request-target byte for byte. The
// Location names the public HTTPS port, never this listener's: a LoadBalancer Service maps 443 to
// it, so 443 means no port in the URL (--https-redirect-port says otherwise). ACME HTTP-01
// challenges are never redirected (RFC 8555 §8.3: the CA fetches them over plain HTTP).

import { ACME_CHALLENGE_PREFIX } from '../acme-challenges.ts';
import { sendAnswer, type ProxyResponse } from './proxy.ts';

export function isAcmeChallenge(target: string): boolean {
  return target.startsWith(ACME_CHALLENGE_PREFIX);
}

// A DNS name or IPv4 address, or a bracketed IPv6 literal; anything else is not put in a Location.
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;

/** The host part of a Host header or `:authority` (port dropped), or null when it is not a host name. */
export function redirectHost(hostHeader: string): string | null {
  let host = hostHeader;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    host = close === -1 ? host : host.slice(0, close + 1);
    return IPV6.test(host) ? host : null;
  }
  const colon = host.indexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  return NAME.test(host) ? host : null;
}

/** The port of a Host header or `:authority` (`:8080`, with its colon), or '' when it has none or a bad one. */
export function hostPort(hostHeader: string): string {
  const close = hostHeader.startsWith('[') ? hostHeader.indexOf(']') : -1;
  const colon = hostHeader.indexOf(':', close + 1);
  if (colon === -1) return '';
  const port = hostHeader.slice(colon + 1);
  return /^\d{1,5}$/.test(port) ? `:${port}` : '';
}

/** `https://host[:port]/target`; null when the host is not fit for a Location. */
export function httpsLocation(hostHeader: string, target: string, port: number): string | null {
  const host = redirectHost(hostHeader);
  if (host === null) return null;
  return `https://${host}${port === 443 ? '' : `:${port}`}${target}`;
}

/** A redirect; `location` must already be fit for a header. */
export function sendRedirect(res: ProxyResponse, location: string, status = 308): void {
  sendAnswer(res, status, { location });
}

export interface HstsPolicy {
  /** Seconds (--hsts-max-age). */
  readonly maxAge: number;
  readonly includeSubDomains: boolean;
  readonly preload: boolean;
}

/** The Strict-Transport-Security value (RFC 6797 §6.1). */
export function hstsHeader(p: HstsPolicy): string {
  return `max-age=${p.maxAge}${p.includeSubDomains ? '; includeSubDomains' : ''}${p.preload ? '; preload' : ''}`;
}
