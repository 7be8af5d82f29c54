// Worker side: SNI name → SecureContext (DESIGN.md "TLS"): an exact host first, then the
// one-label wildcard (`a.example.com` → `*.example.com`, never `a.b.example.com`), else the
// default certificate. SecureContexts are built on first use and cached by certificate id (a hash
// of the certificate and key), so a Secret that changes is served to new handshakes as soon as
// its material arrives, while connections already open keep theirs; an unchanged one is reused
// across tables. Session tickets do not depend on these contexts: OpenSSL encrypts and decrypts
// them with the listening server's own context whichever one SNI picked (checked here), so the
// worker installs the shared ticket keys there (ticket-keys.ts).

import { createSecureContext, type SecureContext } from 'node:tls';
import { LRUCache } from 'lru-cache';
import { TLS_SETTINGS, type CertificatePem, type TlsMaterial } from './tls-material.ts';

export interface CertStoreOptions {
  /** SecureContexts kept; more are rebuilt on use. */
  readonly max?: number;
  readonly onError?: (err: unknown, host: string) => void;
}

/** Lower case, one trailing dot dropped. */
function normalise(servername: string): string {
  const s = servername.endsWith('.') ? servername.slice(0, -1) : servername;
  return s.toLowerCase();
}

export class CertStore {
  private material: TlsMaterial | null = null;
  private readonly contexts: LRUCache<string, SecureContext>;
  private readonly onError: (err: unknown, host: string) => void;

  constructor(options: CertStoreOptions = {}) {
    this.contexts = new LRUCache({ max: options.max ?? 1000 });
    this.onError = options.onError ?? (() => undefined);
  }

  get ready(): boolean {
    return this.material !== null;
  }

  update(material: TlsMaterial): void {
    this.material = material;
    // Drop contexts of certificates no longer served; the rest are reused.
    for (const id of [...this.contexts.keys()]) if (!(id in material.certificates)) this.contexts.delete(id);
  }

  defaultPem(): CertificatePem | null {
    return this.material === null ? null : (this.material.certificates[this.material.defaultCertificate] ?? null);
  }

  /** The PEM of a certificate id of the material served. */
  pem(id: string): CertificatePem | undefined {
    return this.material?.certificates[id];
  }

  /** The certificate id for an SNI name. */
  idFor(servername: string): string | null {
    const m = this.material;
    if (m === null) return null;
    const name = normalise(servername);
    let id = m.hosts[name];
    if (id === undefined) {
      const dot = name.indexOf('.');
      if (dot > 0 && dot < name.length - 1) id = m.hosts[`*.${name.slice(dot + 1)}`];
    }
    return id ?? m.defaultCertificate;
  }

  /** For SNICallback; undefined: the server's own (default) context. */
  contextFor(servername: string): SecureContext | undefined {
    const id = this.idFor(servername);
    if (id === null) return undefined;
    let ctx = this.contexts.get(id);
    if (ctx !== undefined) return ctx;
    const pem = this.material!.certificates[id];
    if (pem === undefined) return undefined;
    try {
      ctx = createSecureContext({ ...TLS_SETTINGS, cert: pem.cert, key: pem.key });
    } catch (err) {
      // The control plane checked it; should OpenSSL still refuse it here, the default serves.
      this.onError(err, servername);
      return undefined;
    }
    this.contexts.set(id, ctx);
    return ctx;
  }
}
