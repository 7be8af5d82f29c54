// The client-certificate step (core/annotations/client-cert.ts has the grammar; the handshake
// side is tls/client-auth-servers.ts). Per request of a host with auth-tls-*, as nginx with
// ingress-nginx's server block (ngx_http_process_request, nginx.tmpl):
// - the host's Secret could not serve (no CA bundle in the material): 403, as AuthTLSError;
// - the connection was verified for another host, or with a bundle since replaced, or its SNI
//   named another host: 421 Misdirected Request (nginx: "client attempted to request the server
//   name different from the one that was negotiated"), and the client retries on a new connection;
// - no certificate and verify `on`: 400 "No required SSL certificate was sent" (nginx's 496);
//   one that failed verification: 400 "The SSL certificate error" (495), except under
//   optional_no_ca for an unknown or self-signed issuer (nginx ngx_ssl_verify_error_optional);
//   with auth-tls-error-page, 302 to it instead (error_page 495 496 = <url>);
// - auth-tls-match-cn not found in the subject DN: 403 "client certificate unauthorized";
// - else forwarded with ssl-client-verify (SUCCESS, FAILED:<OpenSSL's reason>, NONE),
//   ssl-client-subject-dn and ssl-client-issuer-dn (RFC 2253, as nginx's $ssl_client_s_dn), and
//   ssl-client-cert (the PEM URL-encoded, $ssl_client_escaped_cert) when passed; the client's own
//   headers of those names are always removed, so an upstream can trust them.
// Plain-HTTP requests present no certificate (nginx checks only TLS connections and would serve
// them unverified: here `on` answers them 400, unless ssl-redirect sent them to https first).
//
// auth-tls-verify-depth: Node cannot set OpenSSL's verify depth, so the depth is checked here
// after OpenSSL verified the chain: the intermediates between the client's certificate and a root
// of the CA bundle, walked through the bundle; Node does not show the intermediates a client sends,
// so those count as one (exact when the bundle holds the intermediates, as it usually does).

import { X509Certificate } from 'node:crypto';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { RE2JS } from 're2js';
import { compileMatchCn } from '../../core/annotations/client-cert.ts';
import type { ClientCertPolicy } from '../../core/model.ts';
import type { ClientAuthStamp } from '../tls/client-auth-servers.ts';
import type { ClientAuthPem } from '../tls/tls-material.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

/** What the step asks of the worker's TLS side (tls/client-auth-servers.ts). */
export interface ClientAuthLookup {
  authority(host: string): ClientAuthPem | undefined;
  stampOf(socket: object): ClientAuthStamp | undefined;
}

let lookup: ClientAuthLookup = { authority: () => undefined, stampOf: () => undefined };

/** The worker's TLS side; until set, every host with auth-tls-* answers 403. */
export function useClientAuth(l: ClientAuthLookup): void {
  lookup = l;
}

/** A connection's certificate as the step reports it. */
interface Verification {
  /** ssl-client-verify. */
  readonly status: string;
  /** Node's code of OpenSSL's verification error, or null. */
  readonly code: string | null;
  readonly subjectDn: string;
  readonly issuerDn: string;
  readonly cert: X509Certificate | null;
}

const NONE: Verification = { status: 'NONE', code: null, subjectDn: '', issuerDn: '', cert: null };
/** nginx's ngx_ssl_verify_error_optional: what optional_no_ca lets through. */
const NO_CA_ERRORS = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
/** The headers the step sets; the client's of these names are dropped. */
const SSL_HEADERS = ['ssl-client-verify', 'ssl-client-subject-dn', 'ssl-client-issuer-dn', 'ssl-client-cert'];

/**
 * The ssl-client-* headers this request's step set ([name, value, …]), for an auth-url
 * sub-request, which ingress-nginx sends them to as well (nginx.tmpl, the auth location); null:
 * the route has no client certificates (the client's own headers are then the sub-request's).
 */
export function sslClientHeaders(ctx: RequestContext): string[] | null {
  if (ctx.upstreamRemoved?.includes(SSL_HEADERS[0]!) !== true) return null;
  const out: string[] = [];
  const set = ctx.upstreamHeaders ?? [];
  for (let i = 0; i < set.length; i += 2) if (SSL_HEADERS.includes(set[i]!)) out.push(set[i]!, set[i + 1]!);
  return out;
}
/** X509_verify_cert_error_string(X509_V_ERR_CERT_CHAIN_TOO_LONG). */
const CHAIN_TOO_LONG = 'certificate chain too long';

/** Per TLS socket: its verification, for the bundle and depth it was computed with. */
const verified = new WeakMap<object, { id: string; depth: number; v: Verification }>();
/** CA bundles parsed, by ClientAuthPem.id (a few hosts at most). */
const bundles = new Map<string, readonly X509Certificate[]>();

function bundle(pem: ClientAuthPem): readonly X509Certificate[] {
  let certs = bundles.get(pem.id);
  if (certs === undefined) {
    if (bundles.size > 100) bundles.clear();
    certs = (pem.ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
    bundles.set(pem.id, certs);
  }
  return certs;
}

/**
 * The intermediates between `leaf` and a self-signed root of the bundle (OpenSSL verified that
 * such a chain exists); an issuer not in the bundle (the client sent it) counts as one, and ends the walk.
 */
export function intermediates(leaf: X509Certificate, ca: readonly X509Certificate[]): number {
  let n = 0;
  let cert = leaf;
  for (let i = 0; i <= ca.length; i++) {
    if (cert.checkIssued(cert) && ca.some((c) => c.fingerprint256 === cert.fingerprint256)) return n;
    const issuer = ca.find((c) => cert.checkIssued(c) && cert.verify(c.publicKey));
    if (issuer === undefined) return n + 1;
    if (issuer.checkIssued(issuer)) return n;
    n++;
    cert = issuer;
  }
  return n;
}

/** A DN as nginx's $ssl_client_s_dn: RFC 2253 (most specific first, comma-separated), bytes over 0x7f escaped. Node's is one RDN a line, in order. */
export function rfc2253(multiline: string): string {
  if (multiline === '') return '';
  const escaped = multiline.replace(/[^\p{ASCII}]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `\\${b.toString(16).toUpperCase()}`).join(''));
  return escaped.split('\n').reverse().map((rdn) => rdn.replaceAll(' + ', '+')).join(',');
}

/** nginx's $ssl_client_escaped_cert: the PEM with every byte but A-Z a-z 0-9 - . _ ~ percent-encoded (ngx_escape_uri, NGX_ESCAPE_URI_COMPONENT). */
export function escapeCertificate(pem: string): string {
  return encodeURIComponent(pem).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** OpenSSL's reason for a failed verification (Node adds advice to some; dropped). */
function reasonOf(socket: TLSSocket): string {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  const message = handle?.verifyError?.()?.message;
  return message === undefined ? String(socket.authorizationError ?? 'unknown') : message.split('; if the root CA')[0]!;
}

function verification(socket: TLSSocket, pem: ClientAuthPem, depth: number): Verification {
  const cached = verified.get(socket);
  if (cached !== undefined && cached.id === pem.id && cached.depth === depth) return cached.v;
  const cert = socket.getPeerX509Certificate() ?? null;
  let v = NONE;
  if (cert !== null) {
    const dn = { subjectDn: rfc2253(cert.subject), issuerDn: rfc2253(cert.issuer), cert };
    const code = socket.authorized ? null : String(socket.authorizationError ?? 'UNKNOWN');
    if (code !== null) v = { status: `FAILED:${reasonOf(socket)}`, code, ...dn };
    else if (intermediates(cert, bundle(pem)) > depth) v = { status: `FAILED:${CHAIN_TOO_LONG}`, code: 'CERT_CHAIN_TOO_LONG', ...dn };
    else v = { status: 'SUCCESS', code: null, ...dn };
  }
  verified.set(socket, { id: pem.id, depth, v });
  return v;
}

/** The TLS socket a request came on (the HTTP/2 session's, or the HTTP/1.1 connection's). */
function tlsSocketOf(ctx: RequestContext): TLSSocket | undefined {
  const req = ctx.req;
  return (req.httpVersionMajor === 2 ? (req as Http2ServerRequest).stream.session?.socket : req.socket) as TLSSocket | undefined;
}

export function clientCertStep(policy: ClientCertPolicy): SyncStep {
  const matchCn = policy.matchCn === undefined ? null : compileMatchCn(policy.matchCn);
  const cn: RE2JS | null = typeof matchCn === 'string' ? null : matchCn;
  const fail = (ctx: RequestContext, reason: string): true => {
    if (policy.errorPage !== undefined) ctx.respond(302, { location: policy.errorPage });
    else ctx.respond(400, undefined, reason);
    return true;
  };
  return (ctx: RequestContext): boolean => {
    const authority = lookup.authority(policy.host);
    // A match-cn that no longer compiles (a hand-made table; compile checks them) lets nobody in.
    if (authority === undefined || typeof matchCn === 'string') {
      ctx.respond(403);
      return true;
    }
    let v = NONE;
    if (policy.verify !== 'off' && ctx.scheme === 'https') {
      const socket = tlsSocketOf(ctx);
      const stamp = socket === undefined ? undefined : lookup.stampOf(socket);
      // No stamp: the handshake asked for no certificate, which is misdirection when its SNI named another host.
      const misdirected = stamp === undefined ? typeof socket?.servername === 'string' && socket.servername !== '' : stamp.host !== policy.host || stamp.id !== authority.id;
      if (misdirected) {
        ctx.respond(421, undefined, 'Misdirected Request');
        return true;
      }
      if (socket !== undefined && stamp !== undefined) v = verification(socket, authority, policy.depth);
    }
    if (v.status === 'NONE' && policy.verify === 'on') return fail(ctx, 'No required SSL certificate was sent');
    if (v.code !== null && !(policy.verify === 'optional_no_ca' && NO_CA_ERRORS.has(v.code))) return fail(ctx, 'The SSL certificate error');
    if (cn !== null && !cn.matcher(v.subjectDn).find()) {
      ctx.respond(403, undefined, 'client certificate unauthorized');
      return true;
    }
    // The client's own never pass; ours are set where they have a value (nginx sends no empty header).
    (ctx.upstreamRemoved ??= []).push(...SSL_HEADERS);
    const set = (ctx.upstreamHeaders ??= []);
    set.push('ssl-client-verify', v.status);
    if (v.cert !== null) set.push('ssl-client-subject-dn', v.subjectDn, 'ssl-client-issuer-dn', v.issuerDn);
    if (policy.passCertificate && v.cert !== null) set.push('ssl-client-cert', escapeCertificate(v.cert.toString()));
    return false;
  };
}
