// The basic-auth family (ingress-nginx "Authentication",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#authentication,
// internal/ingress/annotations/auth):
// - `auth-type`: `basic`. ingress-nginx also takes `digest` (nginx's third-party digest module);
//   refused here (GH_AUTH_TYPE_UNSUPPORTED): its user file entries (MD5 of user:realm:password)
//   are password-equivalent, and over TLS it adds nothing to basic.
// - `auth-secret`: the Secret, `name` in the Ingress's namespace or `namespace/name` (ingress-nginx
//   splits it with cache.SplitMetaNamespaceKey). Another namespace is refused, as ingress-nginx
//   does with allow-cross-namespace-resources at its default, false.
// - `auth-secret-type`: `auth-file` (default: the key `auth` holds an htpasswd file) or `auth-map`
//   (each key a user, its value the hash).
// - `auth-realm`: the realm of `WWW-Authenticate: Basic realm="…"`; default empty, as ingress-nginx
//   writes `auth_basic ""`. Printable ASCII without `"` and `\`, so it is quoted as written
//   (RFC 9110 §5.6.4 quoted-string); ingress-nginx's validator (CharsWithSpace) takes a subset.
// ingress-nginx matches auth-type and auth-secret-type with unanchored regexes and serves a
// location without authentication when auth-type is missing; here each value must be exactly one
// of the words, and auth-secret, auth-secret-type or auth-realm without auth-type is refused, so
// nobody believes a route is protected when it is not. The Secret itself is read and checked by
// the control plane (control/basic-auth-resolver.ts), never here.

import type { BasicAuthPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';

// Namespace: a DNS-1123 label; Secret name: a DNS-1123 subdomain.
const REF = /^(?:([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/)?([a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?)$/;
/** Printable ASCII but `"` and `\`. */
const REALM = /^[\x20\x21\x23-\x5b\x5d-\x7e]{0,256}$/;
const SECRET_TYPES = ['auth-file', 'auth-map'] as const;

/** The Ingress's basic authentication; undefined when auth-type is not set. */
export function readBasicAuth(ing: KubeObject): AnnotationResult<BasicAuthPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const type = readAnnotation(ing.metadata, 'auth-type');
  const secret = readAnnotation(ing.metadata, 'auth-secret');
  const secretType = readAnnotation(ing.metadata, 'auth-secret-type');
  const realm = readAnnotation(ing.metadata, 'auth-realm');
  if (type === undefined) {
    for (const v of [secret, secretType, realm]) {
      if (v !== undefined) problems.push({ key: v.key, message: `${v.key} is set but auth-type is not; set auth-type: basic (ingress-nginx would serve the Ingress without authentication)` });
    }
    return problems.length > 0 ? { ok: false, problems } : { ok: true, value: undefined };
  }
  const t = type.value.trim();
  if (t === 'digest') {
    problems.push({ key: type.key, code: 'GH_AUTH_TYPE_UNSUPPORTED', message: `${type.key}: "digest" authentication is not supported; use "basic" over HTTPS, or auth-url` });
  } else if (t !== 'basic') {
    problems.push({ key: type.key, message: `${type.key}: ${JSON.stringify(type.value)} is not an authentication type (expected "basic")` });
  }
  let ref: string | null = null;
  if (secret === undefined) {
    problems.push({ key: type.key, message: `${type.key}: basic authentication needs auth-secret, the Secret with the users` });
  } else {
    const m = REF.exec(secret.value.trim());
    const own = ing.metadata.namespace;
    if (m === null) problems.push({ key: secret.key, message: `${secret.key}: ${JSON.stringify(secret.value)} is not a Secret (expected "name", or "namespace/name" in the Ingress's namespace)` });
    else if ((m[1] ?? own) !== own) problems.push({ key: secret.key, message: `${secret.key}: Secret ${m[1]!}/${m[2]!} is in another namespace; only Secrets of the Ingress's namespace (${own}) may be named` });
    else ref = `${own}/${m[2]!}`;
  }
  let kind: BasicAuthPolicy['secretType'] = 'auth-file';
  if (secretType !== undefined) {
    const k = SECRET_TYPES.find((s) => s === secretType.value.trim());
    if (k === undefined) problems.push({ key: secretType.key, message: `${secretType.key}: ${JSON.stringify(secretType.value)} is not a Secret type (expected "auth-file" or "auth-map")` });
    else kind = k;
  }
  if (realm !== undefined && !REALM.test(realm.value)) {
    problems.push({ key: realm.key, message: `${realm.key}: ${JSON.stringify(realm.value)} is not a realm (expected at most 256 printable ASCII characters, without '"' or '\\')` });
  }
  if (problems.length > 0 || ref === null) return { ok: false, problems };
  const field = `metadata.annotations[${JSON.stringify(secret!.key)}]`;
  return { ok: true, value: { secret: { ref, ingress: `${ing.metadata.namespace}/${ing.metadata.name}`, field }, secretType: kind, realm: realm?.value ?? '' } };
}

/** Which shipped users a policy's step reads (TlsMaterial.basicAuth): the Secret and how its data is read. */
export function basicAuthKey(policy: Pick<BasicAuthPolicy, 'secret' | 'secretType'>): string {
  return `${policy.secret.ref} ${policy.secretType}`;
}
