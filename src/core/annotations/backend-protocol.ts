// The backend-protocol family (ingress-nginx "Backend Protocol",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#backend-protocol):
// how requests of the Ingress's paths reach their Service. Case-insensitive and trimmed, as
// ingress-nginx reads it (strings.TrimSpace(strings.ToUpper(v))). Values:
// - HTTP (default): HTTP/1.1.
// - HTTPS: HTTP/1.1 over TLS (certificate checks per proxy-ssl-*, off by default).
// - GRPC: gRPC over HTTP/2 cleartext (prior knowledge, RFC 9113 §3.3); GRPCS: over TLS (ALPN h2).
// - H2C: any HTTP over HTTP/2 cleartext (Gatehouse's; ingress-nginx has no such value).
// ingress-nginx also knows AUTO_HTTP, FCGI and AJP; Gatehouse does not serve them, and, unlike
// ingress-nginx (which logs and falls back to HTTP), refuses them and anything else with a
// condition: sending a gRPC or FastCGI backend HTTP/1.1 would only fail later, per request.

import type { Backend, BackendProtocol, ForwardPolicy, UpstreamPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import type { ProxySslPolicy } from './proxy-ssl.ts';
import { readAnnotation, type AnnotationResult } from './read-annotation.ts';

const SERVED: readonly BackendProtocol[] = ['HTTP', 'HTTPS', 'GRPC', 'GRPCS', 'H2C'];
const NOT_SERVED = new Set(['AUTO_HTTP', 'FCGI', 'AJP']);

export function readBackendProtocol(ing: KubeObject): AnnotationResult<BackendProtocol> {
  const v = readAnnotation(ing.metadata, 'backend-protocol');
  if (v === undefined) return { ok: true, value: 'HTTP' };
  const proto = v.value.trim().toUpperCase();
  if ((SERVED as readonly string[]).includes(proto)) return { ok: true, value: proto as BackendProtocol };
  const message = NOT_SERVED.has(proto)
    ? `${v.key}: ${JSON.stringify(v.value)} is an ingress-nginx backend protocol that Gatehouse does not serve (it serves ${SERVED.join(', ')})`
    : `${v.key}: ${JSON.stringify(v.value)} is not a backend protocol (${SERVED.join(', ')})`;
  return { ok: false, problems: [{ key: v.key, message }] };
}

/** Whether the protocol runs over TLS to the backend (proxy-ssl-* apply). */
export function usesTls(protocol: BackendProtocol): boolean {
  return protocol === 'HTTPS' || protocol === 'GRPCS';
}

/**
 * The name a backend's certificate is checked against when proxy-ssl-name is not set: an
 * ExternalName's DNS name, else the Service's cluster DNS name `<service>.<namespace>.svc`
 * (what cert-manager and service meshes put in a Service's certificate). ingress-nginx checks
 * nginx's `$proxy_host`, "upstream_balancer", which no certificate carries, so its users set
 * proxy-ssl-name whenever they verify; that keeps working here.
 */
export function defaultServerName(backend: Pick<Backend, 'namespace' | 'service' | 'target'>): string {
  return backend.target.type === 'externalName' ? backend.target.hostname : `${backend.service}.${backend.namespace}.svc`.toLowerCase();
}

/** The route's upstream policy (with the Ingress's timeouts and retries, when it sets any); undefined for plain HTTP with none (the default, left out of the table). */
export function upstreamPolicy(protocol: BackendProtocol, ssl: ProxySslPolicy, backend: Pick<Backend, 'namespace' | 'service' | 'target'>, forward?: ForwardPolicy): UpstreamPolicy | undefined {
  const extra = forward === undefined ? {} : { forward };
  if (protocol === 'HTTP') return forward === undefined ? undefined : { protocol, tls: null, ...extra };
  if (!usesTls(protocol)) return { protocol, tls: null, ...extra };
  return {
    protocol,
    tls: {
      verify: ssl.verify,
      secret: ssl.secret,
      name: ssl.name ?? defaultServerName(backend),
      serverName: ssl.serverName,
    },
    ...extra,
  };
}
