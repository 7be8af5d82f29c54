// Kubernetes mode ACME storage: the certificate goes into the Secret the Ingress names (created,
// or updated in place keeping its other keys, labels and annotations; optimistic concurrency on
// resourceVersion), and the account key into an Opaque Secret in the controller's namespace. Only
// the leader calls it. RBAC: secrets get, create, update (deploy/rbac.yaml).

import type { KubeObject } from '../../core/snapshot.ts';
import type { CertificatePem } from '../../dataplane/tls/tls-material.ts';
import { KubeApiError, type KubeHttp } from '../../sources/kube/kube-http.ts';
import { ACME_NAMES_ANNOTATION, AcmeStorageError, certificateSecret, type AcmeStorage } from './acme-storage.ts';
import { TLS_SECRET_TYPE } from './certificate-state.ts';

interface RawSecret {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string>; [k: string]: unknown };
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [k: string]: unknown;
}

const ACCOUNT_KEY = 'account.key';

function secretPath(namespace: string, name?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

async function getSecret(http: KubeHttp, namespace: string, name: string): Promise<RawSecret | null> {
  try {
    return await http.request<RawSecret>('GET', secretPath(namespace, name), { timeoutMs: 10_000 });
  } catch (err) {
    if (err instanceof KubeApiError && err.statusCode === 404) return null;
    throw err;
  }
}

export class KubeAcmeStorage implements AcmeStorage {
  private readonly http: KubeHttp;
  private readonly namespace: string;
  private readonly accountSecret: string;

  /** `namespace`/`accountSecret`: where the account key is kept (the controller's namespace). */
  constructor(http: KubeHttp, namespace: string, accountSecret: string) {
    this.http = http;
    this.namespace = namespace;
    this.accountSecret = accountSecret;
  }

  load(): Promise<KubeObject[]> {
    return Promise.resolve([]);
  }

  async accountKey(generate: () => Promise<string>): Promise<string> {
    const where = `Secret ${this.namespace}/${this.accountSecret}`;
    try {
      const read = async () => {
        const s = await getSecret(this.http, this.namespace, this.accountSecret);
        const b64 = s?.data?.[ACCOUNT_KEY];
        return b64 ? Buffer.from(b64, 'base64').toString('utf8') : null;
      };
      const stored = await read();
      if (stored !== null) return stored;
      const key = await generate();
      try {
        await this.http.request('POST', secretPath(this.namespace), {
          body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: this.accountSecret, namespace: this.namespace }, type: 'Opaque', data: { [ACCOUNT_KEY]: Buffer.from(key).toString('base64') } },
          timeoutMs: 10_000,
        });
        return key;
      } catch (err) {
        // Another leader stored one first: use that account.
        if (err instanceof KubeApiError && err.statusCode === 409) {
          const theirs = await read();
          if (theirs !== null) return theirs;
        }
        throw err;
      }
    } catch (err) {
      throw new AcmeStorageError(`ACME account key in ${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  async writeCertificate(namespace: string, name: string, pem: CertificatePem, names: readonly string[]): Promise<null> {
    const fresh = certificateSecret(namespace, name, pem, names);
    const data = fresh.data as Record<string, string>;
    try {
      for (let attempt = 0; ; attempt++) {
        const current = await getSecret(this.http, namespace, name);
        try {
          if (current === null) {
            await this.http.request('POST', secretPath(namespace), { body: fresh, timeoutMs: 10_000 });
          } else {
            // The type of a Secret cannot change; an Opaque Secret of that name is the user's.
            if ((current.type ?? 'Opaque') !== TLS_SECRET_TYPE) throw new Error(`it exists with type ${JSON.stringify(current.type ?? 'Opaque')}, and an ACME certificate needs ${TLS_SECRET_TYPE}`);
            const { stringData: _s, ...rest } = current;
            await this.http.request('PUT', secretPath(namespace, name), {
              body: {
                ...rest,
                apiVersion: 'v1',
                kind: 'Secret',
                metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, [ACME_NAMES_ANNOTATION]: names.join(',') } },
                data: { ...current.data, ...data },
              },
              timeoutMs: 10_000,
            });
          }
          return null;
        } catch (err) {
          // Someone wrote it between our read and write (409 on resourceVersion, or AlreadyExists): read again.
          if (err instanceof KubeApiError && err.statusCode === 409 && attempt < 3) continue;
          throw err;
        }
      }
    } catch (err) {
      throw new AcmeStorageError(`cannot write Secret ${namespace}/${name}: ${(err as Error).message}`, { cause: err });
    }
  }
}
