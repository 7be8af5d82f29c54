// The client-certificate family (ingress-nginx "Client Certificate Authentication",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#client-certificate-authentication,
// internal/ingress/annotations/authtls/main.go):
// - `auth-tls-secret`: "namespace/name" of a Secret whose ca.crt holds the CA bundle (any type).
// - `auth-tls-verify-client`: on | off | optional | optional_no_ca (default on), nginx's
//   ssl_verify_client.
// - `auth-tls-verify-depth`: nginx's ssl_verify_depth, default 1; 0 reads as 1 (ingress-nginx).
// - `auth-tls-error-page`: where a failed verification is redirected (302) instead of answering 400.
// - `auth-tls-pass-certificate-to-upstream`: send the client's certificate upstream (ssl-client-cert).
// - `auth-tls-match-cn`: a regex starting "CN=" the client's subject DN must match, else 403.
// ingress-nginx applies them per server (host): the first Ingress of a host that sets them wins
// (compile.ts). It falls back to a default on a bad verify-client or verify-depth, and ignores
// the others without auth-tls-secret; here each is refused with a condition. auth-tls-error-page
// takes only absolute http(s) URLs: nginx serves a path value as an internal redirect (no new
// verification), which has no counterpart here, and a redirect to a path of the same host would
// loop; an `@name` location needs a snippet.

import { RE2JS } from 're2js';
import type { ClientCertPolicy, ClientCertVerify } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, readBool, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';
import { readSecretRef } from './secret-ref.ts';

/** The policy before compile puts it on a host. */
export type ClientCertAnnotations = Omit<ClientCertPolicy, 'host'>;

const VERIFY = new Set<string>(['on', 'off', 'optional', 'optional_no_ca']);
const DEFAULT_DEPTH = 1;
const MAX_DEPTH = 100;
// ingress-nginx's redirectRegex, less the path-only and `@name` forms, with a scheme required.
const ERROR_PAGE = /^https?:\/\/[A-Za-z0-9\-.]+(:\d{1,5})?(\/[A-Za-z0-9\-_.]+)*\/?$/;
/** The largest RE2 program an auth-tls-match-cn regex may compile to (see core/path-regex.ts). */
const MAX_MATCH_CN_PROGRAM = 250;
const OTHERS = ['auth-tls-verify-client', 'auth-tls-verify-depth', 'auth-tls-error-page', 'auth-tls-pass-certificate-to-upstream', 'auth-tls-match-cn'];

/** Compiles an auth-tls-match-cn value (RE2: linear time, no backtracking), or says why not. */
export function compileMatchCn(value: string): RE2JS | string {
  if (!value.startsWith('CN=')) return 'does not start with "CN="';
  let re: RE2JS;
  try {
    re = RE2JS.compile(value);
  } catch (err) {
    return `is not an RE2 regular expression (${err instanceof Error ? err.message.replace(/\p{Cc}/gu, ' ') : 'invalid'})`;
  }
  if (re.programSize() > MAX_MATCH_CN_PROGRAM) return `compiles to ${re.programSize()} instructions, more than ${MAX_MATCH_CN_PROGRAM}`;
  return re;
}

export function readClientCert(ing: KubeObject): AnnotationResult<ClientCertAnnotations | undefined> {
  const problems: AnnotationProblem[] = [];
  const secret = readSecretRef(ing, 'auth-tls-secret', problems);
  if (secret === undefined && problems.length === 0) {
    // ingress-nginx ignores the others without a Secret; refused, so nobody believes they apply.
    const stray = OTHERS.map((n) => readAnnotation(ing.metadata, n)).filter((v) => v !== undefined);
    if (stray.length === 0) return { ok: true, value: undefined };
    return { ok: false, problems: stray.map((v) => ({ key: v.key, message: `${v.key} is set without auth-tls-secret, which names the CA bundle; nothing would check client certificates` })) };
  }

  let verify: ClientCertVerify = 'on';
  const v = readAnnotation(ing.metadata, 'auth-tls-verify-client');
  if (v !== undefined) {
    if (VERIFY.has(v.value)) verify = v.value as ClientCertVerify;
    else problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not "on", "off", "optional" or "optional_no_ca"` });
  }

  let depth = DEFAULT_DEPTH;
  const d = readAnnotation(ing.metadata, 'auth-tls-verify-depth');
  if (d !== undefined) {
    if (/^\d{1,3}$/.test(d.value) && Number(d.value) <= MAX_DEPTH) depth = Number(d.value) === 0 ? DEFAULT_DEPTH : Number(d.value);
    else problems.push({ key: d.key, message: `${d.key}: ${JSON.stringify(d.value)} is not a whole number from 0 to ${MAX_DEPTH}` });
  }

  let errorPage: string | undefined;
  const e = readAnnotation(ing.metadata, 'auth-tls-error-page');
  if (e !== undefined) {
    if (ERROR_PAGE.test(e.value)) errorPage = e.value;
    else problems.push({ key: e.key, message: `${e.key}: ${JSON.stringify(e.value)} is not an absolute http:// or https:// URL of a page (like "https://example.com/cert-error.html")` });
  }

  const passCertificate = readBool(ing.metadata, 'auth-tls-pass-certificate-to-upstream', false, problems);

  let matchCn: string | undefined;
  const m = readAnnotation(ing.metadata, 'auth-tls-match-cn');
  if (m !== undefined) {
    const re = compileMatchCn(m.value);
    if (typeof re === 'string') problems.push({ key: m.key, message: `${m.key}: ${JSON.stringify(m.value)} ${re}` });
    else matchCn = m.value;
  }

  if (problems.length > 0 || secret === undefined) return { ok: false, problems };
  return { ok: true, value: { secret, verify, depth, passCertificate, ...(errorPage !== undefined ? { errorPage } : {}), ...(matchCn !== undefined ? { matchCn } : {}) } };
}

/** One Ingress's auth-tls-* and the hosts of its rules, in age order (compile). */
export interface ClientCertCandidate {
  readonly ingress: KubeObject;
  readonly hosts: readonly string[];
  readonly clientCert: ClientCertAnnotations;
}

/** The settings that must agree for two Ingresses of a host to share them. */
function settings(c: ClientCertAnnotations): string {
  return JSON.stringify([c.secret.ref, c.verify, c.depth, c.errorPage ?? null, c.passCertificate, c.matchCn ?? null]);
}

/**
 * The client-certificate policy of each host: the oldest Ingress naming the host that sets
 * auth-tls-* wins, for every path of the host, whichever Ingress routes it (ingress-nginx:
 * server.CertificateAuth is the first Ingress's with a CA, and the server block enforces it). A
 * younger Ingress with other settings gets GH_CLIENT_CERT_CONFLICT, and is served under the winner's.
 */
export function clientCertsByHost(candidates: readonly ClientCertCandidate[], conflict: (ing: KubeObject, field: string, message: string) => void): Map<string, ClientCertPolicy> {
  const out = new Map<string, ClientCertPolicy>();
  for (const c of candidates) {
    for (const host of c.hosts) {
      const won = out.get(host);
      if (won === undefined) out.set(host, { host, ...c.clientCert });
      else if (settings(won) !== settings(c.clientCert)) {
        conflict(c.ingress, c.clientCert.secret.field, `host ${JSON.stringify(host)} already has client-certificate settings from Ingress ${won.secret.ingress}, which is older; those apply to all its paths, not this Ingress's`);
      }
    }
  }
  return out;
}
