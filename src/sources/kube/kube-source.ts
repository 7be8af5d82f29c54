// Kubernetes mode: informers for Ingress, IngressClass, Service, EndpointSlice and TLS
// Secrets feed the snapshot. Nothing is reported synced before every informer has listed
// once; while the API server is unreachable, nothing changes and the last table keeps
// serving. Secret data is never logged.

import type { KubernetesObject } from '@kubernetes/client-node';
import { toKubeObject, type Snapshot } from '../../core/snapshot.ts';
import type { Kind } from '../../core/model.ts';
import type { Log, Source, SourceSink } from '../source.ts';
import { Informer, type ResourceSpec } from './informer.ts';
import type { KubeHttp } from './kube-http.ts';

export const RESOURCES: readonly (ResourceSpec & { kind: Kind })[] = [
  { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
  { kind: 'IngressClass', apiVersion: 'networking.k8s.io/v1', plural: 'ingressclasses', namespaced: false },
  { kind: 'Service', apiVersion: 'v1', plural: 'services', namespaced: true },
  // Only slices that belong to a Service (the label the EndpointSlice controller sets).
  { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true, labelSelector: 'kubernetes.io/service-name' },
  // Only TLS Secrets: the controller has no business reading any other.
  { kind: 'Secret', apiVersion: 'v1', plural: 'secrets', namespaced: true, fieldSelector: 'type=kubernetes.io/tls' },
];

export interface KubeSourceOptions {
  http: KubeHttp;
  /** Watch one namespace only; null: all. */
  namespace: string | null;
  log: Log;
}

export class KubeSource implements Source {
  private readonly options: KubeSourceOptions;
  private informers: Informer[] = [];
  private closing: Promise<void> | null = null;
  private sink: SourceSink | null = null;
  /** Secrets that annotations name, watched one by one (any type), by `namespace/name`. */
  private readonly byName = new Map<string, Informer>();

  constructor(options: KubeSourceOptions) {
    this.options = options;
  }

  private informer(spec: ResourceSpec & { kind: Kind }, namespace: string | null, sink: SourceSink): Informer {
    const { http, log } = this.options;
    const ref = (o: KubernetesObject) => ({ kind: spec.kind, namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' });
    return new Informer(http, spec, namespace, {
      upsert: (o) => {
        const checked = toKubeObject(o);
        if (checked.ok) sink.upsert(checked.object);
        else if (!checked.ignored) log.warn({ object: ref(o), code: 'GH_OBJECT_INVALID' }, `object left out: ${checked.reason}`);
      },
      remove: (o) => {
        const r = ref(o);
        sink.remove(spec.kind, spec.namespaced ? r.namespace || 'default' : '', r.name);
      },
    }, log);
  }

  async start(sink: SourceSink): Promise<void> {
    const { namespace, log } = this.options;
    this.sink = sink;
    this.informers = RESOURCES.map((spec) => this.informer(spec, namespace, sink));
    await Promise.all(this.informers.map((i) => i.start()));
    log.info({ resources: RESOURCES.map((r) => r.plural), namespace: namespace ?? '(all)' }, 'informers synced');
    sink.synced();
  }

  /**
   * Watch exactly these Secrets by name, whatever their type (proxy-ssl-secret is often
   * Opaque; the type-filtered informer would never see it). Informers for names no longer
   * listed stop; a Secret they delivered that is not kubernetes.io/tls leaves the snapshot.
   */
  watchSecrets(refs: readonly string[], snapshot: Pick<Snapshot, 'get'>): void {
    const sink = this.sink;
    if (sink === null || this.closing !== null) return;
    const wanted = new Set(refs.filter((r) => this.options.namespace === null || r.startsWith(`${this.options.namespace}/`)));
    for (const [ref, informer] of this.byName) {
      if (wanted.has(ref)) continue;
      this.byName.delete(ref);
      void informer.stop();
      const [ns = '', name = ''] = ref.split('/');
      if (snapshot.get('Secret', ns, name)?.type !== 'kubernetes.io/tls') sink.remove('Secret', ns, name);
    }
    for (const ref of wanted) {
      if (this.byName.has(ref)) continue;
      const [ns = '', name = ''] = ref.split('/');
      const informer = this.informer({ kind: 'Secret', apiVersion: 'v1', plural: 'secrets', namespaced: true, fieldSelector: `metadata.name=${name}` }, ns, sink);
      this.byName.set(ref, informer);
      void informer.start();
    }
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([...this.informers, ...this.byName.values()].map((i) => i.stop())).then(() => undefined);
    return this.closing;
  }
}
