// Main thread: the table's TLS bindings → the certificates the workers serve, and conditions for
// the Secrets that cannot serve. Runs in the control plane but outside src/core, which stays pure:
// the checks need node:crypto. A Secret serves only when it is of type kubernetes.io/tls, its
// tls.crt and tls.key parse (PEM), the key is the certificate's (X509Certificate.checkPrivateKey)
// and the certificate has not expired; otherwise its hosts get the default certificate and the
// Ingress gets a condition (ingress-nginx does the same, logging instead). Messages name Secrets
// and reasons, never their data.

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Condition, RouteTable, TlsBinding } from '../../core/model.ts';
import type { KubeObject } from '../../core/snapshot.ts';
import type { ErrorCode } from '../../errors.ts';
import { generateSelfSigned } from './self-signed.ts';
import { TLS_SETTINGS, type CertificatePem, type TlsMaterial } from '../../dataplane/tls/tls-material.ts';

export type SecretLookup = (namespace: string, name: string) => KubeObject | undefined;

export interface Resolved {
  readonly material: TlsMaterial;
  readonly conditions: readonly Condition[];
  /** Epoch ms of the earliest notAfter among the certificates served (the next re-check), or null. */
  readonly nextExpiry: number | null;
  /** The Secrets that serve, with their hosts and expiry (the dashboard; no certificate data). */
  readonly served: readonly ServedCertificate[];
}

export interface ServedCertificate {
  /** `namespace/name` of the Secret. */
  readonly secret: string;
  /** The SNI hosts it serves; empty for --default-ssl-certificate alone. */
  readonly hosts: readonly string[];
  readonly default: boolean;
  /** Epoch ms. */
  readonly notAfter: number;
}

type Checked = { ok: true; id: string; pem: CertificatePem; notAfter: number } | { ok: false; code: ErrorCode; message: string };

/** The crypto checks of one certificate and key, which do not depend on the clock. */
type Parsed = { ok: true; notAfter: number } | { ok: false; code: ErrorCode; message: string };

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** One key of a Secret as text: stringData wins, as the API server merges it over data (base64). */
export function secretField(secret: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const s = (secret.stringData as Record<string, unknown> | undefined)?.[key];
  if (typeof s === 'string') return s;
  const d = (secret.data as Record<string, unknown> | undefined)?.[key];
  return typeof d === 'string' ? Buffer.from(d, 'base64').toString('utf8') : undefined;
}

/** An error's reason for a condition; OpenSSL's reasons ("PEM routines::no start line") carry no key material. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function certificateId(pem: CertificatePem): string {
  return createHash('sha256').update(pem.cert).update('\0').update(pem.key).digest('hex');
}

export class CertificateResolver {
  private readonly secret: SecretLookup;
  private readonly now: () => number;
  /** Crypto checks by certificate id; entries not used by the last resolve are dropped. */
  private parsed = new Map<string, Parsed>();
  /** What each Secret object holds (its PEM and their id, or why it holds none): read once per object, not on every resolve. */
  private readonly read = new WeakMap<KubeObject, { ok: true; id: string; pem: CertificatePem } | { ok: false; code: ErrorCode; message: string }>();
  private selfSigned: Promise<CertificatePem> | null = null;

  private readonly revision: (() => number) | undefined;
  /** The last result, and what it was resolved from: kept while those stay and no served certificate expired. */
  private kept: { revision: number; table: Pick<RouteTable, 'tls' | 'defaultCertificate'>; result: Resolved } | null = null;

  /** `revision`: counts the changes to Secrets (Snapshot.revision); with it, a table with the same bindings under the same count gives the last result. */
  constructor(secret: SecretLookup, now: () => number = Date.now, revision?: () => number) {
    this.secret = secret;
    this.now = now;
    this.revision = revision;
  }

  /** The generated default certificate (made on first use). */
  fallback(): Promise<CertificatePem> {
    return (this.selfSigned ??= generateSelfSigned());
  }

  async resolve(table: Pick<RouteTable, 'tls' | 'defaultCertificate'>): Promise<Resolved> {
    const revision = this.revision?.();
    const kept = this.kept;
    if (kept !== null && kept.revision === revision && kept.table.defaultCertificate === table.defaultCertificate && (kept.result.nextExpiry === null || this.now() < kept.result.nextExpiry) && kept.table.tls.length === table.tls.length && kept.table.tls.every((b, i) => sameBinding(b, table.tls[i]!))) return kept.result;
    const result = await this.resolveAll(table);
    this.kept = revision === undefined ? null : { revision, table, result };
    return result;
  }

  private async resolveAll(table: Pick<RouteTable, 'tls' | 'defaultCertificate'>): Promise<Resolved> {
    const conditions: Condition[] = [];
    const certificates: Record<string, CertificatePem> = {};
    /** Host → certificate id, in table.tls order. */
    const entries: [string, string][] = [];
    const used = new Map<string, Parsed>();
    const byRef = new Map<string, Checked>();
    let nextExpiry: number | null = null;
    const served = new Map<string, { secret: string; hosts: string[]; default: boolean; notAfter: number }>();
    const serve = (c: Checked & { ok: true }, ref: string, host: string | null) => {
      const s = served.get(ref) ?? { secret: ref, hosts: [], default: false, notAfter: c.notAfter };
      served.set(ref, s);
      if (host === null) s.default = true;
      else s.hosts.push(host);
      certificates[c.id] = c.pem;
      if (nextExpiry === null || c.notAfter < nextExpiry) nextExpiry = c.notAfter;
      return c.id;
    };
    const check = (ref: string): Checked => {
      let c = byRef.get(ref);
      if (c === undefined) byRef.set(ref, (c = this.check(ref, used)));
      return c;
    };

    let defaultId: string | null = null;
    if (table.defaultCertificate !== null) {
      const c = check(table.defaultCertificate);
      const [namespace = '', name = ''] = table.defaultCertificate.split('/');
      if (c.ok) defaultId = serve(c, table.defaultCertificate, null);
      else conditions.push({ ref: { kind: 'Secret', namespace, name }, code: c.code, field: '', message: `--default-ssl-certificate ${table.defaultCertificate}: ${c.message}; the generated self-signed certificate serves instead` });
    }
    if (defaultId === null) {
      const pem = await this.fallback();
      defaultId = certificateId(pem);
      certificates[defaultId] = pem;
    }

    const reported = new Set<string>();
    for (const b of table.tls) {
      if (b.secret === null) continue;
      const c = check(b.secret);
      if (c.ok) {
        entries.push([b.host, serve(c, b.secret, b.host)]);
        continue;
      }
      const key = `${b.ingress} ${b.field} ${b.secret}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const [namespace = '', name = ''] = b.ingress.split('/');
      conditions.push({ ref: { kind: 'Ingress', namespace, name }, code: c.code, field: b.field, message: `Secret ${b.secret}: ${c.message}; its hosts get the default certificate` });
    }
    this.parsed = used;

    const ids = Object.keys(certificates).sort();
    // By host: table.tls is (compile sorts it), so they are sorted only when not.
    if (!entries.every(([host], i) => i === 0 || entries[i - 1]![0] < host)) entries.sort(([a], [b]) => (a < b ? -1 : 1));
    const hosts = Object.fromEntries(entries);
    const fingerprint = createHash('sha256').update(JSON.stringify([ids, entries, defaultId])).digest('hex').slice(0, 16);
    return { material: { certificates, hosts, defaultCertificate: defaultId, fingerprint }, conditions, nextExpiry, served: [...served.values()].sort((a, b) => (a.secret < b.secret ? -1 : 1)) };
  }

  /** Reads and checks the Secret `namespace/name`. */
  private check(ref: string, used: Map<string, Parsed>): Checked {
    const [namespace = '', name = ''] = ref.split('/');
    const secret = this.secret(namespace, name);
    if (secret === undefined) return { ok: false, code: 'GH_TLS_SECRET_NOT_FOUND', message: 'not found' };
    let read = this.read.get(secret);
    if (read === undefined) this.read.set(secret, (read = readTlsSecret(secret)));
    if (!read.ok) return read;
    const { id, pem } = read;
    let p = used.get(id) ?? this.parsed.get(id);
    if (p === undefined) p = parse(pem);
    used.set(id, p);
    if (!p.ok) return p;
    if (p.notAfter <= this.now()) return { ok: false, code: 'GH_TLS_CERT_EXPIRED', message: `the certificate expired at ${new Date(p.notAfter).toISOString()}` };
    return { ok: true, id, pem, notAfter: p.notAfter };
  }
}

/** A Secret's certificate and key, and their id; or why it has none. */
function readTlsSecret(secret: KubeObject): { ok: true; id: string; pem: CertificatePem } | { ok: false; code: ErrorCode; message: string } {
  if (secret.type !== TLS_SECRET_TYPE) return { ok: false, code: 'GH_TLS_SECRET_INVALID', message: `type is ${JSON.stringify(secret.type ?? 'Opaque')}, not ${TLS_SECRET_TYPE}` };
  const cert = secretField(secret, 'tls.crt');
  const key = secretField(secret, 'tls.key');
  if (cert === undefined || cert === '') return { ok: false, code: 'GH_TLS_SECRET_INVALID', message: 'has no tls.crt' };
  if (key === undefined || key === '') return { ok: false, code: 'GH_TLS_SECRET_INVALID', message: 'has no tls.key' };
  const pem = { cert, key };
  return { ok: true, id: certificateId(pem), pem };
}

/** The same binding: mostly the same object (compile keeps those of the Ingresses a change did not touch). */
function sameBinding(a: TlsBinding, b: TlsBinding): boolean {
  return a === b || (a.host === b.host && a.secret === b.secret && a.ingress === b.ingress && a.field === b.field);
}

function parse(pem: CertificatePem): Parsed {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem.cert);
  } catch (err) {
    return { ok: false, code: 'GH_TLS_SECRET_INVALID', message: `tls.crt does not parse as a PEM certificate (${reason(err)})` };
  }
  let key;
  try {
    key = createPrivateKey(pem.key);
  } catch (err) {
    return { ok: false, code: 'GH_TLS_SECRET_INVALID', message: `tls.key does not parse as an unencrypted PEM private key (${reason(err)})` };
  }
  if (!x509.checkPrivateKey(key)) return { ok: false, code: 'GH_TLS_KEY_MISMATCH', message: 'tls.key is not the private key of the certificate in tls.crt' };
  try {
    // What the workers will do with it: a chain that OpenSSL refuses must not reach them.
    createSecureContext({ ...TLS_SETTINGS, cert: pem.cert, key: pem.key });
  } catch (err) {
    return { ok: false, code: 'GH_TLS_SECRET_INVALID', message: `the certificate and key are refused by OpenSSL (${reason(err)})` };
  }
  return { ok: true, notAfter: x509.validToDate.getTime() };
}
