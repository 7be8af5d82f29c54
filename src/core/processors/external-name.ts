// Which ExternalName targets Gatehouse refuses to proxy to. ingress-nginx gives an ExternalName
// Service no endpoint when its externalName is `localhost` or a loopback IP, or neither an IP
// nor a DNS-1123 subdomain (internal/ingress/controller/endpointslices.go,
// getEndpointsFromSlices). Gatehouse refuses more, because a proxy in the cluster must not be
// a way in to its own pod or node: the addresses Kubernetes refuses as an endpoint address
// (see ip-address.ts specialUse), in every notation the resolver and the URL parser accept,
// and the names that resolve to loopback without asking DNS. A private address like 10.0.0.5
// is a normal ExternalName target and stays allowed, as in ingress-nginx.
// A name that DNS resolves to one of these addresses cannot be seen here (compile does no
// I/O); that check belongs where the data plane connects.

import type { ErrorCode } from '../../errors.ts';
import { endsInANumber, parseIp, specialUse } from '../ip-address.ts';
import { isDnsName } from './ingress.ts';

/**
 * Names getaddrinfo answers from /etc/hosts or by rule, never from DNS: `localhost` and
 * `*.localhost` (RFC 6761 §6.3), and the loopback aliases of the hosts files Kubernetes
 * (kubelet: ip6-localhost, ip6-loopback) and common distributions write.
 */
const LOOPBACK_NAMES = new Set(['localhost', 'ip6-localhost', 'ip6-loopback', 'localhost.localdomain', 'localhost6', 'localhost6.localdomain6']);

export interface ExternalNameProblem {
  readonly code: Extract<ErrorCode, 'GH_SERVICE_EXTERNALNAME_FORBIDDEN' | 'GH_SERVICE_EXTERNALNAME_INVALID'>;
  /** Why, to follow the quoted name in a message. */
  readonly reason: string;
}

/** Why `externalName` is no target to proxy to, or null when it is one. */
export function externalNameProblem(externalName: string): ExternalNameProblem | null {
  const lower = externalName.toLowerCase();
  // One trailing dot marks a fully qualified name (the API allows it); the URL parser drops it.
  const name = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  const ip = parseIp(name, 'url');
  if (ip !== null) {
    const use = specialUse(ip);
    return use === null ? null : { code: 'GH_SERVICE_EXTERNALNAME_FORBIDDEN', reason: `is ${use === 'unspecified' ? 'the unspecified' : `a ${use}`} address` };
  }
  if (!isDnsName(name)) return { code: 'GH_SERVICE_EXTERNALNAME_INVALID', reason: 'is neither a DNS name nor an IP address' };
  if (endsInANumber(name)) return { code: 'GH_SERVICE_EXTERNALNAME_INVALID', reason: 'ends in a number but is not an IPv4 address, so no URL can hold it' };
  if (LOOPBACK_NAMES.has(name) || name.endsWith('.localhost')) return { code: 'GH_SERVICE_EXTERNALNAME_FORBIDDEN', reason: 'names the local host' };
  return null;
}
