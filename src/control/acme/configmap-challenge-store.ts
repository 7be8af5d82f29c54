// Kubernetes mode: ACME HTTP-01 tokens shared by every replica through one ConfigMap in the
// controller's namespace (data: token → key authorization; tokens are base64url, valid ConfigMap
// keys). The leader, the only replica that orders, writes the whole set it has pending (so tokens
// a previous leader left behind go with its first write); every replica watches the ConfigMap and
// hands its contents to its workers. The leader also serves its own pending tokens at once,
// without waiting for its watch. RBAC: configmaps get/list/watch (cluster role), create, and
// update on this name (deploy/rbac.yaml).

import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeApiError, type KubeHttp } from '../../sources/kube/kube-http.ts';
import { Informer } from '../../sources/kube/informer.ts';
import type { Log } from '../../sources/source.ts';
import type { ChallengeStore, Tokens } from './challenge-store.ts';

interface RawConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

export interface ConfigMapChallengeStoreOptions {
  http: KubeHttp;
  namespace: string;
  name: string;
  log: Log;
}

export class ConfigMapChallengeStore implements ChallengeStore {
  readonly shared = true;
  private readonly o: ConfigMapChallengeStoreOptions;
  private readonly path: string;
  private own: Record<string, string> = {};
  private watched: Record<string, string> = {};
  private onChange: ((tokens: Tokens) => void) | null = null;
  private informer: Informer | null = null;
  private writes: Promise<void> = Promise.resolve();

  constructor(options: ConfigMapChallengeStoreOptions) {
    this.o = options;
    this.path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/configmaps`;
  }

  private emit(): void {
    this.onChange?.({ ...this.watched, ...this.own });
  }

  start(onChange: (tokens: Tokens) => void): Promise<void> {
    this.onChange = onChange;
    this.informer = new Informer(this.o.http, { kind: 'ConfigMap', apiVersion: 'v1', plural: 'configmaps', namespaced: true, fieldSelector: `metadata.name=${this.o.name}` }, this.o.namespace, {
      upsert: (cm) => {
        const data = (cm as RawConfigMap).data ?? {};
        this.watched = Object.fromEntries(Object.entries(data).filter(([, v]) => typeof v === 'string'));
        this.emit();
      },
      remove: () => {
        this.watched = {};
        this.emit();
      },
    }, this.o.log);
    // Not awaited: while the API server is unreachable the workers answer what the leader has.
    void this.informer.start();
    this.emit();
    return Promise.resolve();
  }

  add(tokens: Tokens): Promise<void> {
    this.own = { ...this.own, ...tokens };
    this.emit();
    return this.write();
  }

  remove(tokens: readonly string[]): Promise<void> {
    const next = { ...this.own };
    for (const t of tokens) delete next[t];
    this.own = next;
    this.emit();
    return this.write();
  }

  /** Writes are serialised; each writes the whole pending set as it is when it runs. */
  private write(): Promise<void> {
    const run = this.writes.then(() => this.writeNow());
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async writeNow(): Promise<void> {
    const data = { ...this.own };
    const url = `${this.path}/${encodeURIComponent(this.o.name)}`;
    for (let attempt = 0; ; attempt++) {
      let current: RawConfigMap | null;
      try {
        current = await this.o.http.request<RawConfigMap>('GET', url, { timeoutMs: 10_000 });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.statusCode === 404)) throw err;
        current = null;
      }
      try {
        if (current === null) {
          await this.o.http.request('POST', this.path, {
            body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: this.o.name, namespace: this.o.namespace, labels: { 'app.kubernetes.io/managed-by': 'gatehouse' } }, data },
            timeoutMs: 10_000,
          });
        } else {
          await this.o.http.request('PUT', url, { body: { ...current, apiVersion: 'v1', kind: 'ConfigMap', data }, timeoutMs: 10_000 });
        }
        return;
      } catch (err) {
        if (err instanceof KubeApiError && err.statusCode === 409 && attempt < 3) continue;
        throw err;
      }
    }
  }

  async close(): Promise<void> {
    this.onChange = null;
    await this.informer?.stop();
  }
}
