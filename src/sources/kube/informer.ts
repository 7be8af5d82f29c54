// One list+watch of one resource, kept alive. client-node's ListWatch re-lists by itself on
// 410 Gone and reconnects after a watch times out or ends, but after a 5xx, a refused
// connection or a failed list it emits `error` and stops for good: this restarts it with
// capped exponential backoff, resuming from the last resourceVersion (a stale one earns a
// 410 and so a re-list, which reports the objects deleted meanwhile).

import { ListWatch, Watch, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import type { Log } from '../source.ts';
import type { KubeHttp } from './kube-http.ts';

export interface ResourceSpec {
  readonly kind: string;
  readonly apiVersion: string;
  /** Plural resource name: `ingresses`. */
  readonly plural: string;
  readonly namespaced: boolean;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface InformerHandlers {
  upsert(object: KubernetesObject & { apiVersion: string; kind: string }): void;
  remove(object: KubernetesObject): void;
}

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

export function resourcePath(spec: ResourceSpec, namespace: string | null): string {
  const prefix = spec.apiVersion.includes('/') ? `/apis/${spec.apiVersion}` : `/api/${spec.apiVersion}`;
  return spec.namespaced && namespace !== null ? `${prefix}/namespaces/${namespace}/${spec.plural}` : `${prefix}/${spec.plural}`;
}

export class Informer {
  private readonly lw: ListWatch<KubernetesObject>;
  private readonly spec: ResourceSpec;
  private readonly log: Log;
  private delayMs = BASE_DELAY_MS;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  private listed = false;
  private failures = 0;
  private syncedResolve!: () => void;
  /** Resolves once the first list has been delivered. */
  readonly synced = new Promise<void>((r) => (this.syncedResolve = r));

  constructor(http: KubeHttp, spec: ResourceSpec, namespace: string | null, handlers: InformerHandlers, log: Log) {
    this.spec = spec;
    this.log = log;
    const path = resourcePath(spec, namespace);
    const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const list = await http.request<KubernetesListObject<KubernetesObject>>('GET', path, {
        query: { labelSelector: spec.labelSelector, fieldSelector: spec.fieldSelector },
      });
      this.listed = true;
      return list;
    };
    // The API server leaves kind and apiVersion off list items; put them back.
    const typed = (o: KubernetesObject) => ({ ...o, apiVersion: spec.apiVersion, kind: spec.kind });
    this.lw = new ListWatch(path, new Watch(http.kc), listFn, false, spec.labelSelector, spec.fieldSelector);
    this.lw.on('add', (o) => this.healthy(() => handlers.upsert(typed(o))));
    this.lw.on('update', (o) => this.healthy(() => handlers.upsert(typed(o))));
    this.lw.on('delete', (o) => this.healthy(() => handlers.remove(o)));
    this.lw.on('error', (err) => this.failed(err));
  }

  private healthy(deliver: () => void): void {
    this.delayMs = BASE_DELAY_MS;
    deliver();
  }

  private failed(err: unknown): void {
    if (this.stopped) return; // stop() aborts the watch, which reports an AbortError
    this.failures++;
    const e = err as { message?: string; statusCode?: number; code?: unknown };
    this.log.warn({ resource: this.spec.plural, status: e.statusCode, code: e.code, err: e.message, retryInMs: this.delayMs }, 'list/watch failed; restarting it');
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.retry !== null) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, MAX_DELAY_MS);
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.run();
    }, delay);
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const failuresBefore = this.failures;
    try {
      await this.lw.start();
    } catch (err) {
      this.failed(err);
    }
    // Listed (or resumed) and watching again: the next failure starts from the base delay.
    if (this.failures === failuresBefore) this.delayMs = BASE_DELAY_MS;
    if (this.listed) this.syncedResolve();
  }

  start(): Promise<void> {
    void this.run();
    return this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    await this.lw.stop();
  }
}
