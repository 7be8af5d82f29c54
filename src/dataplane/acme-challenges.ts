// ACME HTTP-01 answers in the data plane (RFC 8555 §8.3): a GET (or HEAD) of
// `/.well-known/acme-challenge/<token>` for a token the control plane published is answered with
// the key authorization, on any host, before routing and never redirected (the CA fetches it over
// plain HTTP and may be anywhere). A token nobody published falls through to the routes, so an
// application (or cert-manager's solver Ingress) can still answer its own challenges.

import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

// Defined here, not beside the redirects that skip it (proxy/redirect.ts): the worker pool imports
// this module on the main thread, and redirect.ts brings the whole proxy.
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** What travels to every worker: plain data, token → key authorization, and a version to ack. */
export interface AcmeChallenges {
  /** Increases with every change; the workers ack the version they serve. */
  readonly version: number;
  readonly tokens: Readonly<Record<string, string>>;
}

export const NO_CHALLENGES: AcmeChallenges = Object.freeze({ version: 0, tokens: Object.freeze({}) });

/** The key authorization to answer `method` + `target` with, or undefined (route it as usual). */
export function challengeAnswer(method: string | undefined, target: string, tokens: ReadonlyMap<string, string>): string | undefined {
  if (tokens.size === 0 || (method !== 'GET' && method !== 'HEAD') || !target.startsWith(ACME_CHALLENGE_PREFIX)) return undefined;
  return tokens.get(target.slice(ACME_CHALLENGE_PREFIX.length));
}

export function sendChallengeAnswer(res: ServerResponse | Http2ServerResponse, keyAuthorization: string): void {
  // Either kind of response; their writeHead overloads do not unify.
  (res as ServerResponse).writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(keyAuthorization), 'cache-control': 'no-store' });
  res.end(keyAuthorization);
}
