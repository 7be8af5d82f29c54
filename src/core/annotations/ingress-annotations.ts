// Every annotation family an Ingress may carry, read into one typed policy (DESIGN.md
// "Annotations"). One family per file: grammar, defaults, typed policy. A value that fails its
// grammar leaves the Ingress out, with one condition per bad annotation naming it. A new family
// adds one `take(readX(...))` line here and one field to IngressAnnotations.

import type { Condition } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import type { AnnotationProblem, AnnotationResult } from './read-annotation.ts';
import { readSslRedirect, type SslRedirectPolicy } from './ssl-redirect.ts';
import { readAcme, type AcmePolicy } from './acme.ts';
import { readBackendProtocol } from './backend-protocol.ts';
import { readProxySsl, type ProxySslPolicy } from './proxy-ssl.ts';
import { readRedirect } from './redirect.ts';
import { readRewrite, type RewriteAnnotations } from './rewrite.ts';
import { DEFAULT_LIMIT_STATUS, readRateLimit } from './rate-limit.ts';
import { readAccessList } from './access-list.ts';
import { readBodySize } from './body-size.ts';
import { readCors } from './cors.ts';
import { readTypedHeaders } from './typed-headers.ts';
import { readCustomHeaders, type CustomHeadersContext } from './custom-headers.ts';
import { readForwardPolicy, tableForwardPolicy } from './forward-policy.ts';
import { readExternalAuth } from './external-auth.ts';
import { readLoadBalance } from './load-balance.ts';
import { readHealthCheck } from './health-check.ts';
import { readCanary, type CanaryAnnotations } from './canary.ts';
import { readBasicAuth } from './basic-auth.ts';
import { readSatisfy } from './satisfy.ts';
import { readErrorPages, type ErrorPagesAnnotations } from './error-pages.ts';
import { readServerAlias } from './server-alias.ts';
import { readServiceUpstream } from './service-upstream.ts';
import { readClientCert, type ClientCertAnnotations } from './client-cert.ts';
import { readAccessLog } from './access-log.ts';
import type { BackendProtocol, FamilyDefaults, ForwardPolicy, HeaderList, HeadersPolicy, HealthPolicy, RoutePolicies } from '../model.ts';

export interface IngressAnnotations {
  readonly sslRedirect: SslRedirectPolicy;
  readonly acme: AcmePolicy;
  readonly backendProtocol: BackendProtocol;
  readonly proxySsl: ProxySslPolicy;
  /** proxy-*-timeout and proxy-next-upstream*; absent: none set (the table's apply). */
  readonly forward?: ForwardPolicy;
  /** health-check-* and passive-health-*, for the Ingress's backends; absent: none set. */
  readonly health?: HealthPolicy;
  /** auth-tls-*: server level, so compile puts it on the Ingress's hosts; absent: none set. */
  readonly clientCert?: ClientCertAnnotations;
  /** The traffic policies for the Ingress's routes (absent fields: none). */
  readonly policies: RoutePolicies;
  /** from-to-www-redirect. */
  readonly fromToWww: boolean;
  /** use-regex and rewrite-target, which put hosts in regex mode (compile fits the rest to each route). */
  readonly rewrite: RewriteAnnotations;
  /** canary and canary-*; absent: none set. A canary Ingress's routes attach to the main Ingress's (compile.ts). */
  readonly canary?: CanaryAnnotations;
  /** custom-http-errors (else the ConfigMap's) and default-backend; compile completes them per route (errorPagesFor). Absent: neither. */
  readonly errorPages?: ErrorPagesAnnotations;
  /** server-alias, sorted; absent: none. */
  readonly aliases?: readonly string[];
  /** service-upstream (else the ConfigMap's). */
  readonly serviceUpstream: boolean;
}

/** What the families default to: the global defaults (FamilyDefaults), the ssl-redirect default, and what custom-headers may read. */
export interface AnnotationDefaults extends Pick<FamilyDefaults, 'limitReqStatusCode' | 'limitConnStatusCode' | 'limitRate' | 'limitRateAfter' | 'whitelistSourceRange' | 'denylistSourceRange' | 'loadBalance' | 'proxyConnectTimeoutMs' | 'proxySendTimeoutMs' | 'proxyReadTimeoutMs' | 'proxyNextUpstream' | 'proxyNextUpstreamTries' | 'proxyNextUpstreamTimeoutMs' | 'retryNonIdempotent' | 'customHttpErrors' | 'serviceUpstream'> {
  /** --default-ssl-redirect. */
  readonly sslRedirect: boolean;
  /** The ConfigMaps custom-headers names, and the names it may set; absent: custom-headers is refused as naming no ConfigMap. */
  readonly customHeaders?: CustomHeadersContext;
}

const NO_CONFIGMAPS: CustomHeadersContext = { configMap: () => undefined, allowed: [] };

/** The typed headers with custom-headers added: gatehouse.io/response-headers wins for the same name. */
function withCustomHeaders(headers: HeadersPolicy | undefined, custom: HeaderList | undefined): HeadersPolicy | undefined {
  if (custom === undefined || custom.length === 0) return headers;
  const own = headers?.response ?? [];
  const taken = new Set(own.map(([name]) => name.toLowerCase()));
  return { ...headers, response: [...own, ...custom.filter(([name]) => !taken.has(name))] };
}

/** The Ingress's policy, or null after pushing its conditions (the Ingress is left out). */
export function readIngressAnnotations(ing: KubeObject, defaults: AnnotationDefaults, conditions: Condition[]): IngressAnnotations | null {
  const problems: AnnotationProblem[] = [];
  const take = <T>(r: AnnotationResult<T>): T | undefined => {
    if (r.ok) return r.value;
    problems.push(...r.problems);
    return undefined;
  };
  const sslRedirect = take(readSslRedirect(ing, { sslRedirect: defaults.sslRedirect }));
  const acme = take(readAcme(ing));
  const backendProtocol = take(readBackendProtocol(ing));
  const proxySsl = take(readProxySsl(ing));
  const redirect = take(readRedirect(ing));
  const rateLimit = take(readRateLimit(ing, { reqStatus: defaults.limitReqStatusCode ?? DEFAULT_LIMIT_STATUS, connStatus: defaults.limitConnStatusCode ?? DEFAULT_LIMIT_STATUS, rate: defaults.limitRate, rateAfter: defaults.limitRateAfter }));
  const accessList = take(readAccessList(ing, { allow: defaults.whitelistSourceRange, deny: defaults.denylistSourceRange }));
  const bodySize = take(readBodySize(ing));
  const cors = take(readCors(ing));
  const headers = withCustomHeaders(take(readTypedHeaders(ing)), take(readCustomHeaders(ing, defaults.customHeaders ?? NO_CONFIGMAPS)));
  const rewrite = take(readRewrite(ing));
  const balance = take(readLoadBalance(ing, defaults));
  const forward = take(readForwardPolicy(ing, defaults));
  const externalAuth = take(readExternalAuth(ing, { configMap: (defaults.customHeaders ?? NO_CONFIGMAPS).configMap, timeouts: forward ?? tableForwardPolicy(defaults) }));
  const health = take(readHealthCheck(ing, backendProtocol ?? 'HTTP'));
  const canary = take(readCanary(ing));
  const basicAuth = take(readBasicAuth(ing));
  const satisfy = take(readSatisfy(ing));
  const errorPages = take(readErrorPages(ing, defaults.customHttpErrors));
  const aliases = take(readServerAlias(ing));
  const serviceUpstream = take(readServiceUpstream(ing, defaults.serviceUpstream)) ?? false;
  const clientCert = take(readClientCert(ing));
  const accessLog = take(readAccessLog(ing));
  if (problems.length > 0 || sslRedirect === undefined || acme === undefined || backendProtocol === undefined || proxySsl === undefined || redirect === undefined || rewrite === undefined) {
    for (const p of problems) {
      conditions.push({
        ref: { kind: 'Ingress', namespace: ing.metadata.namespace, name: ing.metadata.name },
        code: p.code ?? 'GH_ANNOTATION_INVALID',
        field: `metadata.annotations[${JSON.stringify(p.key)}]`,
        message: `${p.message}; the Ingress is left out`,
      });
    }
    return null;
  }
  // One field per family that is set; an Ingress without policy annotations has none.
  const policies: { -readonly [K in keyof RoutePolicies]: RoutePolicies[K] } = {};
  if (redirect.redirect !== undefined) policies.redirect = redirect.redirect;
  if (rewrite.rewrite !== undefined) policies.rewrite = rewrite.rewrite;
  if (rateLimit !== undefined) policies.rateLimit = rateLimit;
  if (accessList !== undefined) policies.accessList = accessList;
  if (bodySize !== undefined) policies.bodySize = bodySize;
  if (cors !== undefined) policies.cors = cors;
  if (headers !== undefined) policies.headers = headers;
  if (balance !== undefined) policies.balance = balance;
  if (externalAuth !== undefined) policies.externalAuth = externalAuth;
  if (basicAuth !== undefined) policies.basicAuth = basicAuth;
  if (satisfy !== undefined) policies.satisfy = satisfy;
  if (accessLog !== undefined) policies.accessLog = accessLog;
  return { sslRedirect, backendProtocol, proxySsl, acme, policies, fromToWww: redirect.fromToWww, rewrite, serviceUpstream, ...(forward ? { forward } : {}), ...(health ? { health } : {}), ...(canary ? { canary } : {}), ...(errorPages ? { errorPages } : {}), ...(aliases ? { aliases } : {}), ...(clientCert ? { clientCert } : {}) };
}
