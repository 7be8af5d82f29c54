// Main thread: the proxy-ssl-secret Secrets named by a table's routes → the PEM the workers use
// for TLS to HTTPS and GRPCS backends, and conditions for the Secrets that cannot serve. Like the
// TLS Secrets (certificate-resolver.ts) this runs outside src/core, which stays pure, because the
// checks need node:crypto. ingress-nginx "Backend Certificate Authentication": the Secret holds
// ca.crt (CAs to verify the backend with) and optionally tls.crt + tls.key (the client
// certificate); any Secret type (they are often Opaque). A Secret that is missing or fails its
// checks is left out of the material: the workers answer 502 for the routes that name it rather
// than connect without the verification or client certificate that was asked for. Messages name
// Secrets and reasons, never their data.

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Condition, UpstreamPolicy, VirtualHost } from '../../core/model.ts';
import type { ErrorCode } from '../../errors.ts';
import type { TlsMaterial, UpstreamTlsPem } from '../../dataplane/tls/tls-material.ts';
import { reason, secretField, type SecretLookup } from './certificate-resolver.ts';

export interface ProxySslResolved {
  /** Secret `namespace/name` → PEM, for the Secrets that passed their checks. */
  readonly upstream: Readonly<Record<string, UpstreamTlsPem>>;
  readonly conditions: readonly Condition[];
}

type Checked = { ok: true; pem: UpstreamTlsPem } | { ok: false; code: ErrorCode; message: string };

export const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Why a ca.crt cannot serve as a CA bundle (no PEM certificate, or one OpenSSL refuses), or null. */
export function caBundleProblem(ca: string): string | null {
  const blocks = ca.match(PEM_CERT) ?? [];
  if (blocks.length === 0) return 'ca.crt holds no PEM certificate';
  try {
    for (const b of blocks) new X509Certificate(b);
    createSecureContext({ ca });
  } catch (err) {
    return `ca.crt does not parse as PEM certificates (${reason(err)})`;
  }
  return null;
}

/** Reads and checks one Secret (cached by content by the caller). */
export function checkProxySslSecret(secret: Readonly<Record<string, unknown>> | undefined): Checked {
  if (secret === undefined) return { ok: false, code: 'GH_PROXY_SSL_SECRET_NOT_FOUND', message: 'not found' };
  const ca = secretField(secret, 'ca.crt') || null;
  const cert = secretField(secret, 'tls.crt') || null;
  const key = secretField(secret, 'tls.key') || null;
  const invalid = (message: string): Checked => ({ ok: false, code: 'GH_PROXY_SSL_SECRET_INVALID', message });
  if (ca === null && cert === null && key === null) return invalid('holds neither ca.crt nor tls.crt and tls.key');
  if ((cert === null) !== (key === null)) return invalid(cert === null ? 'has tls.key but no tls.crt' : 'has tls.crt but no tls.key');
  const caProblem = ca === null ? null : caBundleProblem(ca);
  if (caProblem !== null) return invalid(caProblem);
  if (cert !== null && key !== null) {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (err) {
      return invalid(`tls.crt does not parse as a PEM certificate (${reason(err)})`);
    }
    try {
      if (!x509.checkPrivateKey(createPrivateKey(key))) return invalid('tls.key is not the private key of the certificate in tls.crt');
      createSecureContext({ cert, key });
    } catch (err) {
      return invalid(`tls.key does not parse as an unencrypted PEM private key (${reason(err)})`);
    }
  }
  return { ok: true, pem: { ca, cert, key } };
}

/** Every upstream policy of the table: of the routes, and of the hosts' default backends. */
function* policies(hosts: readonly VirtualHost[]): Generator<UpstreamPolicy> {
  for (const vh of hosts) {
    for (const r of vh.routes) if (r.upstream !== undefined) yield r.upstream;
    if (vh.defaultUpstream !== undefined) yield vh.defaultUpstream;
  }
}

export class ProxySslResolver {
  private readonly secret: SecretLookup;
  /** Checks by Secret content; entries not used by the last resolve are dropped. */
  private checked = new Map<string, Checked>();

  constructor(secret: SecretLookup) {
    this.secret = secret;
  }

  resolve(hosts: readonly VirtualHost[]): ProxySslResolved {
    const upstream: Record<string, UpstreamTlsPem> = {};
    const conditions: Condition[] = [];
    const used = new Map<string, Checked>();
    const reported = new Set<string>();
    const byRef = new Map<string, Checked>();
    for (const policy of policies(hosts)) {
      const tls = policy.tls;
      if (tls === null || tls.secret === null) continue;
      const ref = tls.secret.ref;
      let c = byRef.get(ref);
      if (c === undefined) {
        const [namespace = '', name = ''] = ref.split('/');
        const s = this.secret(namespace, name);
        const key = s === undefined ? '' : createHash('sha256').update(JSON.stringify([s.data ?? null, s.stringData ?? null])).digest('hex');
        c = used.get(key) ?? this.checked.get(key) ?? checkProxySslSecret(s);
        used.set(key, c);
        byRef.set(ref, c);
      }
      if (c.ok) upstream[ref] = c.pem;
      let problem: { code: ErrorCode; message: string } | null = null;
      if (!c.ok) problem = c;
      else if (tls.verify && c.pem.ca === null) problem = { code: 'GH_PROXY_SSL_SECRET_INVALID', message: 'has no ca.crt, and proxy-ssl-verify is on' };
      if (problem === null) continue;
      const key = `${tls.secret.ingress} ${tls.secret.field} ${ref} ${problem.code}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const [namespace = '', name = ''] = tls.secret.ingress.split('/');
      conditions.push({
        ref: { kind: 'Ingress', namespace, name },
        code: problem.code,
        field: tls.secret.field,
        message: `Secret ${ref}: ${problem.message}; requests to the Ingress's ${policy.protocol} backends answer 502`,
      });
    }
    this.checked = used;
    return { upstream, conditions };
  }
}

/** The material with the upstream PEM added, and a fingerprint that changes with it. */
export function withUpstream(material: TlsMaterial, upstream: Readonly<Record<string, UpstreamTlsPem>>): TlsMaterial {
  return withSecretData(material, 'upstream', upstream);
}

/** The material with one field of Secret data (by key, sorted) added, and a fingerprint that changes with it; as it was when there is none. */
export function withSecretData<F extends 'upstream' | 'basicAuth' | 'clientAuth'>(material: TlsMaterial, field: F, values: NonNullable<TlsMaterial[F]>): TlsMaterial {
  const keys = Object.keys(values).sort();
  if (keys.length === 0) return material;
  const sorted: Record<string, unknown> = {};
  for (const k of keys) sorted[k] = values[k];
  const fp = createHash('sha256').update(material.fingerprint).update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
  return { ...material, [field]: sorted, fingerprint: fp };
}
