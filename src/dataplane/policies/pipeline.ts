// The request pipeline (DESIGN.md "Request pipeline"): a route's policies, compiled in core as
// plain data (RoutePolicies), become an ordered array of steps once per generation, when the
// worker builds its router; a request runs only the steps its route has, and a route without
// policies has none and pays nothing. A step is a function of one RequestContext that either
// answers (redirect, 403, 413, 429/503, 204 preflight …) and returns true, or lets the request go
// on, maybe leaving something for the forward (a rewritten target, headers to add).
//
// The order is fixed here, as ingress-nginx's phases are; each family's step lives in its own
// file of this directory and knows nothing of the others:
//   client certificate → redirects → access lists → connection and rate limits → CORS → authentication (external,
//   basic; satisfy) → body size → backend choice → rewrite → typed request/response headers
//   → (balancer, forward)
// CORS comes before authentication as in ingress-nginx, where its block answers a preflight 204
// in nginx's rewrite phase and sets its headers there, before auth_request and auth_basic run in
// the access phase: a preflight needs no credentials, and a 401/403 from authentication carries
// the CORS headers (ingress-nginx's e2e "should return status code 401 and cors headers …").
// Access lists and authentication combine as `satisfy` says (satisfy.ts).

import type { Duplex } from 'node:stream';
import { parseIp, type IpBytes } from '../../core/ip-address.ts';
import type { BackendChoice, RoutePolicies } from '../../core/model.ts';
import type { ResponseCookies, UpstreamOverrides } from '../proxy/headers.ts';
import { sendAnswer, sendRawAnswer, type AnswerHeaders, type ProxyRequest, type ProxyResponse } from '../proxy/proxy.ts';
import { redirectStep } from './redirect.ts';
import { rateLimitStep } from './rate-limit.ts';
import { accessListStep } from './access-list.ts';
import { corsStep } from './cors.ts';
import { externalAuthStep } from './external-auth.ts';
import { bodySizeStep } from './body-size.ts';
import { typedHeadersStep } from './typed-headers.ts';
import { rewriteStep } from './rewrite.ts';
import { canaryStep } from './canary.ts';
import { basicAuthStep } from './basic-auth.ts';
import { satisfyAnyStep } from './satisfy.ts';
import { clientCertStep } from './client-cert.ts';

/** What a step sees of one request, and what it leaves for the forward. One shape for all. */
export class RequestContext implements UpstreamOverrides {
  /** The request's host header (`:authority` for HTTP/2), as sent. */
  readonly host: string;
  /** The request-target as sent. */
  readonly url: string;
  /** The normalised path (core/normalise-uri-path.ts). */
  readonly path: string;
  readonly scheme: 'http' | 'https';
  /** The client's address (IPv4-mapped IPv6 unwrapped). */
  readonly clientIp: string;
  readonly req: ProxyRequest;
  /** The response, or, for an upgrade (WebSocket), the client's socket: see respond(). */
  readonly res: ProxyResponse | Duplex;
  readonly upgrade: boolean;
  // What steps change in the upstream request (proxy/headers.ts UpstreamOverrides).
  upstreamTarget: string | null = null;
  upstreamHost: string | null = null;
  upstreamHeaders: string[] | null = null;
  /** Request headers of the client not sent upstream (lower case), unless a step sets them: basic auth's Authorization, external auth's missing auth-response-headers. */
  upstreamRemoved: string[] | null = null;
  /** Set-Cookie values for the upstream's answer (external auth). */
  responseCookies: ResponseCookies | null = null;
  /** limit-rate: response body bytes per second to the client after the first `responseRateAfter`; 0: none. */
  responseRate = 0;
  responseRateAfter = 0;
  /** proxy-body-size of the route, bytes (0: none), set by its body-size step; null: the table's. */
  bodyLimit: number | null = null;
  /** The backend chosen instead of the route's (canary), with its upstream and balance policies; null: the route's. */
  backend: BackendChoice | null = null;
  /** satisfy any (satisfy.ts): an access-phase step admitted the request. */
  accessAdmitted = false;
  /** satisfy any (satisfy.ts): the refusal to answer if no access-phase step admits the request. */
  accessDenial: { readonly status: number; readonly headers?: AnswerHeaders } | null = null;
  /** Why a step refused the request, for the metrics (observe/request-observer.ts): over a limit, or by an access-phase step (access lists, authentication). */
  refusal: 'rate-limit' | 'access' | null = null;
  #clientAddress: IpBytes | null | undefined;
  constructor(req: ProxyRequest, res: ProxyResponse | Duplex, upgrade: boolean, scheme: 'http' | 'https', host: string, url: string, path: string, clientIp: string) {
    this.req = req;
    this.res = res;
    this.upgrade = upgrade;
    this.scheme = scheme;
    this.host = host;
    this.url = url;
    this.path = path;
    this.clientIp = clientIp;
  }

  /** clientIp as 16 bytes (core/ip-address.ts), parsed on first use; null if it is no address. */
  clientAddress(): IpBytes | null {
    if (this.#clientAddress === undefined) {
      // A link-local IPv6 peer's address carries its zone (`fe80::1%eth0`); ranges have none.
      const zone = this.clientIp.indexOf('%');
      this.#clientAddress = parseIp(zone === -1 ? this.clientIp : this.clientIp.slice(0, zone));
    }
    return this.#clientAddress;
  }

  /** Answers the request itself (a small plain-text body: the status, and `reason` or its name), on the response or the upgrade's socket. */
  respond(status: number, headers?: AnswerHeaders, reason?: string): void {
    if (this.upgrade) sendRawAnswer(this.res as Duplex, status, headers, reason);
    else sendAnswer(this.res as ProxyResponse, status, headers, false, reason);
  }
}

/**
 * One policy's work on a request: true when it answered (the pipeline stops there). A step that
 * must wait (an external auth sub-request, a password check off the event loop) returns a promise
 * of the same; the steps after it run when it settles. Most steps answer synchronously, and a
 * route whose steps all do never allocates a promise.
 */
export type Step = (ctx: RequestContext) => boolean | Promise<boolean>;

/** A step that never waits (most of them). */
export type SyncStep = (ctx: RequestContext) => boolean;

const NO_STEPS: readonly Step[] = Object.freeze([]);

/** The steps of one route (or a host's unmatched paths), in pipeline order. */
export function buildSteps(policies: RoutePolicies | undefined): readonly Step[] {
  if (policies === undefined) return NO_STEPS;
  const steps: Step[] = [];
  const satisfy = policies.satisfy ?? 'all';
  // First: nginx verifies the client certificate as the request arrives, before any phase.
  if (policies.clientCert !== undefined) steps.push(clientCertStep(policies.clientCert));
  if (policies.redirect !== undefined) steps.push(redirectStep(policies.redirect));
  if (policies.accessList !== undefined) steps.push(accessListStep(policies.accessList, satisfy));
  if (policies.rateLimit !== undefined) steps.push(rateLimitStep(policies.rateLimit));
  if (policies.cors !== undefined) steps.push(corsStep(policies.cors));
  if (policies.externalAuth !== undefined) steps.push(externalAuthStep(policies.externalAuth, satisfy));
  if (policies.basicAuth !== undefined) steps.push(basicAuthStep(policies.basicAuth, satisfy));
  // After the last access-phase step.
  if (satisfy === 'any') steps.push(satisfyAnyStep);
  if (policies.bodySize !== undefined) steps.push(bodySizeStep(policies.bodySize));
  if (policies.canary !== undefined) steps.push(canaryStep(policies.canary));
  if (policies.rewrite !== undefined) steps.push(rewriteStep(policies.rewrite));
  if (policies.headers !== undefined) steps.push(typedHeadersStep(policies.headers));
  return steps.length === 0 ? NO_STEPS : Object.freeze(steps);
}

/**
 * Runs `steps` in order from `from`: true when one answered, false when the request goes on; a
 * promise of that once a step waits. A step that throws or rejects is the caller's 500.
 */
export function runSteps(steps: readonly Step[], ctx: RequestContext, from = 0): boolean | Promise<boolean> {
  for (let i = from; i < steps.length; i++) {
    const answered = steps[i]!(ctx);
    if (answered === true) return true;
    if (answered !== false) return answered.then((a) => a || runSteps(steps, ctx, i + 1));
  }
  return false;
}
