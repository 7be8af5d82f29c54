// Main thread: the auth-tls-secret Secrets of a table's hosts → the CA bundles the workers ask
// client certificates with, and conditions for the Secrets that cannot serve. As the proxy-ssl
// Secrets (proxy-ssl-resolver.ts), outside src/core, which stays pure: the checks need
// node:crypto. The Secret holds ca.crt (any Secret type, as ingress-nginx); a Secret that is
// missing, has no ca.crt, or whose ca.crt does not parse is left out of the material, and the
// workers answer 403 for its host, as ingress-nginx does with an AuthTLSError (its server block
// says `return 403`; it serves the host without authentication only when ca.crt is missing, which
// here is refused too). Messages name Secrets and reasons, never their data.

import { createHash } from 'node:crypto';
import type { ClientCertPolicy, Condition, VirtualHost } from '../../core/model.ts';
import type { ErrorCode } from '../../errors.ts';
import type { ClientAuthPem } from '../../dataplane/tls/tls-material.ts';
import { secretField, type SecretLookup } from './certificate-resolver.ts';
import { caBundleProblem, PEM_CERT } from './proxy-ssl-resolver.ts';

export interface ClientCertResolved {
  /** Host → CA bundle (null: a host without client certificates under a wildcard that has them). */
  readonly clientAuth: Readonly<Record<string, ClientAuthPem | null>>;
  readonly conditions: readonly Condition[];
}

type Checked = { ok: true; ca: string; id: string } | { ok: false; code: ErrorCode; message: string };

/** Reads and checks one Secret. */
export function checkClientCertSecret(secret: Readonly<Record<string, unknown>> | undefined): Checked {
  if (secret === undefined) return { ok: false, code: 'GH_CLIENT_CERT_SECRET_NOT_FOUND', message: 'not found' };
  const ca = secretField(secret, 'ca.crt');
  if (ca === undefined || ca === '') return { ok: false, code: 'GH_CLIENT_CERT_SECRET_INVALID', message: 'has no ca.crt' };
  const problem = caBundleProblem(ca);
  if (problem !== null) return { ok: false, code: 'GH_CLIENT_CERT_SECRET_INVALID', message: problem };
  // The certificates alone, one a line: OpenSSL reads no further than an END line run into the next BEGIN.
  const pem = `${(ca.match(PEM_CERT) ?? []).join('\n')}\n`;
  return { ok: true, ca: pem, id: createHash('sha256').update(pem).digest('hex') };
}

/** The one-label wildcard that would cover `host` by SNI, or null. */
function wildcardOf(host: string): string | null {
  const dot = host.indexOf('.');
  return host.startsWith('*.') || dot <= 0 ? null : `*.${host.slice(dot + 1)}`;
}

export class ClientCertResolver {
  private readonly secret: SecretLookup;
  /** Checks by Secret content; entries not used by the last resolve are dropped. */
  private checked = new Map<string, Checked>();

  constructor(secret: SecretLookup) {
    this.secret = secret;
  }

  /** `hosts`: those of the table that may have a policy (all of them will do); `all`: every host of the table. */
  resolve(hosts: readonly VirtualHost[], all: readonly VirtualHost[] = hosts): ClientCertResolved {
    const clientAuth: Record<string, ClientAuthPem | null> = {};
    const conditions: Condition[] = [];
    const used = new Map<string, Checked>();
    const withPolicy = new Set<string>();
    for (const vh of hosts) {
      // Every route of the host carries the host's policy; defaultPolicies always does.
      const policy: ClientCertPolicy | undefined = vh.defaultPolicies?.clientCert;
      if (policy === undefined) continue;
      withPolicy.add(vh.host);
      const [namespace = '', name = ''] = policy.secret.ref.split('/');
      const s = this.secret(namespace, name);
      const key = s === undefined ? '' : createHash('sha256').update(JSON.stringify([s.data ?? null, s.stringData ?? null])).digest('hex');
      const c = used.get(key) ?? this.checked.get(key) ?? checkClientCertSecret(s);
      used.set(key, c);
      if (c.ok) {
        clientAuth[vh.host] = { ca: c.ca, id: c.id, request: policy.verify !== 'off', host: policy.host };
        continue;
      }
      const [ins, iname = ''] = policy.secret.ingress.split('/');
      conditions.push({
        ref: { kind: 'Ingress', namespace: ins ?? '', name: iname },
        code: c.code,
        field: policy.secret.field,
        message: `Secret ${policy.secret.ref}: ${c.message}; requests to host ${JSON.stringify(vh.host)} answer 403`,
      });
    }
    // A host without client certificates keeps them out of its handshakes even under a wildcard that asks.
    const wildcardAsks = Object.entries(clientAuth).some(([host, pem]) => host.startsWith('*.') && pem);
    for (const vh of wildcardAsks ? all : []) {
      const wildcard = wildcardOf(vh.host);
      if (!withPolicy.has(vh.host) && wildcard !== null && clientAuth[wildcard]) clientAuth[vh.host] = null;
    }
    this.checked = used;
    return { clientAuth, conditions };
  }
}
