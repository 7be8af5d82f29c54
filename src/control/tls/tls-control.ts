// Main thread: everything TLS the pool ships to its workers. Resolves each table's bindings into
// certificates (CertificateResolver), keeps the session-ticket keys and rotates them, re-checks
// when the next served certificate expires, and reports their conditions (the controller logs them). Changes that do
// not come with a table (a rotation, an expiry) are handed to `onChange` for every worker.

import type { Condition, RouteTable } from '../../core/model.ts';
import type { Log } from '../../observability/log.ts';
import { CertificateResolver, type SecretLookup, type ServedCertificate } from './certificate-resolver.ts';
import { ProxySslResolver, withSecretData, withUpstream } from './proxy-ssl-resolver.ts';
import { BasicAuthResolver } from '../basic-auth-resolver.ts';
import { ClientCertResolver } from './client-cert-resolver.ts';
import { SecretHosts } from './secret-hosts.ts';
import { TicketKeyRotation } from '../../dataplane/tls/ticket-keys.ts';
import type { TlsMaterial } from '../../dataplane/tls/tls-material.ts';

export interface TlsControlOptions {
  readonly secret: SecretLookup;
  /** Counts the changes to Secrets (Snapshot.revision('Secret')): a table whose bindings and Secrets stay is not checked again. */
  readonly secretRevision?: () => number;
  readonly log: Log;
  /** A rotation (ticketKeys) or an expiry re-check (tls) changed what the workers serve. */
  readonly onChange: (update: { tls?: TlsMaterial; ticketKeys?: readonly Buffer[] }) => void;
  /** Session-ticket key rotation; the previous key stays valid for one more interval. Default 1 h. */
  readonly ticketKeyRotationMs?: number;
}

/** setTimeout's limit; a later expiry is re-checked then, and scheduled again. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What of a table TLS depends on: the SNI bindings, the default certificate, the routes' proxy-ssl-secret, the hosts' auth-tls-secret. */
type TlsTable = Pick<RouteTable, 'tls' | 'defaultCertificate'> & Partial<Pick<RouteTable, 'hosts'>>;

export class TlsControl {
  private readonly resolver: CertificateResolver;
  private readonly proxySsl: ProxySslResolver;
  private readonly basicAuth: BasicAuthResolver;
  private readonly clientCert: ClientCertResolver;
  private readonly secretHosts = new SecretHosts();
  private readonly rotation: TicketKeyRotation;
  private readonly log: Log;
  private readonly onChange: TlsControlOptions['onChange'];
  private table: TlsTable | null = null;
  private last: TlsMaterial | null = null;
  private current: readonly Condition[] = [];
  private servedCertificates: readonly ServedCertificate[] = [];
  private expiryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: TlsControlOptions) {
    this.resolver = new CertificateResolver(options.secret, Date.now, options.secretRevision);
    this.proxySsl = new ProxySslResolver(options.secret);
    this.basicAuth = new BasicAuthResolver(options.secret);
    this.clientCert = new ClientCertResolver(options.secret);
    this.log = options.log;
    this.onChange = options.onChange;
    this.rotation = new TicketKeyRotation((keys) => {
      this.log.info({ keys: keys.length }, 'TLS session-ticket keys rotated');
      this.onChange({ ticketKeys: keys });
    }, options.ticketKeyRotationMs);
  }

  /**
   * The certificates for `table`, and the proxy-ssl-secret PEM its routes name (TLS to HTTPS and
   * GRPCS backends); conditions for the Secrets that cannot serve.
   */
  async resolve(table: TlsTable): Promise<TlsMaterial> {
    this.table = table;
    const served = await this.resolver.resolve(table);
    // The hosts that name Secrets, found from the last table's by the hosts that changed.
    const named = this.secretHosts.update(table.hosts ?? []);
    const upstream = this.proxySsl.resolve(named);
    const users = this.basicAuth.resolve(named);
    const clientCert = this.clientCert.resolve(named, table.hosts ?? []);
    const material = withSecretData(withSecretData(withUpstream(served.material, upstream.upstream), 'basicAuth', users.basicAuth), 'clientAuth', clientCert.clientAuth);
    const conditions = [...served.conditions, ...upstream.conditions, ...users.conditions, ...clientCert.conditions];
    const nextExpiry = served.nextExpiry;
    this.servedCertificates = served.served;
    this.current = conditions;
    this.last = material;
    this.schedule(nextExpiry);
    return material;
  }

  material(): TlsMaterial | null {
    return this.last;
  }

  /** The Secrets that serve certificates now, with hosts and expiry. */
  served(): readonly ServedCertificate[] {
    return this.servedCertificates;
  }

  ticketKeys(): readonly Buffer[] {
    return this.rotation.current();
  }

  conditions(): readonly Condition[] {
    return this.current;
  }

  /** When the earliest served certificate expires, check again: its hosts fall back to the default. */
  private schedule(nextExpiry: number | null): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (nextExpiry === null || this.closed) return;
    const delay = Math.min(Math.max(nextExpiry - Date.now() + 1000, 1000), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      const table = this.table;
      if (table === null) return;
      const previous = this.last?.fingerprint;
      this.resolve(table).then(
        (material) => {
          if (material.fingerprint !== previous && this.table === table) this.onChange({ tls: material });
        },
        (err: unknown) => this.log.error({ err }, 'TLS re-check failed'),
      );
    }, delay);
    this.expiryTimer.unref();
  }

  /** Safe to call twice. */
  close(): void {
    this.closed = true;
    this.rotation.close();
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
  }
}
