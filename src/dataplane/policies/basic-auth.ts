// The basic-auth step (core/annotations/basic-auth.ts has the grammar; htpasswd.ts the entries):
// a request without valid credentials gets 401 with `WWW-Authenticate: Basic realm="…"` (RFC
// 7617), as nginx's auth_basic. The users come from the control plane apart from the table
// (TlsMaterial.basicAuth, by Secret and type; setBasicAuthUsers); a route whose Secret is missing
// or unusable answers 503, as ingress-nginx's denied location, even to a client an access list
// admits under satisfy any: never through unauthenticated. The Authorization header is not sent
// upstream, as ingress-nginx's `proxy_set_header Authorization ""` in every location with basic
// auth. WebSocket upgrades are checked like any request.
//
// Credentials (RFC 7617 §2): `Basic` (any case), then base64 of `user:password`; the user is what
// comes before the first colon. Bytes are compared as bytes (user names as latin1 strings).
// Credentials longer than MAX_CREDENTIALS bytes are refused unchecked, so no request makes a
// worker hash a large input. Which users exist is not hidden: an unknown user is refused without
// a hash check, as nginx does.

import { basicAuthKey } from '../../core/annotations/basic-auth.ts';
import type { BasicAuthPolicy } from '../../core/model.ts';
import type { BasicAuthUsers } from '../tls/tls-material.ts';
import { verifyEntry } from './htpasswd.ts';
import type { RequestContext, Step } from './pipeline.ts';
import { accessDenied, accessPassed, authRequired, type Satisfy } from './satisfy.ts';

/** The longest `user:password` checked, in bytes. */
export const MAX_CREDENTIALS = 1024;

const BASIC = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i;

/** The users of each Secret (basicAuthKey), as this worker last received them. */
let users: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map();

/** The worker's copy of TlsMaterial.basicAuth (absent: none). */
export function setBasicAuthUsers(material: Readonly<Record<string, BasicAuthUsers>> | undefined): void {
  const next = new Map<string, ReadonlyMap<string, string>>();
  for (const [key, entries] of Object.entries(material ?? {})) next.set(key, new Map(entries));
  users = next;
}

/** The user (bytes as latin1) and password of a Basic Authorization header; null when it is none. */
export function basicCredentials(header: string | undefined): { user: string; password: Buffer } | null {
  if (header === undefined || header.length > 2 * MAX_CREDENTIALS) return null;
  const m = BASIC.exec(header);
  if (m === null || m[1]!.length % 4 === 1) return null;
  const raw = Buffer.from(m[1]!, 'base64');
  const colon = raw.indexOf(0x3a);
  if (raw.length > MAX_CREDENTIALS || colon === -1) return null;
  return { user: raw.subarray(0, colon).toString('latin1'), password: raw.subarray(colon + 1) };
}

export function basicAuthStep(policy: BasicAuthPolicy, satisfy: Satisfy): Step {
  const key = basicAuthKey(policy);
  const challenge = { 'WWW-Authenticate': `Basic realm="${policy.realm}"` };
  const refuse = (ctx: RequestContext) => accessDenied(ctx, satisfy, 401, challenge);
  return (ctx) => {
    (ctx.upstreamRemoved ??= []).push('authorization');
    const known = users.get(key);
    if (known === undefined) {
      ctx.respond(503);
      return true;
    }
    if (!authRequired(ctx)) return false;
    const creds = basicCredentials(ctx.req.headers.authorization);
    const hash = creds === null ? undefined : known.get(creds.user);
    if (creds === null || hash === undefined) return refuse(ctx);
    const ok = verifyEntry(creds.user, creds.password, hash);
    if (typeof ok === 'boolean') return ok ? accessPassed(ctx, satisfy) : refuse(ctx);
    return ok.then((v) => (v ? accessPassed(ctx, satisfy) : refuse(ctx)));
  };
}
